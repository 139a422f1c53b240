/*
 * fake_coord.c — a minimal coordinator for scenario tests that need to send
 * an agent a job.start that musterd would not send (yet): one whose owner
 * is another user (scenario 17).
 *
 *   fake_coord EP_FILE TIMEOUT_MS [--owner-uid U] [--owner-gid G]
 *              [--owner NAME] [--cwd DIR] -- PROGRAM [ARGS...]
 *
 * Binds a ROUTER on tcp://127.0.0.1 (ephemeral port) and writes the
 * endpoint to EP_FILE (atomically).  To the first agent that registers it
 * answers agent.welcome and sends one job.start: job "owner-test", epoch 1,
 * one worker per slot of the node running PROGRAM, with the owner fields
 * given.  It answers heartbeats, and prints one line per worker.state,
 *   STATE rank=R state=S exit=C signal=N tail=<stderr tail, '\n' as '|'>
 * plus "REGISTERED uid=U" for the registration (U = the agent's uid).  Once
 * every worker has reported a final state (anything but "running") it
 * sends job.done (succeeded) and exits 0; 3 when TIMEOUT_MS passes first,
 * 2 on a usage or ZeroMQ error.  It speaks the real protocol through common/wire.c, so what it
 * sends is what a coordinator sends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "common/proto.h"
#include "common/wire.h"

static uint64_t
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
usage (void)
{
  fprintf (stderr, "usage: fake_coord EP_FILE TIMEOUT_MS [--owner-uid U] "
                   "[--owner-gid G] [--owner NAME] [--cwd DIR] -- PROGRAM "
                   "[ARGS...]\n");
  return 2;
}

static int
send_start (void *sock, const mu_route_t *to, const mu_reg_t *reg,
            uint64_t owner_uid, uint64_t owner_gid, char *owner, char *cwd,
            char **argv, size_t argc)
{
  uint64_t n = reg->slots;
  mu_assign_t *as = calloc (n, sizeof *as);
  if (as == NULL)
    return -ENOMEM;
  for (uint64_t i = 0; i < n; i++)
    {
      as[i].rank = i;
      as[i].local_rank = i;
      as[i].role = (char *)"worker";
      as[i].role_rank = i;
    }
  mu_peer_node_t node = { .node_id = reg->node_id,
                          .host = reg->host,
                          .role = (char *)"worker",
                          .node_rank = 0,
                          .first_rank = 0,
                          .role_first_rank = 0,
                          .nproc = n,
                          .port_base = reg->port_base };
  mu_role_world_t rw = { .name = (char *)"worker", .world = n, .nodes = 1 };
  mu_role_spec_t rs
      = { .name = (char *)"worker", .min_nodes = 1, .max_nodes = 1, .nproc = n };
  mu_job_spec_t spec;
  memset (&spec, 0, sizeof spec);
  spec.id = (char *)"owner-test";
  spec.roles.v = &rs;
  spec.roles.n = 1;
  spec.argv.v = argv;
  spec.argv.n = argc;
  spec.cwd = cwd;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_START;
  mu_start_t *s = &m.u.start;
  s->job = spec.id;
  s->epoch = 1;
  s->world = n;
  s->node_rank = 0;
  s->nnodes = 1;
  s->master_addr = reg->host;
  s->master_port = reg->port_base + n;
  s->assign.v = as;
  s->assign.n = n;
  s->nodes.v = &node;
  s->nodes.n = 1;
  s->roles.v = &rw;
  s->roles.n = 1;
  s->spec = &spec;
  s->sync_from = -1;
  s->owner_uid = owner_uid;
  s->owner_gid = owner_gid;
  s->owner = owner;
  int rc = mu_wire_send (sock, to, &m);
  free (as);
  return rc;
}

int
main (int argc, char **argv)
{
  if (argc < 5)
    return usage ();
  const char *ep_file = argv[1];
  uint64_t timeout = strtoull (argv[2], NULL, 10);
  uint64_t owner_uid = 0, owner_gid = 0;
  char *owner = NULL, *cwd = NULL;
  int i = 3;
  for (; i < argc && strcmp (argv[i], "--") != 0; i += 2)
    {
      if (i + 1 >= argc)
        return usage ();
      if (strcmp (argv[i], "--owner-uid") == 0)
        owner_uid = strtoull (argv[i + 1], NULL, 10);
      else if (strcmp (argv[i], "--owner-gid") == 0)
        owner_gid = strtoull (argv[i + 1], NULL, 10);
      else if (strcmp (argv[i], "--owner") == 0)
        owner = argv[i + 1];
      else if (strcmp (argv[i], "--cwd") == 0)
        cwd = argv[i + 1];
      else
        return usage ();
    }
  if (i + 1 >= argc)
    return usage ();
  char **prog = argv + i + 1;
  size_t nprog = (size_t)(argc - i - 1);

  void *ctx = zmq_ctx_new ();
  void *sock = zmq_socket (ctx, ZMQ_ROUTER);
  int linger = 0;
  zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
  char ep[256];
  size_t eplen = sizeof ep;
  if (zmq_bind (sock, "tcp://127.0.0.1:*") != 0
      || zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, ep, &eplen) != 0)
    {
      fprintf (stderr, "fake_coord: bind: %s\n", zmq_strerror (errno));
      return 2;
    }
  char tmp[4096];
  snprintf (tmp, sizeof tmp, "%s.tmp", ep_file);
  FILE *f = fopen (tmp, "w");
  if (f == NULL || fprintf (f, "%s\n", ep) < 0 || fclose (f) != 0
      || rename (tmp, ep_file) != 0)
    {
      fprintf (stderr, "fake_coord: cannot write %s\n", ep_file);
      return 2;
    }
  uint64_t deadline = now_ms () + timeout;
  uint64_t world = 0, final = 0;
  int started = 0;
  while (now_ms () < deadline)
    {
      zmq_pollitem_t it = { .socket = sock, .events = ZMQ_POLLIN };
      if (zmq_poll (&it, 1, 50) <= 0)
        continue;
      mu_route_t from;
      mu_msg_t m;
      char err[256];
      int rc = mu_wire_recv (sock, &from, &m, err, sizeof err);
      if (rc != 0)
        continue;
      mu_msg_t out;
      memset (&out, 0, sizeof out);
      switch (m.type)
        {
        case MU_MSG_REGISTER:
          printf ("REGISTERED uid=%llu\n", (unsigned long long)m.u.reg.uid);
          out.type = MU_MSG_WELCOME;
          out.u.welcome.node_id = m.u.reg.node_id;
          out.u.welcome.heartbeat_ms = 200;
          out.u.welcome.miss_limit = 100;
          out.u.welcome.session = (char *)"fake";
          mu_wire_send (sock, &from, &out);
          if (!started)
            {
              started = 1;
              world = m.u.reg.slots;
              send_start (sock, &from, &m.u.reg, owner_uid, owner_gid, owner,
                          cwd, prog, nprog);
            }
          break;
        case MU_MSG_HEARTBEAT:
          out.type = MU_MSG_HEARTBEAT;
          out.u.heartbeat.node_id = m.u.heartbeat.node_id;
          mu_wire_send (sock, &from, &out);
          break;
        case MU_MSG_WORKER_STATE:
          {
            const mu_worker_state_t *w = &m.u.worker_state;
            char *t = w->stderr_tail ? w->stderr_tail : (char *)"";
            for (char *p = t; *p; p++)
              if (*p == '\n')
                *p = '|';
            printf ("STATE rank=%llu state=%s exit=%lld signal=%lld tail=%s\n",
                    (unsigned long long)w->rank, w->state,
                    (long long)w->exit_code, (long long)w->signal, t);
            if (strcmp (w->state, "running") != 0)
              final++;
            break;
          }
        default:
          break;
        }
      fflush (stdout);
      mu_msg_clear (&m);
      if (started && final >= world)
        {
          printf ("ALL-DONE\n");
          fflush (stdout);
          mu_msg_t d;
          memset (&d, 0, sizeof d);
          d.type = MU_MSG_JOB_DONE;
          d.u.job_done.job = (char *)"owner-test";
          d.u.job_done.state = (char *)"succeeded";
          d.u.job_done.failed_rank = -1;
          mu_wire_send (sock, &from, &d);
          linger = 2000; /* job.done must get out */
          zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
          zmq_close (sock);
          zmq_ctx_term (ctx);
          return 0;
        }
    }
  printf ("TIMEOUT\n");
  zmq_close (sock);
  zmq_ctx_term (ctx);
  return 3;
}
