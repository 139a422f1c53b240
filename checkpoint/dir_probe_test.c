/*
 * dir_probe_test.c — mu_ckpt_dir_probe: a writable directory passes and is
 * left as it was (made if missing, no probe file left behind); a path
 * through a regular file, a read-only mount and a full filesystem each
 * fail with the errno and a sentence naming the directory.  The two mount
 * cases need CAP_SYS_ADMIN (tests run as root here) and are skipped, with
 * a message, where mount(2) is refused.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/dir_probe.h"
#include "checkpoint/test_util.h"

static int
setup (void **state)
{
  *state = tu_mkdtemp ("probe");
  return *state ? 0 : -1;
}

static int
teardown (void **state)
{
  char *dir = *state;
  tu_rmtree (&dir);
  return 0;
}

static int
entries (const char *dir)
{
  DIR *d = opendir (dir);
  assert_non_null (d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    n += strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0;
  closedir (d);
  return n;
}

static void
test_writable (void **state)
{
  char *dir = tu_join (*state, "a/b/ck");
  char err[512] = "x";
  assert_int_equal (mu_ckpt_dir_probe (dir, (uid_t)-1, (gid_t)-1, err,
                                       sizeof err), 0);
  assert_string_equal (err, "");
  struct stat st;
  assert_int_equal (stat (dir, &st), 0);
  assert_true (S_ISDIR (st.st_mode));
  assert_int_equal (entries (dir), 0); /* the probe file is gone */
  /* twice is fine (an existing directory) */
  assert_int_equal (mu_ckpt_dir_probe (dir, (uid_t)-1, (gid_t)-1, err,
                                       sizeof err), 0);
  free (dir);
}

static void
test_not_a_directory (void **state)
{
  assert_int_equal (tu_write (*state, "file", "x", 1), 0);
  char *dir = tu_join (*state, "file/ck");
  char err[512];
  assert_int_equal (mu_ckpt_dir_probe (dir, (uid_t)-1, (gid_t)-1, err,
                                       sizeof err), -ENOTDIR);
  assert_non_null (strstr (err, dir));
  assert_non_null (strstr (err, "ENOTDIR"));
  assert_int_equal (mu_ckpt_dir_probe ("", (uid_t)-1, (gid_t)-1, err,
                                       sizeof err), MUSTER_EINVAL);
  free (dir);
}

/* Mount a 64 KiB tmpfs at root/m; false (the test skips) if refused. */
static bool
small_tmpfs (const char *root, char **mnt)
{
  *mnt = tu_join (root, "m");
  assert_int_equal (mkdir (*mnt, 0700), 0);
  if (mount ("tmpfs", *mnt, "tmpfs", 0, "size=64k") != 0)
    {
      print_message ("mount(2) refused (%s): skipped\n", strerror (errno));
      free (*mnt);
      return false;
    }
  return true;
}

static void
test_read_only (void **state)
{
  char *mnt;
  if (!small_tmpfs (*state, &mnt))
    skip ();
  assert_int_equal (mount ("tmpfs", mnt, "tmpfs", MS_REMOUNT | MS_RDONLY,
                           "size=64k"), 0);
  char err[512];
  int rc = mu_ckpt_dir_probe (mnt, (uid_t)-1, (gid_t)-1, err, sizeof err);
  umount (mnt);
  assert_int_equal (rc, -EROFS);
  assert_non_null (strstr (err, mnt));
  assert_non_null (strstr (err, "(EROFS)"));
  free (mnt);
}

static void
test_full (void **state)
{
  char *mnt;
  if (!small_tmpfs (*state, &mnt))
    skip ();
  /* Fill it. */
  char *fill = tu_join (mnt, "fill");
  FILE *f = fopen (fill, "wb");
  assert_non_null (f);
  static char block[4096];
  while (fwrite (block, 1, sizeof block, f) == sizeof block)
    ;
  fclose (f);
  char err[512];
  int rc = mu_ckpt_dir_probe (mnt, (uid_t)-1, (gid_t)-1, err, sizeof err);
  int left = entries (mnt);
  umount (mnt);
  assert_int_equal (rc, -ENOSPC);
  assert_non_null (strstr (err, "(ENOSPC)"));
  assert_int_equal (left, 1); /* only "fill": the probe file was removed */
  free (fill);
  free (mnt);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_writable, setup, teardown),
    cmocka_unit_test_setup_teardown (test_not_a_directory, setup, teardown),
    cmocka_unit_test_setup_teardown (test_read_only, setup, teardown),
    cmocka_unit_test_setup_teardown (test_full, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
