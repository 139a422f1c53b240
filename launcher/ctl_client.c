/*
 * ctl_client.c — what the control commands share (ctl_client.h), and
 * `muster status`, `cancel`, `checkpoint`, `preempt`, `resume`: one request
 * to a coordinator's control port, one answer, printed for a person (or,
 * with --json, as the reply itself).
 *
 * The request goes out on a DEALER; the answer is awaited with a bound
 * (--timeout, default 5 s) so an unreachable coordinator is an error that
 * names the endpoint rather than a hang.  The endpoint is HOST:PORT or
 * tcp://HOST:PORT (netaddr.c), or ipc://PATH; a malformed one is named
 * before any send.
 *
 * Security: by default the request goes to the local control socket of
 * the coordinator on this machine (this user's state directory, else
 * root's /var/lib/muster), where the kernel tells musterd who is asking.
 * Over TCP the client speaks CURVE with its own key (`muster keygen`,
 * listed in the coordinator's users/ directory) and the server's public
 * key, so nobody without a listed key gets an answer.
 */
#include "launcher/ctl_client.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/keys.h"
#include "common/netaddr.h"
#include "common/state_dir.h"
#include "common/util.h"
#include "common/when.h"
#include "common/wire.h"

/* Is a Unix socket at path served?  (A launcher killed by SIGKILL leaves
 * its socket file behind.) */
static int
socket_alive (const char *path)
{
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  struct sockaddr_un sa;
  memset (&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  mu_strlcpy (sa.sun_path, path, sizeof sa.sun_path);
  int ok = connect (fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close (fd);
  return ok;
}

/* $MUSTER_CTL_ENDPOINT, else $MUSTER_COORDINATOR; else this user's musterd (STATE_DIR/ctl.sock);
 * else this user's one running `muster run` (STATE_DIR/run/JOB-PID.sock;
 * several: NULL, listed in err); else root's musterd. */
static const char *
default_endpoint (char *buf, size_t cap, char *err, size_t errlen)
{
  const char *e = getenv ("MUSTER_CTL_ENDPOINT");
  if (e && *e)
    return e;
  e = getenv ("MUSTER_COORDINATOR");
  if (e && *e)
    return e;
  char dir[512];
  if (mu_state_dir_default (dir, sizeof dir) == 0)
    {
      if ((size_t)snprintf (buf, cap, "ipc://%s/ctl.sock", dir) < cap
          && access (buf + 6, F_OK) == 0)
        return buf;
      char rdir[600];
      snprintf (rdir, sizeof rdir, "%s/run", dir);
      DIR *d = opendir (rdir);
      int found = 0;
      size_t used = 0;
      struct dirent *de;
      while (d != NULL && (de = readdir (d)) != NULL)
        {
          size_t l = strlen (de->d_name);
          if (l < 6 || strcmp (de->d_name + l - 5, ".sock") != 0)
            continue;
          char path[1200];
          snprintf (path, sizeof path, "%s/%s", rdir, de->d_name);
          if (!socket_alive (path))
            continue;
          if (found++ == 0
              && (size_t)snprintf (buf, cap, "ipc://%.500s", path) >= cap)
            found--; /* too long to name */
          used += (size_t)snprintf (err + used, used < errlen ? errlen - used : 0,
                                    "%s ipc://%s", found == 1 ? "" : ",", path);
        }
      if (d != NULL)
        closedir (d);
      if (found == 1)
        return buf;
      if (found > 1)
        {
          char list[1024];
          mu_strlcpy (list, err, sizeof list);
          snprintf (err, errlen, "several of your jobs serve a control socket "
                    "here:%s; give --endpoint", list);
          return NULL;
        }
    }
  snprintf (buf, cap, "ipc:///var/lib/muster/ctl.sock");
  return buf;
}


static int
apply_keys (void *s, const char *ep, const mu_ctl_keys_t *k, char *err,
            size_t errlen)
{
  if (strncmp (ep, "tcp://", 6) != 0)
    return 0; /* ipc: the kernel says who we are */
  const char *kf = k && k->key_file ? k->key_file : getenv ("MUSTER_KEY");
  const char *sk = k && k->server_key ? k->server_key : getenv ("MUSTER_SERVER_KEY");
  if (kf == NULL || sk == NULL)
    {
      snprintf (err, errlen, "the control port %s speaks CURVE: give --key "
                "FILE (a certificate made by `muster keygen` and listed in "
                "the coordinator's STATE_DIR/users/) and --server-key "
                "(STATE_DIR/server.key of the coordinator), or use its local "
                "socket (ipc://STATE_DIR/ctl.sock) on its machine", ep);
      return MUSTER_EAUTH;
    }
  mu_cert_t me, srv;
  char why[400];
  int rc = mu_cert_load (kf, 1, &me, why, sizeof why);
  if (rc != 0)
    {
      snprintf (err, errlen, "--key: %s", why);
      return rc;
    }
  if (mu_key_valid (sk))
    mu_strlcpy (srv.kp.pub, sk, sizeof srv.kp.pub);
  else if ((rc = mu_cert_load (sk, 0, &srv, why, sizeof why)) != 0)
    {
      memset (&me, 0, sizeof me);
      snprintf (err, errlen, "--server-key: %s", why);
      return rc;
    }
  rc = 0;
  if (zmq_setsockopt (s, ZMQ_CURVE_SERVERKEY, srv.kp.pub, MU_KEY_Z85_LEN) != 0
      || zmq_setsockopt (s, ZMQ_CURVE_PUBLICKEY, me.kp.pub, MU_KEY_Z85_LEN) != 0
      || zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, me.kp.sec, MU_KEY_Z85_LEN) != 0)
    {
      rc = -errno;
      snprintf (err, errlen, "cannot use CURVE: %s", zmq_strerror (errno));
    }
  memset (&me, 0, sizeof me);
  return rc;
}

int
mu_ctl_call (const char *ep, const mu_ctl_keys_t *keys, uint64_t timeout_ms,
             const mu_msg_t *req, mu_msg_t *rep, char *err, size_t errlen)
{
  return mu_ctl_call_ex (ep, keys, timeout_ms, req, rep, err, errlen, NULL);
}

int
mu_ctl_call_ex (const char *ep, const mu_ctl_keys_t *keys, uint64_t timeout_ms,
                const mu_msg_t *req, mu_msg_t *rep, char *err, size_t errlen,
                FILE *json_err)
{
  if (strncmp (ep, "ipc://", 6) == 0 && access (ep + 6, F_OK) != 0)
    {
      snprintf (err, errlen, "no coordinator at %s (no such socket: is "
                "musterd running, or a `muster run` of yours on this "
                "machine? give --endpoint)", ep);
      return MUSTER_ENOTFOUND;
    }
  void *ctx = zmq_ctx_new ();
  void *s = ctx ? zmq_socket (ctx, ZMQ_DEALER) : NULL;
  int rc = 0;
  if (s == NULL)
    rc = -errno;
  if (rc == 0)
    rc = mu_wire_sockopts (s, 1000);
  if (rc == 0)
    rc = mu_netaddr_zmq_prepare (s, ep);
  if (rc == 0)
    rc = apply_keys (s, ep, keys, err, errlen);
  if (rc == 0 && zmq_connect (s, ep) != 0)
    {
      rc = -errno;
      snprintf (err, errlen, "bad endpoint %s: %s", ep, zmq_strerror (errno));
    }
  if (rc == 0)
    rc = mu_wire_send (s, NULL, req);
  if (rc == 0)
    {
      zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
      int n = zmq_poll (&it, 1, (long)timeout_ms);
      if (n <= 0)
        {
          rc = MUSTER_ETIMEDOUT;
          snprintf (err, errlen, "no answer from the coordinator at %s after %.1f s%s",
                    ep, (double)timeout_ms / 1000.0,
                    strncmp (ep, "tcp://", 6) == 0
                      ? " (it answers only keys listed in its users/ "
                        "directory)"
                      : "");
        }
      else
        rc = mu_wire_recv (s, NULL, rep, err, errlen);
    }
  if (rc == 0 && rep->type == MU_MSG_ERROR)
    {
      snprintf (err, errlen, "%s", rep->u.error.message);
      if (json_err != NULL)
        mu_ctl_print_json (json_err, rep);
      rc = (int)rep->u.error.code;
      mu_msg_clear (rep);
      if (rc >= 0)
        rc = MUSTER_EINTERNAL;
    }
  if (s)
    zmq_close (s);
  if (ctx)
    zmq_ctx_term (ctx);
  return rc;
}


/* Usage of one control subcommand (`muster CMD --help`). */
static void
ctl_usage (FILE *f, const char *cmd)
{
  static const struct { const char *cmd, *args, *what; } cmds[] = {
    { "status", "[--json] [JOB]", "the jobs of a running coordinator (your own; all of\n"
      "them for root and musterd's user), or one job in full: its row, then\n"
      "its members (node, host, ranks, pids), restarts by cause and newest\n"
      "checkpoint" },
    { "ls", "[--json] [--state STATE] [--owner USER]", "list the jobs you may see, oldest first:\n"
      "id, owner, state, epoch, world, nodes, restarts, age, reason" },
    { "logs", "[--json] [-f] [--rank R] [--since SEQ] [--tail N] JOB",
      "a job's output lines, as its agents collected them (each with its\n"
      "[role rank] prefix); -f follows until the job ends (Ctrl-C stops);\n"
      "--rank R only rank R's lines; --since SEQ from that sequence number;\n"
      "--tail N only the last N lines kept" },
    { "scale", "[--json] [--role ROLE] (--min N --max M | N) JOB",
      "change an elastic job's node range (--min/--max), or run it at N\n"
      "nodes; growing takes free nodes, shrinking releases the highest node\n"
      "ranks (in-place jobs keep their survivors running)" },
    { "update", "[--json] [--env K=V]... [-f SPEC.yaml] JOB [--command PROG ARG...]",
      "rolling update of a service job: its replicas are restarted one at a\n"
      "time with the new command and/or environment (--env sets a variable\n"
      "over the job's; -f takes argv and env from a spec file), the next\n"
      "when the previous is ready; `muster status JOB` shows the rollout" },
    { "load", "[--json] JOB X", "report the load figure X of a service job as a whole\n"
      "(an external load balancer's); its autoscaler uses it while fresh" },
    { "nodes", "[--json] [NODE]", "the registered nodes: slots, used, job, health (alive,\n"
      "cordoned, draining, lost), last heard from (admin only)" },
    { "cordon", "NODE", "the node takes no new work; it keeps what it runs (admin only)" },
    { "uncordon", "NODE", "the node takes work again (admin only)" },
    { "drain", "[--grace DUR] NODE", "cordon the node and move its work off: its job checkpoints\n"
      "(if it has a --ckpt-dir) and goes on without it, or is suspended\n"
      "below its min (admin only)" },
    { "cancel", "JOB", "cancel a job: its workers are stopped (grace, then\n"
      "SIGKILL) and it ends as canceled" },
    { "checkpoint", "[--wait] JOB", "take a checkpoint of a running job now (it needs\n"
      "--ckpt-dir); --wait: until it commits (exit 0) or aborts (exit 1)" },
    { "preempt", "[--grace DUR] JOB", "checkpoint a job within DUR (default 30s),\n"
      "stop it and keep it suspended; its launchers (muster run)\n"
      "exit with their --preempt-exit-code (75)" },
    { "resume", "JOB", "run a suspended job again from its newest complete\n"
      "checkpoint" },
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp (cmds[i].cmd, cmd) == 0)
      fprintf (f, "usage: muster %s [--endpoint EP] [--key FILE --server-key KEY]\n"
               "       [--timeout DUR] %s\n%s.\n", cmd, cmds[i].args, cmds[i].what);
  fprintf (f,
           "  --endpoint EP      the control port (also --coordinator EP): ipc://PATH,\n"
           "                     HOST:PORT or tcp://HOST:PORT (default\n"
           "                     $MUSTER_CTL_ENDPOINT or $MUSTER_COORDINATOR, else\n"
           "                     the local socket of the coordinator on\n"
           "                     this machine: STATE_DIR/ctl.sock, else your\n"
           "                     one running `muster run` (STATE_DIR/run/),\n"
           "                     else /var/lib/muster/ctl.sock)\n"
           "  --key FILE         over TCP: this client's certificate (`muster\n"
           "                     keygen`; $MUSTER_KEY)\n"
           "  --server-key KEY   over TCP: the coordinator's server.key, or its\n"
           "                     public key ($MUSTER_SERVER_KEY)\n"
           "  --timeout DUR      how long to wait for the answer (default 5s)\n"
           "  --json             print the coordinator's reply as JSON (errors too,\n"
           "                     on stderr), for scripts\n"
           "durations: a bare number is seconds (5); or 500ms, 2s, 1.5m, 1h\n"
           "exit status: 0 answered, 1 no answer or refused, 2 usage error\n");
}

const char *
mu_ctl_errmsg (const char *cmd, const char *err)
{
  size_t n = strlen (cmd);
  if (strncmp (err, cmd, n) == 0 && err[n] == ':' && err[n + 1] == ' ')
    return err + n + 2;
  return err;
}

void
mu_ctl_usage (FILE *f, const char *cmd)
{
  ctl_usage (f, cmd);
}

/* A count option's value: digits only. */
static int
parse_count (const char *cmd, const char *opt, const char *v, uint64_t *out)
{
  char *end = NULL;
  if (v == NULL || *v < '0' || *v > '9')
    goto bad;
  unsigned long long x = strtoull (v, &end, 10);
  if (*end != '\0')
    goto bad;
  *out = x;
  return 0;
bad:
  fprintf (stderr, "muster %s: %s: '%s' is not a number (a count: 0, 1, 2, ...)\n",
           cmd, opt, v ? v : "");
  return 2;
}

/* Is `opt` an option of `cmd` taking a value? */
static int
takes (const char *cmd, const char *opt, const char *const *cmds)
{
  (void)opt;
  for (; *cmds; cmds++)
    if (strcmp (*cmds, cmd) == 0)
      return 1;
  return 0;
}

/* 0 parsed; 2 a usage error (printed); -1 --help was printed (exit 0). */
int
mu_ctl_parse (int argc, char **argv, mu_ctl_args_t *a, int need_job,
              const char *cmd)
{
  static const char *const grace_cmds[] = { "preempt", "drain", NULL };
  static const char *const ls_cmds[] = { "ls", NULL };
  static const char *const logs_cmds[] = { "logs", NULL };
  static const char *const scale_cmds[] = { "scale", NULL };
  memset (a, 0, sizeof *a);
  a->timeout_ms = 5000;
  for (int i = 0; i < argc; i++)
    if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
      {
        ctl_usage (stdout, cmd);
        return -1;
      }
  for (int i = 0; i < argc; i++)
    {
      const char *o = argv[i];
      int has = i + 1 < argc;
      if ((strcmp (o, "--endpoint") == 0 || strcmp (o, "--ctl") == 0
           || strcmp (o, "--coordinator") == 0)
          && has)
        a->endpoint = argv[++i];
      else if (strcmp (o, "--key") == 0 && has)
        a->keys.key_file = argv[++i];
      else if (strcmp (o, "--server-key") == 0 && has)
        a->keys.server_key = argv[++i];
      else if (strcmp (o, "--json") == 0)
        a->json = 1;
      else if (strcmp (o, "--timeout") == 0 && has)
        {
          if (mu_parse_duration_ms (argv[++i], &a->timeout_ms) != 0)
            {
              char err[300];
              mu_duration_error (err, sizeof err, "--timeout", argv[i]);
              fprintf (stderr, "muster %s: %s\n", cmd, err);
              return 2;
            }
          a->timeout_given = 1;
        }
      else if (strcmp (o, "--wait") == 0 && strcmp (cmd, "checkpoint") == 0)
        a->wait = 1;
      else if (strcmp (o, "--grace") == 0 && has && takes (cmd, o, grace_cmds))
        {
          if (mu_parse_duration_ms (argv[++i], &a->grace_ms) != 0)
            {
              char err[300];
              mu_duration_error (err, sizeof err, "--grace", argv[i]);
              fprintf (stderr, "muster %s: %s\n", cmd, err);
              return 2;
            }
        }
      else if (strcmp (o, "--state") == 0 && has && takes (cmd, o, ls_cmds))
        a->state = argv[++i];
      else if (strcmp (o, "--owner") == 0 && has && takes (cmd, o, ls_cmds))
        a->owner = argv[++i];
      else if ((strcmp (o, "-f") == 0 || strcmp (o, "--follow") == 0)
               && takes (cmd, o, logs_cmds))
        a->follow = 1;
      else if (strcmp (o, "--rank") == 0 && has && takes (cmd, o, logs_cmds))
        {
          if (parse_count (cmd, o, argv[++i], &a->rank) != 0)
            return 2;
          a->by_rank = 1;
        }
      else if (strcmp (o, "--since") == 0 && has && takes (cmd, o, logs_cmds))
        {
          if (parse_count (cmd, o, argv[++i], &a->since) != 0)
            return 2;
        }
      else if (strcmp (o, "--tail") == 0 && has && takes (cmd, o, logs_cmds))
        {
          if (parse_count (cmd, o, argv[++i], &a->tail) != 0)
            return 2;
          a->tail_given = 1;
        }
      else if (strcmp (o, "--role") == 0 && has && takes (cmd, o, scale_cmds))
        a->role = argv[++i];
      else if (strcmp (o, "--min") == 0 && has && takes (cmd, o, scale_cmds))
        {
          if (parse_count (cmd, o, argv[++i], &a->min) != 0)
            return 2;
          a->min_given = 1;
        }
      else if (strcmp (o, "--max") == 0 && has && takes (cmd, o, scale_cmds))
        {
          if (parse_count (cmd, o, argv[++i], &a->max) != 0)
            return 2;
          a->max_given = 1;
        }
      else if (o[0] != '-' && a->job == NULL)
        a->job = o;
      else if (o[0] != '-' && a->arg2 == NULL && a->job != NULL
               && (strcmp (cmd, "scale") == 0 || strcmp (cmd, "load") == 0))
        a->arg2 = o;
      else
        {
          fprintf (stderr, "muster %s: unexpected argument '%s'%s\n", cmd, o,
                   o[0] == '-' && !has ? " (or its value is missing)" : "");
          ctl_usage (stderr, cmd);
          return 2;
        }
    }
  char why[700];
  if (a->endpoint == NULL)
    {
      char why[1500] = "";
      a->endpoint = default_endpoint (a->dflt, sizeof a->dflt, why, sizeof why);
      if (a->endpoint == NULL)
        {
          fprintf (stderr, "muster %s: %s\n", cmd, why);
          return 2;
        }
    }
  if (mu_endpoint_normalize (a->endpoint, MU_EP_OTHER_TRANSPORT, a->ep,
                             sizeof a->ep, why, sizeof why) != 0)
    {
      fprintf (stderr, "muster %s: control port %s\n", cmd, why);
      return 2;
    }
  a->endpoint = a->ep;
  if (need_job && a->job == NULL)
    {
      int node = strcmp (cmd, "cordon") == 0 || strcmp (cmd, "uncordon") == 0
                 || strcmp (cmd, "drain") == 0;
      fprintf (stderr, "muster %s: which %s?\n", cmd, node ? "node" : "job");
      ctl_usage (stderr, cmd);
      return 2;
    }
  return 0;
}

static int
parse (int argc, char **argv, mu_ctl_args_t *a, int need_job, const char *cmd)
{
  return mu_ctl_parse (argc, argv, a, need_job, cmd);
}

int
mu_ctl_status_main (int argc, char **argv)
{
  mu_ctl_args_t a;
  int rc = parse (argc, argv, &a, 0, "status");
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_STATUS;
  req.u.ctl_status.job = (char *)a.job;
  if (a.json && a.job != NULL)
    {
      req.type = MU_MSG_CTL_GET; /* one job in full */
      req.u.ctl_get.job = (char *)a.job;
    }
  char err[512];
  rc = mu_ctl_call_ex (a.endpoint, &a.keys, a.timeout_ms, &req, &rep, err,
                       sizeof err, a.json ? stderr : NULL);
  if (rc != 0)
    {
      fprintf (stderr, "muster status: %s\n", err);
      return 1;
    }
  if (a.json)
    {
      mu_ctl_print_json (stdout, &rep);
      mu_msg_clear (&rep);
      return 0;
    }
  if (rep.type != MU_MSG_CTL_STATUS_REPLY)
    {
      fprintf (stderr, "muster status: unexpected answer %s\n", mu_msg_name (rep.type));
      mu_msg_clear (&rep);
      return 1;
    }
  const mu_ctl_status_reply_t *s = &rep.u.ctl_status_reply;
  printf ("%-24s %-11s %6s %6s %6s %8s  %-26s %s\n", "JOB", "STATE", "EPOCH",
          "WORLD", "NODES", "RESTARTS", "CHECKPOINT", "REASON");
  uint64_t now = mu_wall_us ();
  for (size_t i = 0; i < s->jobs.n; i++)
    {
      const mu_job_info_t *j = &s->jobs.v[i];
      char ck[96] = "-", age[64];
      if (j->ckpt_created_us > 0 || j->ckpt_step > 0)
        snprintf (ck, sizeof ck, "step %llu, %s",
                  (unsigned long long)j->ckpt_step,
                  j->ckpt_created_us
                    ? mu_when_age (j->ckpt_created_us, now, age, sizeof age)
                    : "time unknown");
      printf ("%-24s %-11s %6llu %6llu %6llu %8llu  %-26s %s\n", j->id,
              j->state, (unsigned long long)j->epoch,
              (unsigned long long)j->world, (unsigned long long)j->nodes,
              (unsigned long long)j->restarts, ck, j->reason ? j->reason : "");
    }
  printf ("%llu node(s) registered\n", (unsigned long long)s->nodes);
  mu_msg_clear (&rep);
  return a.job != NULL ? mu_ctl_print_detail (&a) : 0;
}

int
mu_ctl_cancel_main (int argc, char **argv)
{
  mu_ctl_args_t a;
  int rc = parse (argc, argv, &a, 1, "cancel");
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_CANCEL;
  req.u.ctl_cancel.job = (char *)a.job;
  char err[512];
  rc = mu_ctl_call (a.endpoint, &a.keys, a.timeout_ms, &req, &rep, err, sizeof err);
  if (rc != 0)
    {
      fprintf (stderr, "muster cancel: %s\n", err);
      return 1;
    }
  printf ("job %s: %s\n", a.job,
          rep.type == MU_MSG_CTL_REPLY && rep.u.ctl_reply.message
              ? rep.u.ctl_reply.message
              : "ok");
  mu_msg_clear (&rep);
  return 0;
}

/* muster checkpoint --wait: poll ctl.status until the checkpoint asked
 * for (step `step`, or a later one it was retried at) commits or ends
 * without a commit, within a_timeout.  0 committed, 1 otherwise. */
#define WAIT_POLL_MS 100
static int
wait_checkpoint (const mu_ctl_args_t *a, uint64_t step, uint64_t timeout_ms)
{
  uint64_t deadline = mu_now_ms () + timeout_ms;
  char err[512];
  for (;;)
    {
      mu_msg_t req, rep;
      memset (&req, 0, sizeof req);
      req.type = MU_MSG_CTL_STATUS;
      req.u.ctl_status.job = (char *)a->job;
      int rc = mu_ctl_call (a->endpoint, &a->keys, 5000, &req, &rep, err, sizeof err);
      if (rc != 0)
        {
          fprintf (stderr, "muster checkpoint: %s\n", err);
          return 1;
        }
      if (rep.type == MU_MSG_CTL_STATUS_REPLY && rep.u.ctl_status_reply.jobs.n == 1)
        {
          const mu_job_info_t *j = &rep.u.ctl_status_reply.jobs.v[0];
          int out = -1;
          if (j->ckpt_step >= step && (j->ckpt_created_us > 0 || j->ckpt_step > 0))
            {
              printf ("job %s: checkpoint of step %llu committed\n", a->job,
                      (unsigned long long)j->ckpt_step);
              out = 0;
            }
          else if (j->ckpt_aborted_step >= step)
            {
              fprintf (stderr, "muster checkpoint: job %s: checkpoint of step "
                       "%llu aborted: %s\n", a->job,
                       (unsigned long long)j->ckpt_aborted_step,
                       j->ckpt_aborted_reason ? j->ckpt_aborted_reason : "?");
              out = 1;
            }
          else if (strcmp (j->state, "running") != 0)
            {
              fprintf (stderr, "muster checkpoint: job %s is %s; the "
                       "checkpoint of step %llu did not commit\n", a->job,
                       j->state, (unsigned long long)step);
              out = 1;
            }
          mu_msg_clear (&rep);
          if (out >= 0)
            return out;
        }
      else
        mu_msg_clear (&rep);
      if (mu_now_ms () >= deadline)
        {
          fprintf (stderr, "muster checkpoint: job %s: the checkpoint of step "
                   "%llu neither committed nor aborted within %.1f s\n",
                   a->job, (unsigned long long)step,
                   (double)timeout_ms / 1000.0);
          return 1;
        }
      usleep (WAIT_POLL_MS * 1000);
    }
}

/* checkpoint, preempt, resume: one job, one action, one answer. */
int
mu_ctl_job_main (const char *cmd, int argc, char **argv)
{
  mu_ctl_args_t a;
  int rc = parse (argc, argv, &a, 1, cmd);
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  mu_msg_t req, rep;
  memset (&req, 0, sizeof req);
  if (strcmp (cmd, "checkpoint") == 0)
    {
      req.type = MU_MSG_CTL_CHECKPOINT;
      req.u.ctl_checkpoint.job = (char *)a.job;
    }
  else if (strcmp (cmd, "preempt") == 0)
    {
      req.type = MU_MSG_CTL_PREEMPT;
      req.u.ctl_preempt.job = (char *)a.job;
      req.u.ctl_preempt.grace_ms = a.grace_ms;
    }
  else
    {
      req.type = MU_MSG_CTL_RESUME;
      req.u.ctl_resume.job = (char *)a.job;
    }
  char err[512];
  uint64_t wait_ms = a.timeout_given ? a.timeout_ms : 60000;
  rc = mu_ctl_call (a.endpoint, &a.keys, a.wait && !a.timeout_given ? 5000 : a.timeout_ms,
             &req, &rep, err, sizeof err);
  if (rc != 0)
    {
      fprintf (stderr, "muster %s: %s\n", cmd, err);
      return 1;
    }
  printf ("job %s: %s\n", a.job,
          rep.type == MU_MSG_CTL_REPLY && rep.u.ctl_reply.message
              ? rep.u.ctl_reply.message
              : "ok");
  uint64_t step = rep.type == MU_MSG_CTL_REPLY ? rep.u.ctl_reply.step : 0;
  mu_msg_clear (&rep);
  fflush (stdout);
  if (a.wait && step == 0)
    {
      fprintf (stderr, "muster checkpoint: the coordinator did not say which "
               "step it asked for (an older musterd?); cannot --wait\n");
      return 1;
    }
  return a.wait ? wait_checkpoint (&a, step, wait_ms) : 0;
}

/* ------------------------------------------- for other control commands */

int
mu_ctl_endpoint (const char *given, char *ep, size_t cap, char *err,
                 size_t errlen)
{
  char dflt[600], why[1500] = "";
  if (given == NULL)
    {
      given = default_endpoint (dflt, sizeof dflt, why, sizeof why);
      if (given == NULL)
        {
          snprintf (err, errlen, "%s", why);
          return MUSTER_EINVAL;
        }
    }
  if (mu_endpoint_normalize (given, MU_EP_OTHER_TRANSPORT, ep, cap, why,
                             sizeof why) != 0)
    {
      snprintf (err, errlen, "control port %s", why);
      return MUSTER_EINVAL;
    }
  return 0;
}

/* One request for a subcommand that lives in its own file (submit.c,
 * events_cli.c), with this file's endpoint defaults, CURVE keys and
 * bounds. */
int
mu_ctl_request (const char *endpoint, const char *key_file,
                const char *server_key, uint64_t timeout_ms,
                const mu_msg_t *req, mu_msg_t *rep, char *err, size_t errlen)
{
  char ep[600];
  int rc = mu_ctl_endpoint (endpoint, ep, sizeof ep, err, errlen);
  if (rc != 0)
    return rc;
  mu_ctl_keys_t keys = { key_file, server_key };
  return mu_ctl_call (ep, &keys, timeout_ms, req, rep, err, errlen);
}
