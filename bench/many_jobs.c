/*
 * many_jobs.c — many concurrent jobs on one coordinator (issue 12 item 1:
 * 1,000 concurrent jobs), against the same nodes and workers as one job.
 *
 * Simulated agents (rdzv_sim.c, the shards of bench/rdzv_load) connect to a
 * musterd started here; agent g brings job g / N ("bench-job-00042") with
 * --nnodes N:N, so --jobs J makes J jobs of N nodes x W workers, all
 * running at once.  Phases, each timed on CLOCK_MONOTONIC:
 *
 *   connect  every agent connects (not part of any figure but memory)
 *   start    from the first agent.register sent until every agent of every
 *            job holds its job.start: "time to start all"
 *   control  with every job running: --ctl-requests ctl.list (every job,
 *            the reply checked to hold all J running) and as many ctl.get
 *            of jobs picked round-robin, one at a time over the local
 *            control socket: their latency, mean and worst
 *   steady   --steady seconds of heartbeats only: musterd's CPU share
 *   finish   every worker reports its exit; until every agent holds its
 *            job.done "succeeded": "time to finish all"
 *
 * musterd's memory (VmRSS, split into its own heap and the anonymous
 * mappings where libzmq's I/O thread allocates: proc_stats.h) is read
 * idle, connected and with every job running; per job = growth over the
 * start / J.  Its CPU is read around each phase.
 *
 * Baseline, same run: the same J x N agents bringing one job of J x N
 * nodes (what the nodes and workers cost without the jobs), with a fresh
 * musterd.  The ratios say what being J jobs costs.
 *
 * A benchmark: it exits 0 whatever the figures are, and non-zero only when
 * something broke (a job not started or not succeeded, a control request
 * unanswered or a list missing jobs).
 *
 *   many_jobs --musterd build/bin/musterd [--jobs 1000] [--nodes 2]
 *             [--workers 2] [--steady 2] [--ctl-requests 100]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "bench/proc_stats.h"
#include "bench/rdzv_load.h"
#include "common/proto.h"
#include "common/wire.h"

extern char **environ;

/* ------------------------------------------------------------- musterd */

typedef struct daemon
{
  pid_t pid;
  char dir[64];
  char log[128];
  char agent_ep[320];
  char ctl_ep[320];
} daemon_t;

static void
start_musterd (const char *exe, const char *heartbeat, daemon_t *d)
{
  strcpy (d->dir, "/tmp/many_jobs.XXXXXX");
  if (mkdtemp (d->dir) == NULL)
    rl_die ("mkdtemp: %s", strerror (errno));
  char epfile[128], state[128];
  snprintf (epfile, sizeof epfile, "%s/endpoints", d->dir);
  snprintf (state, sizeof state, "%s/state", d->dir);
  snprintf (d->log, sizeof d->log, "%s/musterd.log", d->dir);
  /* Plain TCP for the simulated agents (this measures the coordinator's
   * work per job, not CURVE's); the control port is the local socket. */
  const char *argv[20] = { exe,           "--agent-bind", "tcp://127.0.0.1:*",
                           "--ctl-bind",  "none",         "--endpoints-file",
                           epfile,        "--log-level",  "warn",
                           "--insecure",  "--state-dir",  state };
  int k = 12;
  if (heartbeat != NULL)
    {
      argv[k++] = "--heartbeat";
      argv[k++] = heartbeat;
    }
  argv[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 2, d->log,
                                    O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn (&d->pid, exe, &fa, NULL, (char **)argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc != 0)
    rl_die ("cannot start %s: %s", exe, strerror (rc));
  for (int i = 0; i < 1000 && (!d->agent_ep[0] || !d->ctl_ep[0]); i++)
    {
      FILE *f = fopen (epfile, "r");
      char key[32], val[320];
      while (f != NULL && fscanf (f, "%31s %319s", key, val) == 2)
        if (strcmp (key, "agent") == 0)
          snprintf (d->agent_ep, sizeof d->agent_ep, "%s", val);
        else if (strcmp (key, "ctl-local") == 0)
          snprintf (d->ctl_ep, sizeof d->ctl_ep, "%s", val);
      if (f != NULL)
        fclose (f);
      int st;
      if (waitpid (d->pid, &st, WNOHANG) == d->pid)
        rl_die ("musterd exited at start; see %s", d->log);
      if (!d->agent_ep[0] || !d->ctl_ep[0])
        usleep (10000);
    }
  if (!d->agent_ep[0] || !d->ctl_ep[0])
    rl_die ("musterd wrote no endpoints in 10 s; see %s", d->log);
}

static void
stop_musterd (daemon_t *d, int keep)
{
  kill (d->pid, SIGTERM);
  int st = 0;
  for (int i = 0; i < 500 && waitpid (d->pid, &st, WNOHANG) == 0; i++)
    usleep (10000);
  if (waitpid (d->pid, &st, WNOHANG) == 0)
    {
      kill (d->pid, SIGKILL);
      waitpid (d->pid, &st, 0);
    }
  if (keep)
    {
      fprintf (stderr, "many_jobs: musterd's log is %s\n", d->log);
      return;
    }
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf %s", d->dir);
  if (system (cmd) != 0)
    fprintf (stderr, "many_jobs: could not remove %s\n", d->dir);
}

/* ------------------------------------------------------- control port */

/* One request, its reply decoded into *rep; the round trip in us, or -1. */
static long
ctl_call (void *s, const mu_msg_t *req, mu_msg_t *rep)
{
  uint64_t t0 = rl_now_us ();
  if (mu_wire_send (s, NULL, req) != 0)
    return -1;
  zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
  if (zmq_poll (&it, 1, 10000) <= 0)
    return -1;
  char err[128];
  if (mu_wire_recv (s, NULL, rep, err, sizeof err) != 0)
    return -1;
  return (long)(rl_now_us () - t0);
}

typedef struct lat
{
  double mean_ms, max_ms;
} lat_t;

/* ctl.list and ctl.get, `n` of each; 0, or -1 with the reason on stderr
 * (an unanswered request, a list without every job running). */
static int
measure_ctl (const char *ep, uint32_t jobs, uint32_t per_job, int n,
             lat_t *list, lat_t *get)
{
  void *ctx = zmq_ctx_new ();
  void *s = zmq_socket (ctx, ZMQ_DEALER);
  int zero = 0;
  zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero);
  int bad = zmq_connect (s, ep) != 0;
  double lsum = 0, gsum = 0;
  list->max_ms = get->max_ms = 0;
  for (int i = 0; i < n && !bad; i++)
    {
      mu_msg_t req, rep;
      memset (&req, 0, sizeof req);
      req.type = MU_MSG_CTL_LIST;
      long us = ctl_call (s, &req, &rep);
      if (us < 0 || rep.type != MU_MSG_CTL_LIST_REPLY)
        {
          fprintf (stderr, "many_jobs: ctl.list unanswered\n");
          bad = 1;
          if (us >= 0)
            mu_msg_clear (&rep);
          break;
        }
      size_t running = 0;
      for (size_t r = 0; r < rep.u.ctl_list_reply.jobs.n; r++)
        if (strcmp (rep.u.ctl_list_reply.jobs.v[r].state, "running") == 0
            && strncmp (rep.u.ctl_list_reply.jobs.v[r].id, "bench-", 6) == 0)
          running++;
      size_t listed = rep.u.ctl_list_reply.jobs.n;
      mu_msg_clear (&rep);
      if (running != jobs)
        {
          fprintf (stderr,
                   "many_jobs: ctl.list: %zu jobs listed, %zu running, "
                   "expected %u running\n",
                   listed, running, jobs);
          bad = 1;
          break;
        }
      lsum += (double)us / 1000.0;
      if ((double)us / 1000.0 > list->max_ms)
        list->max_ms = (double)us / 1000.0;

      char id[32];
      if (jobs > 1)
        snprintf (id, sizeof id, "bench-job-%05u",
                  (uint32_t)((uint64_t)i * 7919u % jobs));
      else
        snprintf (id, sizeof id, "bench-rdzv");
      memset (&req, 0, sizeof req);
      req.type = MU_MSG_CTL_GET;
      req.u.ctl_get.job = id;
      us = ctl_call (s, &req, &rep);
      if (us < 0 || rep.type != MU_MSG_CTL_GET_REPLY
          || rep.u.ctl_get_reply.members.n != per_job)
        {
          fprintf (stderr, "many_jobs: ctl.get %s: %s\n", id,
                   us < 0 ? "unanswered" : "not the job's members");
          bad = 1;
          if (us >= 0)
            mu_msg_clear (&rep);
          break;
        }
      mu_msg_clear (&rep);
      gsum += (double)us / 1000.0;
      if ((double)us / 1000.0 > get->max_ms)
        get->max_ms = (double)us / 1000.0;
    }
  zmq_close (s);
  zmq_ctx_term (ctx);
  list->mean_ms = n ? lsum / n : 0;
  get->mean_ms = n ? gsum / n : 0;
  return bad ? -1 : 0;
}

/* ---------------------------------------------------------------- runs */

typedef struct result
{
  uint32_t jobs;
  double start_ms, finish_ms;
  double cpu_start_s, cpu_finish_s, steady_pct;
  long rss_idle, rss_conn, rss_run; /* kB */
  ps_mem_t m_conn, m_run;
  lat_t list, get;
} result_t;

static int
run (const char *exe, const opts_t *o, int ctl_requests, result_t *res)
{
  memset (res, 0, sizeof *res);
  res->jobs = o->jobs ? o->jobs : 1;
  uint32_t per = rl_raise_nofile (o->agents);
  int k = (int)((o->agents + per - 1) / per);
  daemon_t d;
  memset (&d, 0, sizeof d);
  start_musterd (exe, o->heartbeat, &d);
  /* Shards hold whole jobs: a job's agents sit in one process. */
  rl_shard_t *sh = rl_shards_start (o, d.agent_ep, k,
                                    o->jobs > 1 ? o->agents / o->jobs : 1);
  int bad = 0;
  report_t r;
  res->rss_idle = ps_status_kb (d.pid, "VmRSS");
  if (rl_shards_phase (sh, k, 'C', &r) != 0)
    {
      bad = 1;
      goto out;
    }
  usleep (200000);
  res->rss_conn = ps_status_kb (d.pid, "VmRSS");
  ps_mem (d.pid, &res->m_conn);
  double c0 = ps_cpu_s (d.pid);
  uint64_t t0 = rl_now_us ();
  if (rl_shards_phase (sh, k, 'R', &r) != 0)
    {
      bad = 1;
      goto out;
    }
  res->start_ms = rl_ms (r.t_last - t0);
  res->cpu_start_s = ps_cpu_s (d.pid) - c0;
  usleep (1500000); /* musterd trims its heap a second after a burst */
  res->rss_run = ps_status_kb (d.pid, "VmRSS");
  ps_mem (d.pid, &res->m_run);
  if (measure_ctl (d.ctl_ep, res->jobs, o->agents / res->jobs, ctl_requests,
                   &res->list, &res->get)
      != 0)
    {
      bad = 1;
      goto out;
    }
  if (o->steady_s > 0)
    {
      double s0 = ps_cpu_s (d.pid);
      uint64_t w0 = rl_now_us ();
      if (rl_shards_phase (sh, k, 'I', &r) != 0)
        {
          bad = 1;
          goto out;
        }
      res->steady_pct = 100.0 * (ps_cpu_s (d.pid) - s0)
                        / ((double)(rl_now_us () - w0) / 1e6);
    }
  if (rl_shards_phase (sh, k, 'E', &r) != 0)
    {
      bad = 1;
      goto out;
    }
  c0 = ps_cpu_s (d.pid);
  t0 = rl_now_us ();
  if (rl_shards_phase (sh, k, 'X', &r) != 0)
    {
      bad = 1;
      goto out;
    }
  res->finish_ms = rl_ms (r.t_last - t0);
  res->cpu_finish_s = ps_cpu_s (d.pid) - c0;
out:
  if (rl_shards_stop (&sh, k) != 0)
    bad = 1;
  stop_musterd (&d, bad);
  return bad ? -1 : 0;
}

static void
print_result (const char *label, const opts_t *o, const result_t *r)
{
  printf ("  %s: %u job(s) of %u node(s) x %u workers\n", label, r->jobs,
          o->agents / r->jobs, o->workers);
  printf ("    start all      %9.1f ms   (musterd CPU %.2f s, %.0f us per "
          "job)\n",
          r->start_ms, r->cpu_start_s, r->cpu_start_s * 1e6 / r->jobs);
  printf ("    ctl.list       %9.2f ms mean, %.2f ms max (%u jobs listed)\n",
          r->list.mean_ms, r->list.max_ms, r->jobs);
  printf ("    ctl.get        %9.2f ms mean, %.2f ms max\n", r->get.mean_ms,
          r->get.max_ms);
  if (o->steady_s > 0)
    printf ("    steady         %9.1f %% of a core (heartbeats only, %.1f s)\n",
            r->steady_pct, o->steady_s);
  printf ("    finish all     %9.1f ms   (musterd CPU %.2f s)\n", r->finish_ms,
          r->cpu_finish_s);
  printf ("    musterd VmRSS  %ld kB idle, %ld kB connected, %ld kB running "
          "(heap %ld -> %ld kB, anonymous %ld -> %ld kB)\n",
          r->rss_idle, r->rss_conn, r->rss_run, r->m_conn.heap_kb,
          r->m_run.heap_kb, r->m_conn.anon_kb, r->m_run.anon_kb);
  printf ("    per job        %9.0f B    (VmRSS growth over the start / "
          "jobs; musterd's heap alone %.0f B)\n",
          (double)(r->rss_run - r->rss_conn) * 1024.0 / r->jobs,
          (double)(r->m_run.heap_kb - r->m_conn.heap_kb) * 1024.0 / r->jobs);
}

/* A whole decimal number, or -1 (so that "x" or "2k" is refused). */
static long
num (const char *s)
{
  char *end;
  errno = 0;
  long v = strtol (s, &end, 10);
  return errno || *s == '\0' || *end != '\0' ? -1 : v;
}

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: many_jobs --musterd PATH [options]\n"
           "  --jobs J          concurrent jobs (default 1000)\n"
           "  --nodes N         simulated agents per job (default 2)\n"
           "  --workers W       workers per agent (default 2)\n"
           "  --heartbeat DUR   musterd --heartbeat (default: its own)\n"
           "  --steady SEC      heartbeats-only period measured (default 2)\n"
           "  --ctl-requests R  ctl.list and ctl.get each (default 100)\n"
           "  --timeout SEC     give up on a phase after this (default 120)\n"
           "  --no-baseline     skip the one-job run\n"
           "  --verbose         progress on stderr\n");
}

int
main (int argc, char **argv)
{
  rl_prog = "many_jobs";
  static const struct option lo[]
      = { { "musterd", required_argument, 0, 'm' },
          { "jobs", required_argument, 0, 'j' },
          { "nodes", required_argument, 0, 'n' },
          { "workers", required_argument, 0, 'w' },
          { "heartbeat", required_argument, 0, 'H' },
          { "steady", required_argument, 0, 's' },
          { "ctl-requests", required_argument, 0, 'c' },
          { "timeout", required_argument, 0, 't' },
          { "no-baseline", no_argument, 0, 'B' },
          { "verbose", no_argument, 0, 'v' },
          { "help", no_argument, 0, 'h' },
          { 0, 0, 0, 0 } };
  const char *exe = NULL;
  long jobs = 1000, nodes = 2, workers = 2, ctl_requests = 100;
  int baseline = 1;
  opts_t o;
  memset (&o, 0, sizeof o);
  o.timeout_s = 120;
  o.steady_s = 2;
  o.connect_window = 64;
  o.io_threads = 1;
  o.log_level = "warn";
  o.role = "worker";
  int c;
  while ((c = getopt_long (argc, argv, "h", lo, NULL)) != -1)
    switch (c)
      {
      case 'm':
        exe = optarg;
        break;
      case 'j':
        jobs = num (optarg);
        break;
      case 'n':
        nodes = num (optarg);
        break;
      case 'w':
        workers = num (optarg);
        break;
      case 'H':
        o.heartbeat = optarg;
        break;
      case 's':
        o.steady_s = atof (optarg);
        break;
      case 'c':
        ctl_requests = num (optarg);
        break;
      case 't':
        o.timeout_s = atof (optarg);
        break;
      case 'B':
        baseline = 0;
        break;
      case 'v':
        rl_verbose = 1;
        break;
      case 'h':
        usage (stdout);
        return 0;
      default:
        usage (stderr);
        return 2;
      }
  const char *bad_opt = NULL;
  char why[160];
  if (optind != argc)
    snprintf (why, sizeof why, "unexpected argument '%s'", argv[optind]),
        bad_opt = why;
  else if (exe == NULL)
    bad_opt = "--musterd PATH is required";
  else if (jobs < 1 || jobs > 100000)
    bad_opt = "--jobs must be 1..100000";
  else if (nodes < 1 || nodes > 1000)
    bad_opt = "--nodes must be 1..1000";
  else if (workers < 1 || workers > 1000)
    bad_opt = "--workers must be 1..1000";
  else if (ctl_requests < 0)
    bad_opt = "--ctl-requests must be 0 or more";
  else if (jobs * nodes > 200000)
    snprintf (why, sizeof why, "--jobs x --nodes is %ld agents; at most 200000",
              jobs * nodes),
        bad_opt = why;
  if (bad_opt != NULL)
    {
      fprintf (stderr, "many_jobs: %s\n", bad_opt);
      usage (stderr);
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  o.agents = (uint32_t)(jobs * nodes);
  o.workers = (uint32_t)workers;
  double la[3] = { -1, -1, -1 };
  if (getloadavg (la, 3) < 0)
    la[0] = -1;
  printf ("many_jobs: %ld jobs x %ld nodes x %ld workers = %u agents, %lu "
          "workers; load average %.2f\n",
          jobs, nodes, workers, o.agents, (unsigned long)o.agents * workers,
          la[0]);
  fflush (stdout);
  result_t many, one;
  o.jobs = (uint32_t)jobs;
  int bad = run (exe, &o, (int)ctl_requests, &many) != 0;
  if (!bad)
    print_result ("many jobs", &o, &many);
  fflush (stdout);
  if (!bad && baseline && jobs > 1)
    {
      o.jobs = 1;
      bad = run (exe, &o, (int)ctl_requests, &one) != 0;
      if (!bad)
        {
          print_result ("baseline, one job of the same nodes", &o, &one);
          printf ("  ratios (many / one): start %.2f, musterd CPU at start "
                  "%.2f, finish %.2f, ctl.list %.1f, ctl.get %.2f, memory "
                  "growth at start %.2f\n",
                  many.start_ms / one.start_ms,
                  one.cpu_start_s > 0 ? many.cpu_start_s / one.cpu_start_s
                                      : -1.0,
                  many.finish_ms / one.finish_ms,
                  many.list.mean_ms / one.list.mean_ms,
                  many.get.mean_ms / one.get.mean_ms,
                  one.rss_run > one.rss_conn
                      ? (double)(many.rss_run - many.rss_conn)
                            / (double)(one.rss_run - one.rss_conn)
                      : -1.0);
        }
    }
  if (!bad)
    printf ("RESULT jobs=%ld nodes=%ld workers=%ld start_ms=%.1f "
            "finish_ms=%.1f cpu_start_s=%.2f ctl_list_ms=%.2f "
            "ctl_get_ms=%.2f steady_cpu_pct=%.1f per_job_b=%.0f\n",
            jobs, nodes, workers, many.start_ms, many.finish_ms,
            many.cpu_start_s, many.list.mean_ms, many.get.mean_ms,
            many.steady_pct,
            (double)(many.rss_run - many.rss_conn) * 1024.0 / (double)jobs);
  return bad ? 1 : 0;
}
