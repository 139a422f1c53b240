/*
 * run_opts_test.c — every flag of `muster run`, torchrun spellings, and
 * every usage error with the sentence it must produce.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <muster/error.h>

#include "launcher/run_opts.h"

static int
parse (mu_run_opts_t *o, char *err, const char *const *args)
{
  /* o->argv points into this array after parsing: it must outlive the
   * call (tests run one at a time). */
  static char *argv[64];
  int argc = 0;
  while (args[argc] != NULL)
    {
      argv[argc] = (char *)args[argc];
      argc++;
    }
  argv[argc] = NULL;
  return mu_run_opts_parse (argc, argv, o, err, 256);
}

static void
test_defaults (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "./train", "--lr", "0.1", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_int_equal (o.min_nodes, 1);
  assert_int_equal (o.max_nodes, 1);
  assert_int_equal (o.nproc, 1);
  assert_null (o.endpoint);
  assert_int_equal (o.argc, 3);
  assert_string_equal (o.argv[0], "./train");
  assert_string_equal (o.argv[1], "--lr"); /* the program's own flags */
  assert_int_equal (o.last_call_ms, 1000);
  assert_int_equal (o.join_timeout_ms, 600000);
}

static void
test_torchrun_flags (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "--nnodes=2:8", "--nproc_per_node", "4",
                      "--rdzv_endpoint", "node0:29400", "--rdzv-id=job7",
                      "--max_restarts", "3", "--rdzv-backend", "c10d",
                      "--rdzv-conf", "join_timeout=90,last_call_timeout=2",
                      "--", "python3", "train.py", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_int_equal (o.min_nodes, 2);
  assert_int_equal (o.max_nodes, 8);
  assert_int_equal (o.nproc, 4);
  assert_string_equal (o.endpoint, "node0:29400");
  assert_string_equal (o.rdzv_id, "job7");
  assert_int_equal (o.max_restarts, 3);
  assert_int_equal (o.join_timeout_ms, 90000);
  assert_int_equal (o.last_call_ms, 2000);
  assert_int_equal (o.argc, 2);
  assert_string_equal (o.argv[0], "python3");
}

static void
test_muster_flags (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "--nnodes", "3", "--rdzv-endpoint", "127.0.0.1:5000",
                      "--host", "--node-id", "n1", "--role", "ps",
                      "--last-call", "250ms", "--join-timeout", "1.5m",
                      "--connect-timeout", "2s", "--grace", "3s",
                      "--elastic-mode", "in-place", "--quiet", "--no-python",
                      "-m", "prog", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_int_equal (o.min_nodes, 3);
  assert_int_equal (o.max_nodes, 3);
  assert_int_equal (o.host, 1);
  assert_string_equal (o.node_id, "n1");
  assert_string_equal (o.role, "ps");
  assert_int_equal (o.last_call_ms, 250);
  assert_int_equal (o.join_timeout_ms, 90000);
  assert_int_equal (o.connect_timeout_ms, 2000);
  assert_int_equal (o.grace_ms, 3000);
  assert_string_equal (o.elastic_mode, "in-place");
  assert_int_equal (o.quiet, 1);
  assert_int_equal (o.no_python, 1);
  assert_int_equal (o.module, 1);
}

static void
expect_error (const char *const *args, const char *needle)
{
  mu_run_opts_t o;
  char err[256] = "";
  assert_int_equal (parse (&o, err, args), MUSTER_EINVAL);
  if (strstr (err, needle) == NULL)
    fail_msg ("error '%s' does not mention '%s'", err, needle);
}

static void
test_errors (void **state)
{
  (void)state;
  const char *a1[] = { "--bogus", "x", NULL };
  expect_error (a1, "unknown option '--bogus'");
  const char *a2[] = { "--nnodes", "3:2", "x", NULL };
  expect_error (a2, "--nnodes '3:2'");
  const char *a3[] = { "--nnodes", "x", "prog", NULL };
  expect_error (a3, "--nnodes 'x'");
  const char *a4[] = { "--nnodes", "0:2", "prog", NULL };
  expect_error (a4, "--nnodes '0:2'");
  const char *a5[] = { "--nproc-per-node", NULL };
  expect_error (a5, "needs a value");
  const char *a6[] = { "--nproc-per-node", "2", "--", NULL };
  expect_error (a6, "no program given");
  const char *a7[] = { "--rdzv-endpoint", "hostonly", "prog", NULL };
  expect_error (a7, "expected HOST:PORT");
  const char *a8[] = { "--rdzv-endpoint", "h:99999", "prog", NULL };
  expect_error (a8, "expected HOST:PORT");
  const char *a9[] = { "--host", "prog", NULL };
  expect_error (a9, "--host needs --rdzv-endpoint");
  const char *a10[] = { "--nnodes", "2", "prog", NULL };
  expect_error (a10, "give --rdzv-endpoint");
  const char *a11[] = { "--elastic-mode", "sometimes", "prog", NULL };
  expect_error (a11, "expected restart or in-place");
  const char *a12[] = { "--last-call", "soon", "prog", NULL };
  expect_error (a12, "--last-call: 'soon' is not a duration: give seconds "
                     "(600), or a number with ms, s, m or h (500ms, 10m)");
  const char *a13[] = { "--standalone", "--rdzv-endpoint", "h:1", "p", NULL };
  expect_error (a13, "exclude each other");
  const char *a14[] = { "--rdzv-conf", "bogus", "p", NULL };
  expect_error (a14, "'bogus' is not key=value"); /* other keys: notes */
  const char *a15[] = { "--rdzv-backend", "etcd", "p", NULL };
  expect_error (a15, "--rdzv-backend 'etcd'");
  const char *a16[] = { "--quiet=yes", "p", NULL };
  expect_error (a16, "takes no value");
  const char *a17[] = { "", NULL };
  expect_error (a17, "empty");
  const char *a18[] = { "--rdzv-endpoint", "hostonly", "prog", NULL };
  expect_error (a18, "--rdzv-endpoint 'hostonly': no port; expected HOST:PORT "
                     "or tcp://HOST:PORT");
  const char *a19[] = { "--rdzv-endpoint", "udp://h:1", "prog", NULL };
  expect_error (a19, "tcp://HOST:PORT");
  const char *a20[] = { "--rdzv-endpoint", "::1:5", "prog", NULL };
  expect_error (a20, "brackets");
  const char *a21[] = { "--ctl-bind", "nowhere", "prog", NULL };
  expect_error (a21, "--ctl-bind 'nowhere'");
  const char *a22[] = { "--join-timeout", "abc", "prog", NULL };
  expect_error (a22, "--join-timeout: 'abc' is not a duration: give seconds");
  const char *a23[] = { "--rdzv-conf", "join_timeout=soon", "prog", NULL };
  expect_error (a23, "--rdzv-conf join_timeout: 'soon' is not a duration");
  const char *a24[] = { "--preempt-exit-code", "256", "prog", NULL };
  expect_error (a24, "--preempt-exit-code '256': expected 0..255");
  const char *a25[] = { "--python", "", "prog.py", NULL };
  expect_error (a25, "--python needs");
}

/* One duration rule for every flag: a bare number is seconds. */
static void
test_bare_seconds (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "--join-timeout", "600", "--connect-timeout", "3",
                      "--last-call", "0.5", "--grace", "2", "--preempt-grace",
                      "1.5m", "--ckpt-every", "1h", "--ckpt-timeout", "90",
                      "--progress-timeout", "30", "prog", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_int_equal (o.join_timeout_ms, 600000);
  assert_int_equal (o.connect_timeout_ms, 3000);
  assert_int_equal (o.last_call_ms, 500);
  assert_int_equal (o.grace_ms, 2000);
  assert_int_equal (o.preempt_grace_ms, 90000);
  assert_int_equal (o.ckpt_every_ms, 3600000);
  assert_int_equal (o.ckpt_timeout_ms, 90000);
  assert_int_equal (o.progress_timeout_ms, 30000);
  const char *b[] = { "--rdzv-conf", "join_timeout=10m,last_call_timeout=500ms",
                      "prog", NULL };
  assert_int_equal (parse (&o, err, b), 0);
  assert_int_equal (o.join_timeout_ms, 600000);
  assert_int_equal (o.last_call_ms, 500);
}

/* --outage-window: a duration, more than 0; unset = the default (0). */
static void
test_outage_window (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "prog", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_int_equal (o.outage_ms, 0);
  const char *b[] = { "--outage-window", "3", "prog", NULL };
  assert_int_equal (parse (&o, err, b), 0);
  assert_int_equal (o.outage_ms, 3000);
  const char *c[] = { "--outage-window", "0", "prog", NULL };
  assert_int_equal (parse (&o, err, c), MUSTER_EINVAL);
  assert_non_null (strstr (err, "--outage-window must be more than 0"));
  const char *d[] = { "--outage-window", "soon", "prog", NULL };
  assert_int_equal (parse (&o, err, d), MUSTER_EINVAL);
  assert_non_null (strstr (err, "--outage-window: 'soon' is not a duration"));
}

/* --python and --preempt-exit-code. */
static void
test_python_and_exit_code (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "prog", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_null (o.python);
  assert_int_equal (o.preempt_exit_code, 75);
  const char *b[] = { "--python", "/usr/bin/python3", "--preempt-exit-code",
                      "0", "train.py", NULL };
  assert_int_equal (parse (&o, err, b), 0);
  assert_string_equal (o.python, "/usr/bin/python3");
  assert_int_equal (o.preempt_exit_code, 0);
}

/* --rdzv-endpoint in both forms; the rest of muster sees HOST:PORT. */
static void
test_endpoint_forms (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "--rdzv-endpoint", "tcp://node0:29400", "prog", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_string_equal (o.endpoint, "node0:29400");
  const char *b[] = { "--rdzv-endpoint=[::1]:29400", "--ctl-bind",
                      "tcp://127.0.0.1:0", "prog", NULL };
  assert_int_equal (parse (&o, err, b), 0);
  assert_string_equal (o.endpoint, "[::1]:29400");
  assert_string_equal (o.ctl_bind, "tcp://127.0.0.1:0");
}


/* torchrun 1.13's other flags: honoured, or accepted with a note. */
static void
test_torchrun_rest (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "--monitor_interval", "5", "--start_method", "spawn",
                      "--run_path", "--log_dir", "/tmp/logs", "-r", "3",
                      "--tee=0:1,1:2", "--local_addr", "10.0.0.7",
                      "--rdzv_conf", "close_timeout=60,keep_alive_interval=5",
                      "--standalone", "--role", "trainer", "--no_python",
                      "--module", "pkg.train", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_int_equal (o.run_path, 1);
  assert_string_equal (o.log_dir, "/tmp/logs");
  assert_string_equal (o.redirects, "3");
  assert_string_equal (o.tee, "0:1,1:2");
  assert_string_equal (o.advertise, "10.0.0.7");
  assert_string_equal (o.role, "trainer");
  assert_int_equal (o.standalone, 1);
  assert_int_equal (o.nnotes, 4);
  assert_string_equal (o.notes[0], "--monitor-interval 5: ignored (the agent "
                       "hears of a worker's exit the moment it happens; it "
                       "does not poll)");
  assert_string_equal (o.notes[1], "--start-method spawn: ignored (muster "
                       "starts every worker with fork+exec through "
                       "muster-exec)");
  assert_string_equal (o.notes[2], "--rdzv-conf close_timeout=60: ignored "
                       "(not a setting of muster's rendezvous)");
  assert_non_null (strstr (o.notes[3], "keep_alive_interval=5: ignored"));
  assert_string_equal (o.argv[0], "pkg.train");

  /* short forms with the value attached */
  const char *b[] = { "-r3", "-t0:2", "--redirects=1", "--", "x", NULL };
  assert_int_equal (parse (&o, err, b), 0);
  assert_string_equal (o.redirects, "1"); /* the last one counts */
  assert_string_equal (o.tee, "0:2");
  assert_int_equal (o.nnotes, 0);
  assert_null (o.log_dir);
}

static void
test_nproc_kinds (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  static const char *const kinds[] = { "auto", "gpu", "cpu", NULL };
  for (int i = 0; kinds[i]; i++)
    {
      const char *a[] = { "--nproc_per_node", kinds[i], "x", NULL };
      assert_int_equal (parse (&o, err, a), 0);
      assert_string_equal (o.nproc_kind, kinds[i]); /* run.c counts */
    }
  const char *b[] = { "--nproc-per-node=gpu", "--nproc-per-node", "3", "x",
                      NULL };
  assert_int_equal (parse (&o, err, b), 0);
  assert_null (o.nproc_kind); /* the last one counts */
  assert_int_equal (o.nproc, 3);
  const char *c[] = { "--nproc-per-node", "gpus", "x", NULL };
  assert_int_equal (parse (&o, err, c), MUSTER_EINVAL);
  assert_string_equal (err, "--nproc-per-node 'gpus': expected 1..4096, auto, "
                       "gpu or cpu");
}

static void
test_torchrun_rest_errors (void **state)
{
  (void)state;
  static const struct {
    const char *args[4];
    const char *err;
  } cases[] = {
    { { "--start_method", "thread", "x", NULL },
      "--start-method 'thread': expected spawn, fork or forkserver" },
    { { "--monitor_interval", "often", "x", NULL },
      "--monitor-interval 'often': expected seconds (e.g. 5 or 0.1)" },
    { { "-r", "4", "x", NULL },
      "--redirects '4': expected 0 (none), 1 (stdout), 2 (stderr), 3 (both) "
      "or LOCAL_RANK:N,... (e.g. 0:1,1:2)" },
    { { "-t5", "x", NULL, NULL },
      "--tee '5': expected 0 (none), 1 (stdout), 2 (stderr), 3 (both) "
      "or LOCAL_RANK:N,... (e.g. 0:1,1:2)" },
    { { "--log_dir", "", "x", NULL }, "--log-dir needs a directory" },
    { { "--log-dir", NULL, NULL, NULL }, "option --log-dir needs a value" },
    { { "--run_path=1", "x", NULL, NULL }, "option '--run_path=1' takes no value" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      mu_run_opts_t o;
      char err[256] = "";
      assert_int_equal (parse (&o, err, cases[i].args), MUSTER_EINVAL);
      assert_string_equal (err, cases[i].err);
    }
}

/* --mpi: set, off by default, and refused with in-place recovery. */
static void
test_mpi (void **state)
{
  (void)state;
  mu_run_opts_t o;
  char err[256];
  const char *a[] = { "--mpi", "--nproc-per-node", "4", "--", "./ctr", NULL };
  assert_int_equal (parse (&o, err, a), 0);
  assert_int_equal (o.mpi, 1);
  assert_int_equal (o.nproc, 4);
  const char *b[] = { "./ctr", NULL };
  assert_int_equal (parse (&o, err, b), 0);
  assert_int_equal (o.mpi, 0);
  const char *c[] = { "--mpi", "--elastic-mode", "in-place", "./ctr", NULL };
  expect_error (c, "--mpi needs --elastic-mode restart");
  const char *d[] = { "--mpi=1", "./ctr", NULL };
  expect_error (d, "takes no value");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_defaults),
    cmocka_unit_test (test_torchrun_flags),
    cmocka_unit_test (test_muster_flags),
    cmocka_unit_test (test_errors),
    cmocka_unit_test (test_endpoint_forms),
    cmocka_unit_test (test_bare_seconds),
    cmocka_unit_test (test_python_and_exit_code),
    cmocka_unit_test (test_torchrun_rest),
    cmocka_unit_test (test_nproc_kinds),
    cmocka_unit_test (test_torchrun_rest_errors),
    cmocka_unit_test (test_outage_window),
    cmocka_unit_test (test_mpi),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
