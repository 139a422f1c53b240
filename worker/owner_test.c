/*
 * owner_test.c — who a job's workers run as: the agent's policy (absent
 * owner = the agent's own user; root runs anyone's job; another agent
 * refuses other users' jobs with a sentence naming both uids), the user
 * lookup (an unknown uid is an error naming it), and, when the test runs
 * as root, the switch in a child (groups, gid, uid, and no way back).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <muster/error.h>

#include "worker/agent_int.h"
#include "worker/owner.h"

static mu_start_t
start_of (uint64_t uid, const char *name)
{
  mu_start_t s;
  memset (&s, 0, sizeof s);
  s.owner_uid = uid;
  s.owner = (char *)name;
  return s;
}

static void
test_policy (void **state)
{
  (void)state;
  char why[256];
  uint32_t run = 7;
  /* No owner named (owner_uid decodes as 0 when absent): as the agent. */
  mu_start_t s = start_of (0, NULL);
  assert_false (mu_owner_named (&s));
  assert_int_equal (mu_owner_policy (1000, &s, &run, why, sizeof why), 0);
  assert_int_equal (run, 1000);
  assert_int_equal (mu_owner_policy (0, &s, &run, why, sizeof why), 0);
  assert_int_equal (run, 0);
  /* A root agent runs the owner's job as the owner, root's as root. */
  s = start_of (1001, "alice");
  assert_true (mu_owner_named (&s));
  assert_int_equal (mu_owner_policy (0, &s, &run, why, sizeof why), 0);
  assert_int_equal (run, 1001);
  s = start_of (0, "root");
  assert_int_equal (mu_owner_policy (0, &s, &run, why, sizeof why), 0);
  assert_int_equal (run, 0);
  /* Another agent: its own user's jobs only. */
  s = start_of (1000, "bob");
  assert_int_equal (mu_owner_policy (1000, &s, &run, why, sizeof why), 0);
  assert_int_equal (run, 1000);
  s = start_of (1001, "alice");
  assert_int_equal (mu_owner_policy (1000, &s, &run, why, sizeof why),
                    MUSTER_EPERM);
  assert_string_equal (why, "this agent runs as uid 1000 and cannot run jobs "
                            "of uid 1001 (alice)");
  s = start_of (0, "root");
  assert_int_equal (mu_owner_policy (1000, &s, &run, why, sizeof why),
                    MUSTER_EPERM);
  assert_string_equal (why, "this agent runs as uid 1000 and cannot run jobs "
                            "of uid 0 (root)");
  s = start_of (1002, NULL);
  assert_int_equal (mu_owner_policy (1000, &s, &run, why, sizeof why),
                    MUSTER_EPERM);
  assert_non_null (strstr (why, "uid 1002 (unknown user)"));
  s = start_of (UINT64_C (1) << 40, "x");
  assert_int_equal (mu_owner_policy (0, &s, &run, why, sizeof why),
                    MUSTER_EPERM);
}

static void
test_lookup (void **state)
{
  (void)state;
  mu_owner_t *o = malloc (sizeof *o);
  char err[256];
  assert_int_equal (mu_owner_lookup (0, o, err, sizeof err), 0);
  assert_string_equal (o->name, "root");
  assert_int_equal (o->uid, 0);
  assert_true (o->home[0] == '/');
  assert_true (o->shell[0] == '/');
  assert_true (o->ngroups >= 1);
  int has_primary = 0;
  for (int i = 0; i < o->ngroups; i++)
    has_primary |= o->groups[i] == (gid_t)o->gid;
  assert_true (has_primary);
  /* An unknown uid is an error naming it. */
  assert_int_equal (mu_owner_lookup (3999999, o, err, sizeof err),
                    MUSTER_ENOTFOUND);
  assert_string_equal (err, "no user with uid 3999999 (no passwd entry)");
  free (o);
}

/* As root: a child becomes "nobody" (or whichever user has uid 65534) and
 * can never become root again. */
static void
test_become (void **state)
{
  (void)state;
  if (geteuid () != 0)
    {
      print_message ("not root: the switch is not tested here\n");
      return;
    }
  mu_owner_t *o = malloc (sizeof *o);
  char err[256];
  if (mu_owner_lookup (65534, o, err, sizeof err) != 0)
    {
      print_message ("no user 65534: %s\n", err);
      free (o);
      return;
    }
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      if (mu_owner_become (o, err, sizeof err) != 0)
        _exit (10);
      if (getuid () != 65534 || geteuid () != 65534 || getgid () != o->gid
          || getegid () != o->gid)
        _exit (11);
      if (setuid (0) == 0 || setgid (0) == 0)
        _exit (12);
      gid_t g[MU_OWNER_MAX_GROUPS];
      int n = getgroups (MU_OWNER_MAX_GROUPS, g);
      if (n != o->ngroups)
        _exit (13);
      for (int i = 0; i < n; i++)
        if (g[i] == 0 && o->gid != 0)
          _exit (14); /* root's groups were dropped */
      _exit (0);
    }
  int st;
  assert_int_equal (waitpid (pid, &st, 0), pid);
  assert_true (WIFEXITED (st));
  assert_int_equal (WEXITSTATUS (st), 0);
  free (o);
}

static void
test_user_id (void **state)
{
  (void)state;
  uint32_t uid = 9;
  assert_int_equal (mu_agent_ipc_auth_uid ("1000", &uid), 0);
  assert_int_equal (uid, 1000);
  assert_int_equal (mu_agent_ipc_auth_uid ("0", &uid), 0);
  assert_int_equal (uid, 0);
  assert_int_equal (mu_agent_ipc_auth_uid ("", &uid), -1);
  assert_int_equal (mu_agent_ipc_auth_uid (NULL, &uid), -1);
  assert_int_equal (mu_agent_ipc_auth_uid ("12x", &uid), -1);
  assert_int_equal (mu_agent_ipc_auth_uid ("-1", &uid), -1);
  assert_int_equal (mu_agent_ipc_auth_uid ("99999999999", &uid), -1);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_policy),
    cmocka_unit_test (test_lookup),
    cmocka_unit_test (test_become),
    cmocka_unit_test (test_user_id),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
