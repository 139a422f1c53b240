/*
 * log_files_test.c — torchrun's -r/-t values (every form and every
 * malformed one) and the log directory layout of log_files.c.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <muster/error.h>

#include "worker/log_files.h"

static void
test_single_values (void **state)
{
  (void)state;
  mu_std_spec_t s;
  char err[400];
  for (unsigned v = 0; v <= 3; v++)
    {
      char txt[2] = { (char)('0' + v), '\0' };
      assert_int_equal (mu_std_spec_parse (txt, &s, err, sizeof err), 0);
      assert_int_equal (mu_std_spec_mask (&s, 0), v);
      assert_int_equal (mu_std_spec_mask (&s, 4000), v); /* every rank */
    }
  assert_int_equal (mu_std_spec_parse (NULL, &s, err, sizeof err), 0);
  assert_int_equal (mu_std_spec_mask (&s, 0), MU_STD_NONE);
  assert_int_equal (mu_std_spec_parse ("", &s, err, sizeof err), 0);
  assert_int_equal (mu_std_spec_mask (&s, 1), MU_STD_NONE);
  assert_int_equal (mu_std_spec_mask (NULL, 1), MU_STD_NONE);
}

static void
test_maps (void **state)
{
  (void)state;
  mu_std_spec_t s;
  char err[400];
  assert_int_equal (mu_std_spec_parse ("0:1,1:2", &s, err, sizeof err), 0);
  assert_int_equal (mu_std_spec_mask (&s, 0), MU_STD_OUT);
  assert_int_equal (mu_std_spec_mask (&s, 1), MU_STD_ERR);
  assert_int_equal (mu_std_spec_mask (&s, 2), MU_STD_NONE); /* not named */
  assert_int_equal (mu_std_spec_parse ("0:3,1:0,2:1,3:2", &s, err, sizeof err), 0);
  assert_int_equal (mu_std_spec_mask (&s, 0), MU_STD_ALL);
  assert_int_equal (mu_std_spec_mask (&s, 3), MU_STD_ERR);
  assert_int_equal (mu_std_spec_parse ("12:3", &s, err, sizeof err), 0);
  assert_int_equal (mu_std_spec_mask (&s, 12), MU_STD_ALL);
  assert_int_equal (mu_std_spec_mask (&s, 1), MU_STD_NONE);
  assert_int_equal (mu_std_spec_parse ("0:1,0:2", &s, err, sizeof err), 0);
  assert_int_equal (mu_std_spec_mask (&s, 0), MU_STD_ERR); /* the last */
  assert_int_equal (s.n, 1);
}

static void
test_malformed (void **state)
{
  (void)state;
  static const char *const bad[]
      = { "4", "a", "-1", "01", "3 ", "0:", ":1", "0:1,", ",0:1", "0:4",
          "x:1", "-1:1", "0:1:2", "0:1,,1:2", "0=1", "99999999999:1", NULL };
  mu_std_spec_t s;
  char err[400];
  for (int i = 0; bad[i]; i++)
    {
      err[0] = '\0';
      if (mu_std_spec_parse (bad[i], &s, err, sizeof err) != MUSTER_EINVAL)
        fail_msg ("'%s' was accepted", bad[i]);
      assert_non_null (strstr (err, "expected 0 (none), 1 (stdout)"));
      assert_int_equal (mu_std_spec_mask (&s, 0), MU_STD_NONE);
    }
  /* too many ranks in a map */
  char big[8192];
  size_t n = 0;
  for (int r = 0; r <= MU_STD_MAP_MAX; r++)
    n += (size_t)snprintf (big + n, sizeof big - n, "%s%d:1", r ? "," : "", r);
  assert_int_equal (mu_std_spec_parse (big, &s, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "at most 256 local ranks"));
}

static int
is_dir (const char *p)
{
  struct stat st;
  return stat (p, &st) == 0 && S_ISDIR (st.st_mode);
}

static void
test_layout (void **state)
{
  (void)state;
  char tmp[64] = "/tmp/mu_logs_XXXXXX";
  assert_non_null (mkdtemp (tmp));
  char base[128], job[4096], err[4600];
  snprintf (base, sizeof base, "%s/a/b", tmp); /* made, parents too */
  assert_int_equal (mu_log_job_dir (base, "team/job7", job, sizeof job, err,
                                    sizeof err), 0);
  char want[160];
  snprintf (want, sizeof want, "%s/team_job7_", base);
  assert_int_equal (strncmp (job, want, strlen (want)), 0);
  assert_int_equal (strlen (job), strlen (want) + 6); /* mkdtemp's suffix */
  assert_true (is_dir (job));
  /* a second launcher with the same id gets its own directory */
  char job2[4096];
  assert_int_equal (mu_log_job_dir (base, "team/job7", job2, sizeof job2, err,
                                    sizeof err), 0);
  assert_string_not_equal (job, job2);

  int fds[2];
  char dir[4400], p[4500];
  assert_int_equal (mu_log_open_worker (job, 2, 3, MU_STD_OUT, fds, dir,
                                        sizeof dir, err, sizeof err), 0);
  snprintf (p, sizeof p, "%s/attempt_2/3", job);
  assert_string_equal (dir, p);
  assert_true (fds[0] >= 0);
  assert_int_equal (fds[1], -1);
  assert_int_equal (write (fds[0], "x\n", 2), 2);
  close (fds[0]);
  snprintf (p, sizeof p, "%s/attempt_2/3/stdout.log", job);
  assert_int_equal (access (p, F_OK), 0);
  snprintf (p, sizeof p, "%s/attempt_2/3/stderr.log", job);
  assert_int_not_equal (access (p, F_OK), 0);
  /* again (a re-formed gang, same attempt): truncated */
  assert_int_equal (mu_log_open_worker (job, 2, 3, MU_STD_ALL, fds, dir,
                                        sizeof dir, err, sizeof err), 0);
  struct stat st;
  assert_int_equal (fstat (fds[0], &st), 0);
  assert_int_equal (st.st_size, 0);
  assert_true (fds[1] >= 0);
  close (fds[0]);
  close (fds[1]);
  /* no stream: the directory only (for TORCHELASTIC_ERROR_FILE) */
  assert_int_equal (mu_log_open_worker (job, 0, 0, MU_STD_NONE, fds, dir,
                                        sizeof dir, err, sizeof err), 0);
  assert_int_equal (fds[0], -1);
  assert_int_equal (fds[1], -1);
  assert_true (is_dir (dir));

  /* errors name the directory */
  char file[128];
  snprintf (file, sizeof file, "%s/file", tmp);
  int fd = open (file, O_WRONLY | O_CREAT, 0600);
  close (fd);
  assert_true (mu_log_job_dir (file, "j", job, sizeof job, err, sizeof err) < 0);
  assert_non_null (strstr (err, "cannot make the log directory"));
  assert_non_null (strstr (err, file));
  assert_true (mu_log_open_worker (file, 0, 0, MU_STD_OUT, fds, dir,
                                   sizeof dir, err, sizeof err) < 0);
  assert_non_null (strstr (err, "cannot make"));
  assert_int_equal (fds[0], -1);

  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmp);
  assert_int_equal (system (cmd), 0);
}

static void
test_tmp_default (void **state)
{
  (void)state;
  char tmp[64] = "/tmp/mu_logs_XXXXXX";
  assert_non_null (mkdtemp (tmp));
  setenv ("TMPDIR", tmp, 1);
  char job[4096], err[4600], want[128];
  assert_int_equal (mu_log_job_dir (NULL, NULL, job, sizeof job, err,
                                    sizeof err), 0);
  snprintf (want, sizeof want, "%s/muster_", tmp);
  assert_int_equal (strncmp (job, want, strlen (want)), 0);
  assert_non_null (strstr (job + strlen (want), "/none_")); /* torchrun's id */
  unsetenv ("TMPDIR");
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf '%s'", tmp);
  assert_int_equal (system (cmd), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_single_values),
    cmocka_unit_test (test_maps),
    cmocka_unit_test (test_malformed),
    cmocka_unit_test (test_layout),
    cmocka_unit_test (test_tmp_default),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
