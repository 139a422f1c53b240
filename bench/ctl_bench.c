/*
 * ctl_bench.c — control-port round trips per second, security on and off.
 *
 * Starts two musterd on 127.0.0.1 in one run: one secure (CURVE on TCP, a
 * control-user key written into its users/ directory before it starts) and
 * one --insecure, each with --jobs idle jobs registered (pending: no
 * agents), then for each transport measures `ctl.status` of one job:
 *
 *   tcp, --insecure   plain TCP (what every peer got before)
 *   tcp, CURVE        the same port with a listed user key
 *   ipc, local user   the local socket (kernel peer credentials, no crypto)
 *
 * Two figures per transport: sequential round trips per second (one in
 * flight: latency-bound) and pipelined (--window requests in flight from
 * one DEALER: what the coordinator can serve).  Also the time to connect a
 * fresh client and get its first answer (the CURVE handshake cost a CLI
 * pays once per command).  A benchmark, not a test: it prints figures and
 * the ratio secure/insecure against the target (at least half), and exits
 * non-zero only when a request goes unanswered.
 *
 *   ctl_bench --musterd build/bin/musterd [--requests N] [--window W]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "common/keys.h"
#include "common/proto.h"
#include "common/wire.h"

extern char **environ;

typedef struct daemon {
  pid_t pid;
  char dir[64];
  char state[96];
  char tcp[256];
  char ipc[256];
  char server_key[41];
} daemon_t;

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die (const char *what)
{
  fprintf (stderr, "ctl_bench: %s\n", what);
  exit (1);
}

static void
start_musterd (const char *exe, int secure, const mu_cert_t *user,
               daemon_t *d)
{
  strcpy (d->dir, "/tmp/ctl_bench.XXXXXX");
  if (mkdtemp (d->dir) == NULL)
    die ("mkdtemp");
  snprintf (d->state, sizeof d->state, "%s/state", d->dir);
  char path[256], epf[128], log[128];
  if (secure)
    {
      /* The user's public certificate is in users/ before musterd reads it. */
      mkdir (d->state, 0711);
      snprintf (path, sizeof path, "%s/users", d->state);
      mkdir (path, 0700);
      snprintf (path, sizeof path, "%s/users/bench", d->state);
      mu_cert_t pub = *user;
      pub.kp.sec[0] = '\0';
      if (mu_cert_save (path, &pub) != 0)
        die ("cannot write the user certificate");
    }
  snprintf (epf, sizeof epf, "%s/endpoints", d->dir);
  snprintf (log, sizeof log, "%s/musterd.log", d->dir);
  const char *argv[] = { exe, "--agent-bind", "tcp://127.0.0.1:*",
                         "--ctl-bind", "tcp://127.0.0.1:*", "--state-dir",
                         d->state, "--endpoints-file", epf, "--log-level",
                         "warn", secure ? NULL : "--insecure", NULL };
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC,
                                    0644);
  if (posix_spawn (&d->pid, exe, &fa, NULL, (char **)argv, environ) != 0)
    die ("cannot start musterd");
  posix_spawn_file_actions_destroy (&fa);
  for (int i = 0; i < 1000; i++)
    {
      FILE *f = fopen (epf, "r");
      if (f != NULL)
        {
          char k[32], v[256];
          while (fscanf (f, "%31s %255s", k, v) == 2)
            {
              if (strcmp (k, "ctl") == 0)
                snprintf (d->tcp, sizeof d->tcp, "%s", v);
              else if (strcmp (k, "ctl-local") == 0)
                snprintf (d->ipc, sizeof d->ipc, "%s", v);
              else if (strcmp (k, "server-key") == 0)
                snprintf (d->server_key, sizeof d->server_key, "%.40s", v);
            }
          fclose (f);
          if (d->tcp[0] && d->ipc[0])
            return;
        }
      usleep (10000);
    }
  die ("musterd did not write its endpoints");
}

static void
stop_musterd (daemon_t *d)
{
  kill (d->pid, SIGTERM);
  waitpid (d->pid, NULL, 0);
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf %s", d->dir);
  if (system (cmd) != 0)
    fprintf (stderr, "ctl_bench: could not remove %s\n", d->dir);
}

static void *
client (void *ctx, const char *ep, const char *server_key,
        const mu_cert_t *user)
{
  void *s = zmq_socket (ctx, ZMQ_DEALER);
  int zero = 0, hwm = 100000;
  zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt (s, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt (s, ZMQ_RCVHWM, &hwm, sizeof hwm);
  if (server_key != NULL)
    {
      zmq_setsockopt (s, ZMQ_CURVE_SERVERKEY, server_key, 40);
      zmq_setsockopt (s, ZMQ_CURVE_PUBLICKEY, user->kp.pub, 40);
      zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, user->kp.sec, 40);
    }
  if (zmq_connect (s, ep) != 0)
    die ("connect");
  return s;
}

static int
recv_one (void *s, int timeout_ms)
{
  zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
  if (zmq_poll (&it, 1, timeout_ms) <= 0)
    return -1;
  mu_msg_t m;
  char err[128];
  int rc = mu_wire_recv (s, NULL, &m, err, sizeof err);
  int ok = rc == 0 && m.type == MU_MSG_CTL_STATUS_REPLY;
  mu_msg_clear (&m);
  return ok ? 0 : -1;
}

typedef struct result {
  double seq_rps, pipe_rps, first_ms;
} result_t;

static int
measure (const char *name, const char *ep, const char *server_key,
         const mu_cert_t *user, int n, int window, result_t *r)
{
  void *ctx = zmq_ctx_new ();
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_STATUS;
  req.u.ctl_status.job = (char *)"job-0";
  /* First answer of a fresh client (connect + handshake + one request). */
  double first = 0;
  for (int i = 0; i < 20; i++)
    {
      double t0 = now_s ();
      void *s = client (ctx, ep, server_key, user);
      mu_wire_send (s, NULL, &req);
      if (recv_one (s, 5000) != 0)
        {
          fprintf (stderr, "ctl_bench: %s: no answer to a fresh client\n", name);
          zmq_close (s);
          zmq_ctx_term (ctx);
          return -1;
        }
      first += now_s () - t0;
      zmq_close (s);
    }
  r->first_ms = first / 20 * 1e3;
  void *s = client (ctx, ep, server_key, user);
  mu_wire_send (s, NULL, &req);
  if (recv_one (s, 5000) != 0)
    return -1;
  double t0 = now_s ();
  for (int i = 0; i < n; i++)
    {
      mu_wire_send (s, NULL, &req);
      if (recv_one (s, 5000) != 0)
        return -1;
    }
  r->seq_rps = n / (now_s () - t0);
  int sent = 0, got = 0;
  t0 = now_s ();
  while (got < n)
    {
      while (sent < n && sent - got < window)
        {
          if (mu_wire_send (s, NULL, &req) != 0)
            break;
          sent++;
        }
      if (recv_one (s, 5000) != 0)
        {
          fprintf (stderr, "ctl_bench: %s: %d of %d answered\n", name, got, n);
          return -1;
        }
      got++;
    }
  r->pipe_rps = n / (now_s () - t0);
  zmq_close (s);
  zmq_ctx_term (ctx);
  return 0;
}

static void
add_jobs (const char *ipc, int njobs)
{
  /* Idle jobs, so each request is answered from a realistic table. */
  void *ctx = zmq_ctx_new ();
  void *s = client (ctx, ipc, NULL, NULL);
  for (int i = 0; i < njobs; i++)
    {
      char id[32];
      snprintf (id, sizeof id, "job-%d", i);
      char *argv[] = { (char *)"true" };
      mu_role_spec_t role = { .name = (char *)"worker", .min_nodes = 1,
                              .max_nodes = 1, .nproc = 1 };
      mu_job_spec_t spec;
      memset (&spec, 0, sizeof spec);
      spec.id = id;
      spec.argv.v = argv;
      spec.argv.n = 1;
      spec.roles.v = &role;
      spec.roles.n = 1;
      mu_msg_t m;
      memset (&m, 0, sizeof m);
      m.type = MU_MSG_CTL_SUBMIT;
      m.u.ctl_submit.job = &spec;
      mu_wire_send (s, NULL, &m);
      zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
      if (zmq_poll (&it, 1, 5000) <= 0)
        die ("submit unanswered");
      mu_msg_t rep;
      char err[128];
      mu_wire_recv (s, NULL, &rep, err, sizeof err);
      mu_msg_clear (&rep);
    }
  zmq_close (s);
  zmq_ctx_term (ctx);
}

int
main (int argc, char **argv)
{
  const char *exe = NULL;
  int n = 20000, window = 64, njobs = 100;
  static struct option opts[] = { { "musterd", required_argument, 0, 'm' },
                                  { "requests", required_argument, 0, 'n' },
                                  { "window", required_argument, 0, 'w' },
                                  { "jobs", required_argument, 0, 'j' },
                                  { 0, 0, 0, 0 } };
  int c;
  while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (c)
      {
      case 'm': exe = optarg; break;
      case 'n': n = atoi (optarg); break;
      case 'w': window = atoi (optarg); break;
      case 'j': njobs = atoi (optarg); break;
      default:
        fprintf (stderr, "usage: ctl_bench --musterd PATH [--requests N] "
                 "[--window W] [--jobs J]\n");
        return 2;
      }
  if (exe == NULL || n <= 0 || window <= 0 || njobs <= 0)
    {
      fprintf (stderr, "usage: ctl_bench --musterd PATH [--requests N] "
               "[--window W] [--jobs J]\n");
      return 2;
    }
  mu_cert_t user;
  memset (&user, 0, sizeof user);
  if (mu_keypair_new (&user.kp) != 0
      || mu_cert_set_meta (&user, "uid", "0") != 0)
    die ("no CURVE in this libzmq");
  daemon_t sec, ins;
  memset (&sec, 0, sizeof sec);
  memset (&ins, 0, sizeof ins);
  start_musterd (exe, 1, &user, &sec);
  start_musterd (exe, 0, &user, &ins);
  add_jobs (sec.ipc, njobs);
  add_jobs (ins.ipc, njobs);
  result_t r_ins, r_sec, r_ipc;
  int bad = measure ("tcp --insecure", ins.tcp, NULL, NULL, n, window, &r_ins)
            | measure ("tcp CURVE", sec.tcp, sec.server_key, &user, n, window,
                       &r_sec)
            | measure ("ipc", sec.ipc, NULL, NULL, n, window, &r_ipc);
  stop_musterd (&sec);
  stop_musterd (&ins);
  if (bad)
    return 1;
  printf ("control port: ctl.status of one of %d jobs, %d requests, window %d "
          "(one client, 127.0.0.1)\n", njobs, n, window);
  printf ("%-22s %14s %14s %18s\n", "transport", "sequential/s", "pipelined/s",
          "fresh client, 1st");
  printf ("%-22s %14.0f %14.0f %15.2f ms\n", "tcp, --insecure", r_ins.seq_rps,
          r_ins.pipe_rps, r_ins.first_ms);
  printf ("%-22s %14.0f %14.0f %15.2f ms\n", "tcp, CURVE (user key)",
          r_sec.seq_rps, r_sec.pipe_rps, r_sec.first_ms);
  printf ("%-22s %14.0f %14.0f %15.2f ms\n", "ipc, local user", r_ipc.seq_rps,
          r_ipc.pipe_rps, r_ipc.first_ms);
  double ratio = r_sec.pipe_rps / r_ins.pipe_rps;
  printf ("CURVE / insecure, pipelined: %.2f (target at least 0.5: %s); "
          "sequential: %.2f\n", ratio, ratio >= 0.5 ? "met" : "NOT met",
          r_sec.seq_rps / r_ins.seq_rps);
  return 0;
}
