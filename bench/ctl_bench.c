/*
 * ctl_bench.c — control-port round trips per second, security on and off.
 *
 * Part two (ctl area): ctl.get of one job and ctl.list of every job over
 * TCP, CURVE and --insecure, against the bare transport measured in the
 * same run: a ZeroMQ ROUTER on a thread of this process echoing each
 * request (with and without CURVE), so "vs echo" is the share of the
 * transport's rate musterd keeps after decoding, authorizing, building
 * and encoding the answer.  Target: at least 50,000 ctl.get/s with CURVE.
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
#include <pthread.h>
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

/* The reply type the request at hand expects (MU_MSG_NONE: any frame,
 * the echo baseline). */
static mu_msg_type_t expect_type = MU_MSG_CTL_STATUS_REPLY;

static int
recv_one (void *s, int timeout_ms)
{
  zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
  if (zmq_poll (&it, 1, timeout_ms) <= 0)
    return -1;
  if (expect_type == MU_MSG_NONE)
    {
      zmq_msg_t f;
      zmq_msg_init (&f);
      int r = zmq_msg_recv (&f, s, 0);
      zmq_msg_close (&f);
      return r >= 0 ? 0 : -1;
    }
  if (expect_type != MU_MSG_CTL_STATUS_REPLY)
    {
      /* get and list: what the coordinator serves, not what this client
       * spends decoding (a list of 100 rows costs a C client more than
       * musterd): the frame is checked to be the reply's type, unparsed. */
      zmq_msg_t f;
      zmq_msg_init (&f);
      int r = zmq_msg_recv (&f, s, 0);
      const char *want = expect_type == MU_MSG_CTL_GET_REPLY ? "ctl.get.reply"
                                                             : "ctl.list.reply";
      int ok = r > 0 && memmem (zmq_msg_data (&f), zmq_msg_size (&f), want,
                                strlen (want)) != NULL;
      zmq_msg_close (&f);
      return ok ? 0 : -1;
    }
  mu_msg_t m;
  char err[128];
  int rc = mu_wire_recv (s, NULL, &m, err, sizeof err);
  int ok = rc == 0 && m.type == expect_type;
  mu_msg_clear (&m);
  return ok ? 0 : -1;
}

typedef struct result {
  double seq_rps, pipe_rps, first_ms;
} result_t;

static int
measure_req (const char *name, const char *ep, const char *server_key,
             const mu_cert_t *user, int n, int window, const mu_msg_t *reqp,
             result_t *r)
{
  void *ctx = zmq_ctx_new ();
  mu_msg_t req = *reqp;
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

static int
measure (const char *name, const char *ep, const char *server_key,
         const mu_cert_t *user, int n, int window, result_t *r)
{
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_STATUS;
  req.u.ctl_status.job = (char *)"job-0";
  expect_type = MU_MSG_CTL_STATUS_REPLY;
  return measure_req (name, ep, server_key, user, n, window, &req, r);
}

/* ctl.get of one job, ctl.list of them all (state filter "pending": every
 * job, so the reply carries njobs rows). */
static int
measure_op (const char *op, const char *ep, const char *server_key,
            const mu_cert_t *user, int n, int window, result_t *r)
{
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  if (strcmp (op, "get") == 0)
    {
      req.type = MU_MSG_CTL_GET;
      req.u.ctl_get.job = (char *)"job-0";
      expect_type = MU_MSG_CTL_GET_REPLY;
    }
  else
    {
      req.type = MU_MSG_CTL_LIST;
      expect_type = MU_MSG_CTL_LIST_REPLY;
    }
  return measure_req (op, ep, server_key, user, n, window, &req, r);
}

/* The transport alone: a ROUTER on a thread of this process echoing every
 * request, with CURVE (this process's server key) or without.  What a
 * control request costs beyond it is musterd's. */
typedef struct echo {
  void *ctx;
  char ep[128];
  mu_keypair_t server;
  const char *user_pub;
  int secure;
  pthread_t th;
  volatile int ready;
} echo_t;

static void *
echo_main (void *arg)
{
  echo_t *e = arg;
  void *s = zmq_socket (e->ctx, ZMQ_ROUTER);
  int zero = 0, one = 1, hwm = 100000;
  zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt (s, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt (s, ZMQ_RCVHWM, &hwm, sizeof hwm);
  if (e->secure)
    {
      zmq_setsockopt (s, ZMQ_CURVE_SERVER, &one, sizeof one);
      zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, e->server.sec, 40);
    }
  zmq_bind (s, "tcp://127.0.0.1:*");
  size_t len = sizeof e->ep;
  zmq_getsockopt (s, ZMQ_LAST_ENDPOINT, e->ep, &len);
  e->ready = 1;
  for (;;)
    {
      zmq_msg_t id, body;
      zmq_msg_init (&id);
      zmq_msg_init (&body);
      if (zmq_msg_recv (&id, s, 0) < 0 || zmq_msg_recv (&body, s, 0) < 0)
        {
          zmq_msg_close (&id);
          zmq_msg_close (&body);
          break; /* the context was terminated */
        }
      zmq_msg_send (&id, s, ZMQ_SNDMORE);
      zmq_msg_send (&body, s, 0);
    }
  zmq_close (s);
  return NULL;
}

static int
measure_echo (int secure, const mu_cert_t *user, int n, int window,
              result_t *r)
{
  echo_t e;
  memset (&e, 0, sizeof e);
  e.ctx = zmq_ctx_new ();
  e.secure = secure;
  if (mu_keypair_new (&e.server) != 0)
    die ("keypair");
  pthread_create (&e.th, NULL, echo_main, &e);
  while (!e.ready)
    usleep (1000);
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_GET;
  req.u.ctl_get.job = (char *)"job-0";
  expect_type = MU_MSG_NONE;
  int rc = measure_req ("echo", e.ep, secure ? e.server.pub : NULL,
                        secure ? user : NULL, n, window, &req, r);
  zmq_ctx_term (e.ctx); /* ends the echo thread's recv */
  pthread_join (e.th, NULL);
  return rc;
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
  /* get and list, security on (CURVE) and off, and the bare transport. */
  result_t g_sec, g_ins, l_sec, l_ins, e_sec, e_ins;
  bad |= measure_op ("get", sec.tcp, sec.server_key, &user, n, window, &g_sec)
         | measure_op ("get", ins.tcp, NULL, NULL, n, window, &g_ins)
         | measure_op ("list", sec.tcp, sec.server_key, &user, n, window, &l_sec)
         | measure_op ("list", ins.tcp, NULL, NULL, n, window, &l_ins)
         | measure_echo (1, &user, n, window, &e_sec)
         | measure_echo (0, &user, n, window, &e_ins);
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
  printf ("\nctl.get of one job and ctl.list of all %d, over TCP from one C "
          "client (%d requests, window %d)\n", njobs, n, window);
  printf ("%-34s %14s %14s %12s\n", "request", "sequential/s", "pipelined/s",
          "vs echo");
  printf ("%-34s %14.0f %14.0f %12s\n", "zmq echo, CURVE (baseline)",
          e_sec.seq_rps, e_sec.pipe_rps, "1.00");
  printf ("%-34s %14.0f %14.0f %12s\n", "zmq echo, plain (baseline)",
          e_ins.seq_rps, e_ins.pipe_rps, "-");
  printf ("%-34s %14.0f %14.0f %12.2f\n", "ctl.get, CURVE", g_sec.seq_rps,
          g_sec.pipe_rps, g_sec.pipe_rps / e_sec.pipe_rps);
  printf ("%-34s %14.0f %14.0f %12.2f\n", "ctl.get, --insecure", g_ins.seq_rps,
          g_ins.pipe_rps, g_ins.pipe_rps / e_ins.pipe_rps);
  printf ("%-34s %14.0f %14.0f %12.2f\n", "ctl.list, CURVE", l_sec.seq_rps,
          l_sec.pipe_rps, l_sec.pipe_rps / e_sec.pipe_rps);
  printf ("%-34s %14.0f %14.0f %12.2f\n", "ctl.list, --insecure", l_ins.seq_rps,
          l_ins.pipe_rps, l_ins.pipe_rps / e_ins.pipe_rps);
  printf ("ctl.get with CURVE, pipelined: %.0f requests/s (target at least "
          "50000: %s); ctl.list: %.0f/s\n\n", g_sec.pipe_rps,
          g_sec.pipe_rps >= 50000 ? "met" : "NOT met", l_sec.pipe_rps);
  double ratio = r_sec.pipe_rps / r_ins.pipe_rps;
  printf ("CURVE / insecure, pipelined: %.2f (target at least 0.5: %s); "
          "sequential: %.2f\n", ratio, ratio >= 0.5 ? "met" : "NOT met",
          r_sec.seq_rps / r_ins.seq_rps);
  return 0;
}
