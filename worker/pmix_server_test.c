/*
 * pmix_server_test.c — the PMIx server glue on a libuv loop, against real
 * PMIx clients (pmix_client_probe): a namespace of two ranks is
 * registered (of a world of three on two nodes), both clients connect
 * (the on_connected hook runs on the loop), publish a value each and
 * fence with data collection (on_fence runs once for the node; completing
 * it with this node's data lets each read the other's value), and rank 1
 * aborts with a message (on_abort).
 * A second server in the same process is refused.  Not run under
 * valgrind: libpmix keeps allocations until exit.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/pmix_server.h"

extern char **environ;

typedef struct probe_state
{
  int connected[2];
  int fences;
  int aborts;
  char abort_msg[64];
  int exited;
  int64_t status[2];
  uv_process_t proc[2];
} probe_state_t;

static void
on_connected (void *arg, const char *nspace, uint32_t rank)
{
  probe_state_t *s = arg;
  if (strcmp (nspace, "muster.t.1") == 0 && rank < 2)
    s->connected[rank]++;
}

static void
on_abort (void *arg, const char *nspace, uint32_t rank, int status,
          const char *msg)
{
  probe_state_t *s = arg;
  (void)nspace;
  (void)rank;
  if (status == 3)
    s->aborts++;
  snprintf (s->abort_msg, sizeof s->abort_msg, "%s", msg);
}

static void
on_fence (void *arg, const char *nspace, const char *data, size_t len,
          mu_pmix_fence_t *f)
{
  probe_state_t *s = arg;
  (void)nspace;
  s->fences++;
  /* one node: this node's contribution is the whole */
  mu_pmix_fence_done (f, 0, (char *)data, len);
}

static void
on_exit_cb (uv_process_t *p, int64_t status, int sig)
{
  probe_state_t *s = p->data;
  s->status[p == &s->proc[0] ? 0 : 1] = sig ? -sig : status;
  s->exited++;
  uv_close ((uv_handle_t *)p, NULL);
}

static char **
copy_environ (void)
{
  size_t n = 0;
  while (environ[n] != NULL)
    n++;
  char **e = calloc (n + 1, sizeof *e);
  for (size_t i = 0; i < n; i++)
    e[i] = strdup (environ[i]);
  return e;
}

static void
free_env (char **e)
{
  for (size_t i = 0; e[i] != NULL; i++)
    free (e[i]);
  free (e);
}

static void
two_clients_fence_and_abort (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  char tmp[] = "/tmp/pmix-test-XXXXXX";
  assert_non_null (mkdtemp (tmp));
  probe_state_t s;
  memset (&s, 0, sizeof s);
  mu_pmix_hooks_t h = { on_connected, on_abort, on_fence, &s };
  mu_pmix_t *p = NULL, *p2 = NULL;
  char err[256];
  assert_int_equal (mu_pmix_open (&loop, tmp, "n0", &h, &p, err, sizeof err),
                    0);
  /* libpmix holds one server per process */
  assert_int_equal (mu_pmix_open (&loop, tmp, "n0", &h, &p2, err, sizeof err),
                    -EBUSY);
  assert_null (p2);
  assert_non_null (strstr (err, "already"));

  /* Two nodes, ranks 0-1 here, rank 2 on the other: the fence is not
   * local to this node, so libpmix hands it to the host (on_fence). */
  uint32_t node_of[3] = { 0, 0, 1 }, local_of[3] = { 0, 1, 0 };
  mu_pmix_job_t j = { .nspace = "muster.t.1",
                      .world = 3,
                      .nnodes = 2,
                      .node_index = 0,
                      .node_csv = "n0,n1",
                      .ppn = "0,1;2",
                      .node_of = node_of,
                      .local_rank_of = local_of,
                      .first_local = 0,
                      .nlocal = 2,
                      .uid = (uint32_t)getuid (),
                      .gid = (uint32_t)getgid () };
  assert_int_equal (mu_pmix_register (p, &j, err, sizeof err), 0);

  const char *probe = getenv ("MUSTER_PMIX_PROBE");
  assert_non_null (probe);
  for (uint32_t r = 0; r < 2; r++)
    {
      char **env = copy_environ ();
      assert_int_equal (mu_pmix_client_env (p, "muster.t.1", r, &env), 0);
      char *args[] = { (char *)probe, (char *)"1", NULL };
      uv_process_options_t o
          = { .exit_cb = on_exit_cb, .file = probe, .args = args, .env = env };
      uv_stdio_container_t io[3] = { { .flags = UV_IGNORE },
                                     { .flags = UV_INHERIT_FD, .data.fd = 1 },
                                     { .flags = UV_INHERIT_FD, .data.fd = 2 } };
      o.stdio = io;
      o.stdio_count = 3;
      s.proc[r].data = &s;
      assert_int_equal (uv_spawn (&loop, &s.proc[r], &o), 0);
      free_env (env);
    }
  while (s.exited < 2)
    uv_run (&loop, UV_RUN_ONCE);
  assert_int_equal (s.status[0], 0);
  assert_int_equal (s.status[1], 3);
  assert_int_equal (s.connected[0], 1);
  assert_int_equal (s.connected[1], 1);
  assert_true (s.fences >= 1);
  assert_int_equal (s.aborts, 1);
  assert_string_equal (s.abort_msg, "probe aborts");

  mu_pmix_deregister (p, "muster.t.1");
  mu_pmix_close (&p);
  assert_null (p);
  mu_pmix_close (&p); /* accepts NULL */
  uv_run (&loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&loop), 0);
  char cmd[64];
  snprintf (cmd, sizeof cmd, "rm -rf %s", tmp);
  assert_int_equal (system (cmd), 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (two_clients_fence_and_abort),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
