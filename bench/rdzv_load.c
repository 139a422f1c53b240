/*
 * rdzv_load.c — rendezvous load generator: many simulated agents against
 * one musterd.
 *
 * Each simulated agent is one ZeroMQ DEALER socket whose routing id is its
 * node id, speaking the agent side of the protocol as worker/agent.c does,
 * through the project's codec (common/proto.h, common/wire.h):
 *
 *     A -> C  agent.register {node_id, host, slots = W, job = spec}
 *     C -> A  agent.welcome {heartbeat_ms, miss_limit}, rdzv.progress ...
 *     A <-> C agent.heartbeat every heartbeat_ms (from the welcome)
 *     C -> A  job.start {epoch, assign[W], nodes, ...}     (round closed)
 *     A -> C  worker.state {rank, "exited", exit_code 0}   (W per agent)
 *     C -> A  job.done {state "succeeded"}
 *
 * Every agent brings the same job with --nnodes A:A (min = max = A), so the
 * round closes the moment the A-th node joins.  Phases, each timed on
 * CLOCK_MONOTONIC (comparable across processes):
 *
 *   connect   every socket connects and sends one heartbeat before it
 *             registers; musterd answers an unknown node with an error,
 *             and once every socket has its answer all connections are up.
 *             At most --connect-window connections are in flight at once.
 *             Timed, but kept out of the rendezvous figure.
 *   round     from the first agent.register sent until every agent holds
 *             its job.start (also: when the last welcome and the first
 *             job.start arrived).
 *   steady    --steady seconds of the running job with only heartbeats:
 *             musterd's CPU share and the heartbeat round trip.
 *   done      from the first worker.state "exited" sent until every agent
 *             holds job.done.
 *
 * Everything sent in a timed phase is encoded beforehand, so the figures
 * are the coordinator's work plus the transport, not this program's
 * encoder; what arrives is decoded in full, as an agent would.  musterd's
 * memory is read from /proc/PID/status (VmRSS) before connecting, after
 * connecting and after the round closed; its CPU time from /proc/PID/stat.
 * Per worker = growth / (A * W).
 *
 * Scaling: ZMQ_MAX_SOCKETS is raised on each context and RLIMIT_NOFILE as
 * far as allowed; each socket needs two descriptors (its mailbox and its
 * TCP connection), so when the limit cannot hold them all the agents are
 * split into shards, one process each (forked before any ZeroMQ context
 * exists), driven phase by phase over pipes.  Instead of zmq_poll over
 * thousands of sockets (O(sockets) per call), one epoll set watches every
 * socket's ZMQ_FD and only signalled sockets are drained.  ZMQ_FD is
 * edge-like, so a socket is also drained after every send to it, and all
 * are swept when the loop has been idle for a second.  Heartbeats fall due
 * in welcome order, so a FIFO ring is the timer queue.
 *
 * This is a benchmark, not a test: it exits 0 whatever the figures are, and
 * non-zero only when something broke (a refusal, a lost node, a timeout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/proto.h"
#include "common/wire.h"

extern char **environ;

#define SOCK_HWM 100000
#define SEND_BATCH 256     /* sends between two looks at incoming traffic */
#define SWEEP_IDLE_MS 1000 /* full sweep of all sockets when idle this long */
#define JOB_ID "bench-rdzv"

/* ------------------------------------------------------------- options */

typedef struct opts {
  uint32_t agents;
  uint32_t workers;
  const char *musterd;    /* start this binary, or */
  const char *endpoint;   /* use this agent endpoint */
  long pid;               /* musterd pid for --endpoint (memory, CPU) */
  const char *heartbeat;  /* --heartbeat for a musterd we start */
  const char *perf;       /* perf record output for a musterd we start */
  const char *log_level;  /* musterd --log-level */
  const char *dargs[16];  /* more musterd arguments (--musterd-arg) */
  int ndargs;
  double timeout_s;
  double steady_s;        /* heartbeat-only period measured after the round */
  uint32_t connect_window; /* connections in flight at once, 0 = all */
  int io_threads;
  int verbose;
  const char *sizes;      /* --sizes: run each AxW in turn, then a table */
  int reps;               /* --reps: runs per size with --sizes */
  int nice;               /* niceness of the load processes */
} opts_t;

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: rdzv_load [options]\n"
           "  --agents N        simulated agents (nodes), default 1000\n"
           "  --workers N       workers per agent, default 10\n"
           "  --musterd PATH    start this musterd on 127.0.0.1, port 0\n"
           "  --endpoint EP     or use a running one (tcp://H:P)\n"
           "  --pid PID         with --endpoint: its pid, for memory and CPU\n"
           "  --heartbeat DUR   --heartbeat for the musterd started here\n"
           "  --log-level L     --log-level for it (default warn)\n"
           "  --perf FILE       profile it: perf record -g -o FILE\n"
           "  --musterd-arg A   pass A to it (repeatable), e.g.\n"
           "                    --musterd-arg=--full-members-max=1\n"
           "  --timeout SEC     give up on a phase after this (default 120)\n"
           "  --steady SEC      measure the running job's heartbeat load for\n"
           "                    this long after the round (default 2, 0 = skip)\n"
           "  --connect-window N  connections in flight at once (default 64;\n"
           "                    0 = all at once, a burst)\n"
           "  --io-threads N    ZeroMQ I/O threads here (default 1)\n"
           "  --verbose         progress on stderr\n"
           "  --sizes LIST      run each AGENTSxWORKERS of LIST (e.g.\n"
           "                    100x10,1000x10,10000x10) with a fresh musterd\n"
           "                    and print a summary table\n"
           "  --reps N          with --sizes: runs per size, medians reported\n"
           "                    (default 1)\n"
           "  --nice N          niceness of the load processes (default 0); on a\n"
           "                    small machine 10 lets musterd have the CPU it\n"
           "                    would have on its own host\n");
}

static int
parse_u32 (const char *s, uint32_t *out)
{
  char *end;
  errno = 0;
  unsigned long v = strtoul (s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v == 0 || v > UINT32_MAX)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

static int
parse_opts (int argc, char **argv, opts_t *o)
{
  static const struct option lo[] = {
    { "agents", required_argument, 0, 'a' },
    { "workers", required_argument, 0, 'w' },
    { "musterd", required_argument, 0, 'm' },
    { "endpoint", required_argument, 0, 'e' },
    { "pid", required_argument, 0, 'p' },
    { "heartbeat", required_argument, 0, 'H' },
    { "log-level", required_argument, 0, 'L' },
    { "perf", required_argument, 0, 'P' },
    { "musterd-arg", required_argument, 0, 'D' },
    { "timeout", required_argument, 0, 't' },
    { "steady", required_argument, 0, 's' },
    { "connect-window", required_argument, 0, 'W' },
    { "io-threads", required_argument, 0, 'i' },
    { "verbose", no_argument, 0, 'v' },
    { "sizes", required_argument, 0, 'S' },
    { "reps", required_argument, 0, 'r' },
    { "nice", required_argument, 0, 'n' },
    { "help", no_argument, 0, 'h' },
    { 0, 0, 0, 0 },
  };
  memset (o, 0, sizeof *o);
  o->agents = 1000;
  o->workers = 10;
  o->timeout_s = 120;
  o->steady_s = 2;
  o->connect_window = 64;
  o->io_threads = 1;
  o->log_level = "warn";
  int c;
  uint32_t u;
  while ((c = getopt_long (argc, argv, "h", lo, NULL)) != -1)
    switch (c)
      {
      case 'a':
        if (parse_u32 (optarg, &o->agents) != 0)
          return -1;
        break;
      case 'w':
        if (parse_u32 (optarg, &o->workers) != 0)
          return -1;
        break;
      case 'm':
        o->musterd = optarg;
        break;
      case 'e':
        o->endpoint = optarg;
        break;
      case 'p':
        o->pid = atol (optarg);
        break;
      case 'H':
        o->heartbeat = optarg;
        break;
      case 'L':
        o->log_level = optarg;
        break;
      case 'P':
        o->perf = optarg;
        break;
      case 'D':
        if (o->ndargs == 16)
          return -1;
        o->dargs[o->ndargs++] = optarg;
        break;
      case 't':
        o->timeout_s = atof (optarg);
        break;
      case 's':
        o->steady_s = atof (optarg);
        break;
      case 'W':
        o->connect_window = (uint32_t)strtoul (optarg, NULL, 10);
        break;
      case 'i':
        if (parse_u32 (optarg, &u) != 0)
          return -1;
        o->io_threads = (int)u;
        break;
      case 'v':
        o->verbose = 1;
        break;
      case 'S':
        o->sizes = optarg;
        break;
      case 'r':
        o->reps = atoi (optarg);
        break;
      case 'n':
        o->nice = atoi (optarg);
        break;
      case 'h':
        usage (stdout);
        exit (0);
      default:
        return -1;
      }
  if (optind != argc || (o->musterd == NULL) == (o->endpoint == NULL))
    return -1;
  return 0;
}

/* ------------------------------------------------------------- helpers */

static uint64_t
now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double
ms (uint64_t us)
{
  return (double)us / 1000.0;
}

static int verbose;

static void
note (const char *fmt, ...)
{
  if (!verbose)
    return;
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "rdzv_load: ");
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

static void
die (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "rdzv_load: ");
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  exit (1);
}

/* VmRSS / VmHWM of a process in kB, or -1. */
static long
proc_status_kb (long pid, const char *field)
{
  char path[64], line[256];
  snprintf (path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return -1;
  long v = -1;
  size_t fl = strlen (field);
  while (fgets (line, sizeof line, f) != NULL)
    if (strncmp (line, field, fl) == 0 && line[fl] == ':')
      {
        v = atol (line + fl + 1);
        break;
      }
  fclose (f);
  return v;
}

/* utime + stime of a process in seconds, or -1. */
static double
proc_cpu_s (long pid)
{
  char path[64], buf[2048];
  snprintf (path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread (buf, 1, sizeof buf - 1, f);
  fclose (f);
  buf[n] = '\0';
  char *p = strrchr (buf, ')'); /* comm may contain spaces */
  if (p == NULL)
    return -1;
  unsigned long ut = 0, st = 0;
  /* after ')': state(3) ... utime is field 14, stime 15 */
  if (sscanf (p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
              &ut, &st)
      != 2)
    return -1;
  return (double)(ut + st) / (double)sysconf (_SC_CLK_TCK);
}

static double
self_cpu_s (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Raise RLIMIT_NOFILE as far as allowed (as root with CAP_SYS_RESOURCE
 * past the hard limit) and return how many agents one process can hold:
 * each needs two descriptors (its socket's mailbox and its TCP connection).
 * More agents than that are spread over several processes.  musterd, when
 * started here, inherits the limit and needs one descriptor per agent. */
static uint32_t
raise_nofile (uint32_t agents)
{
  rlim_t need = (rlim_t)agents * 2 + 1024;
  struct rlimit rl;
  getrlimit (RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < need)
    {
      struct rlimit want = { need, rl.rlim_max > need ? rl.rlim_max : need };
      if (setrlimit (RLIMIT_NOFILE, &want) != 0)
        {
          rl.rlim_cur = rl.rlim_max;
          setrlimit (RLIMIT_NOFILE, &rl);
        }
      getrlimit (RLIMIT_NOFILE, &rl);
    }
  if (rl.rlim_cur < (rlim_t)agents + 256)
    fprintf (stderr,
             "rdzv_load: warning: descriptor limit %llu is too low for a "
             "musterd serving %u agents\n",
             (unsigned long long)rl.rlim_cur, agents);
  rlim_t per = rl.rlim_cur > 1024 ? (rl.rlim_cur - 512) / 2 : 256;
  if (per > 60000) /* ZeroMQ's socket limit per context is 65535 */
    per = 60000;
  return (uint32_t)per;
}

/* ----------------------------------------------------------- musterd */

typedef struct daemon {
  pid_t pid;
  pid_t perf_pid;
  char dir[64];
  char log[128];
  char endpoint[256];
} daemon_t;

static void
start_musterd (const opts_t *o, daemon_t *d)
{
  strcpy (d->dir, "/tmp/rdzv_load.XXXXXX");
  if (mkdtemp (d->dir) == NULL)
    die ("mkdtemp: %s", strerror (errno));
  char epfile[128];
  snprintf (epfile, sizeof epfile, "%s/endpoints", d->dir);
  snprintf (d->log, sizeof d->log, "%s/musterd.log", d->dir);
  const char *argv[40];
  int k = 0;
  argv[k++] = o->musterd;
  argv[k++] = "--agent-bind";
  argv[k++] = "tcp://127.0.0.1:*";
  argv[k++] = "--ctl-bind";
  argv[k++] = "none";
  argv[k++] = "--endpoints-file";
  argv[k++] = epfile;
  argv[k++] = "--log-level";
  argv[k++] = o->log_level;
  if (o->heartbeat != NULL)
    {
      argv[k++] = "--heartbeat";
      argv[k++] = o->heartbeat;
    }
  for (int i = 0; i < o->ndargs; i++)
    argv[k++] = o->dargs[i];
  argv[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 2, d->log,
                                    O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn (&d->pid, o->musterd, &fa, NULL, (char **)argv,
                        environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc != 0)
    die ("cannot start %s: %s", o->musterd, strerror (rc));
  for (int i = 0; i < 1000; i++)
    {
      FILE *f = fopen (epfile, "r");
      if (f != NULL)
        {
          char key[32];
          int ok = fscanf (f, "%31s %255s", key, d->endpoint) == 2
                   && strcmp (key, "agent") == 0;
          fclose (f);
          if (ok)
            break;
          d->endpoint[0] = '\0';
        }
      int st;
      if (waitpid (d->pid, &st, WNOHANG) == d->pid)
        die ("musterd exited at start; see %s", d->log);
      usleep (10000);
    }
  if (d->endpoint[0] == '\0')
    die ("musterd wrote no endpoints file in 10 s; see %s", d->log);
  note ("musterd pid %d at %s (log %s)", (int)d->pid, d->endpoint, d->log);
  if (o->perf != NULL)
    {
      char pid[32];
      snprintf (pid, sizeof pid, "%d", (int)d->pid);
      const char *pargv[] = { "perf", "record", "-g", "-q", "-o", o->perf,
                              "-p", pid, NULL };
      posix_spawn_file_actions_init (&fa);
      posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
      rc = posix_spawnp (&d->perf_pid, "perf", &fa, NULL, (char **)pargv,
                         environ);
      posix_spawn_file_actions_destroy (&fa);
      if (rc != 0)
        die ("cannot start perf: %s", strerror (rc));
      usleep (500000); /* let perf attach */
    }
}

static void
stop_musterd (daemon_t *d)
{
  if (d->perf_pid > 0)
    {
      kill (d->perf_pid, SIGINT);
      waitpid (d->perf_pid, NULL, 0);
    }
  if (d->pid > 0)
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
    }
}

/* ------------------------------------------------------ simulated agents */

enum { PH_CONNECT, PH_ROUND, PH_DONE };

typedef struct agent {
  void *sock;
  char node_id[24];
  uint8_t probed;   /* connect probe answered */
  uint8_t welcomed;
  uint8_t started;
  uint8_t done;
  uint64_t hb_due_us;
  uint64_t hb_seq;
  uint64_t hb_sent_us; /* when heartbeat hb_seq went out */
  uint64_t epoch;
  uint64_t first_rank;
} agent_t;

typedef struct enc {
  char *buf;
  size_t len;
} enc_t;

/* What a shard reports to the parent after each phase (one pipe write,
 * well under PIPE_BUF).  Times are CLOCK_MONOTONIC, comparable across
 * processes. */
typedef struct report {
  int failed;
  uint32_t count;    /* agents that completed the phase */
  uint64_t t_sent;   /* last message of the phase sent */
  uint64_t t_first_welcome, t_last_welcome;
  uint64_t t_first, t_last; /* first and last completion */
  uint64_t msgs_in, heartbeats_in, progress_in, heartbeats_out;
  uint64_t hb_late_max_us; /* worst lateness of a heartbeat sent here */
  uint64_t hb_rtt_max_us;  /* worst heartbeat round trip through musterd */
  uint64_t hb_rtt_sum_us, hb_rtt_n;
  double cpu_start_s, cpu_s; /* this process's CPU at phase start and end */
  uint64_t hb_ms;            /* heartbeat interval from agent.welcome */
} report_t;

typedef struct sim {
  const opts_t *o;
  const char *endpoint;
  void *ctx;
  int ep;           /* epoll set: ZMQ_FDs and the command pipe */
  int cmd_fd;       /* commands from the parent */
  int cmd_ready;
  agent_t *ag;
  uint32_t n;       /* agents of this shard */
  uint32_t base;    /* global index of the first */
  uint32_t nopen;   /* sockets created so far */
  int phase;
  /* heartbeat FIFO ring (welcome order) */
  uint32_t *ring;
  uint32_t ring_head, ring_len;
  uint64_t hb_us;
  uint64_t last_sweep;
  uint32_t probed, welcomed, started, done;
  report_t r;
} sim_t;

#define CMD_MARK UINT32_MAX

static void drain (sim_t *s, uint32_t i);

/* Send a pre-encoded message; on a full pipe, service incoming traffic and
 * retry (a DEALER at its high-water mark refuses with EAGAIN). */
static void
send_raw (sim_t *s, uint32_t i, const void *buf, size_t len)
{
  for (;;)
    {
      if (zmq_send (s->ag[i].sock, buf, len, ZMQ_DONTWAIT) >= 0)
        break;
      if (errno != EAGAIN)
        die ("send to coordinator (agent %u): %s", s->base + i,
             zmq_strerror (errno));
      drain (s, i);
      usleep (100);
    }
  /* A send may consume the ZMQ_FD edge of pending input: look now. */
  drain (s, i);
}

static void
send_msg (sim_t *s, uint32_t i, const mu_msg_t *m)
{
  char *buf;
  size_t len;
  int rc = mu_msg_encode (m, &buf, &len);
  if (rc != 0)
    die ("encode %s: %s", mu_msg_name (m->type), muster_strerror (rc));
  send_raw (s, i, buf, len);
  free (buf);
}

static void
send_heartbeat (sim_t *s, uint32_t i)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_HEARTBEAT;
  m.u.heartbeat.node_id = s->ag[i].node_id;
  m.u.heartbeat.seq = ++s->ag[i].hb_seq;
  s->ag[i].hb_sent_us = now_us ();
  send_msg (s, i, &m);
  s->r.heartbeats_out++;
}

static void
fail (sim_t *s, const agent_t *a, const char *fmt, ...)
{
  if (s->r.failed++ >= 5)
    return; /* the first few say enough */
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "rdzv_load: %s: ", a->node_id);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

static void
on_message (sim_t *s, uint32_t i, mu_msg_t *m)
{
  agent_t *a = &s->ag[i];
  uint32_t total = s->o->agents;
  uint64_t t = now_us ();
  s->r.msgs_in++;
  switch (m->type)
    {
    case MU_MSG_ERROR:
      if (s->phase == PH_CONNECT && !a->probed
          && m->u.error.code == MUSTER_ENOTFOUND)
        {
          a->probed = 1;
          s->probed++;
          s->r.t_last = t;
          break;
        }
      fail (s, a, "error from musterd: %s (%s)", m->u.error.message,
            muster_err_name ((int)m->u.error.code));
      break;
    case MU_MSG_WELCOME:
      if (!a->welcomed)
        {
          a->welcomed = 1;
          if (s->welcomed++ == 0)
            {
              s->r.t_first_welcome = t;
              s->hb_us = (m->u.welcome.heartbeat_ms ? m->u.welcome.heartbeat_ms
                                                    : 200)
                         * 1000u;
            }
          s->r.t_last_welcome = t;
          a->hb_due_us = t + s->hb_us;
          s->ring[(s->ring_head + s->ring_len++) % s->n] = i;
        }
      break;
    case MU_MSG_HEARTBEAT:
      s->r.heartbeats_in++;
      if (m->u.heartbeat.seq == a->hb_seq && a->hb_sent_us != 0)
        {
          uint64_t rtt = t - a->hb_sent_us;
          if (rtt > s->r.hb_rtt_max_us)
            s->r.hb_rtt_max_us = rtt;
          s->r.hb_rtt_sum_us += rtt;
          s->r.hb_rtt_n++;
          a->hb_sent_us = 0;
        }
      break;
    case MU_MSG_RDZV_PROGRESS:
      s->r.progress_in++;
      break;
    case MU_MSG_START:
      {
        const mu_start_t *st = &m->u.start;
        if (a->started)
          {
            fail (s, a, "second job.start (epoch %llu)",
                  (unsigned long long)st->epoch);
            break;
          }
        if (st->assign.n != s->o->workers
            || st->world != (uint64_t)total * s->o->workers
            || st->nnodes != total)
          fail (s, a,
                "job.start with %zu workers, world %llu, %llu nodes "
                "(expected %u, %llu, %u)",
                st->assign.n, (unsigned long long)st->world,
                (unsigned long long)st->nnodes, s->o->workers,
                (unsigned long long)total * s->o->workers, total);
        a->started = 1;
        a->epoch = st->epoch;
        a->first_rank = st->assign.n ? st->assign.v[0].rank : 0;
        if (s->started++ == 0)
          s->r.t_first = t;
        s->r.t_last = t;
        break;
      }
    case MU_MSG_JOB_DONE:
      if (!a->done)
        {
          a->done = 1;
          if (s->done++ == 0)
            s->r.t_first = t;
          s->r.t_last = t;
          if (strcmp (m->u.job_done.state, "succeeded") != 0)
            fail (s, a, "job.done %s: %s", m->u.job_done.state,
                  m->u.job_done.reason ? m->u.job_done.reason : "");
        }
      break;
    case MU_MSG_STOP:
      fail (s, a, "unexpected job.stop: %s",
            m->u.stop.reason ? m->u.stop.reason : "");
      break;
    default:
      fail (s, a, "unexpected %s", mu_msg_name (m->type));
      break;
    }
}

/* Receive everything waiting on agent i's socket. */
static void
drain (sim_t *s, uint32_t i)
{
  for (;;)
    {
      mu_msg_t m;
      char err[256];
      int rc = mu_wire_recv (s->ag[i].sock, NULL, &m, err, sizeof err);
      if (rc == -EAGAIN)
        return;
      if (rc == -EINTR)
        continue;
      if (rc != 0)
        {
          fail (s, &s->ag[i], "bad message: %s (%s)", err,
                muster_err_name (rc));
          if (rc > MUSTER_ERR_BASE) /* a socket error, not a decode error */
            return;
          continue;
        }
      on_message (s, i, &m);
      mu_msg_clear (&m);
    }
}

static void
sweep_all (sim_t *s)
{
  for (uint32_t i = 0; i < s->nopen; i++)
    drain (s, i);
}

static void
send_due_heartbeats (sim_t *s, uint64_t t)
{
  while (s->ring_len > 0)
    {
      uint32_t i = s->ring[s->ring_head];
      if (s->ag[i].hb_due_us > t)
        break;
      s->ring_head = (s->ring_head + 1) % s->n;
      s->ring_len--;
      if (t - s->ag[i].hb_due_us > s->r.hb_late_max_us)
        s->r.hb_late_max_us = t - s->ag[i].hb_due_us;
      send_heartbeat (s, i);
      s->ag[i].hb_due_us += s->hb_us;
      if (s->ag[i].hb_due_us < t) /* fell behind: do not burst */
        s->ag[i].hb_due_us = t + s->hb_us;
      s->ring[(s->ring_head + s->ring_len++) % s->n] = i;
    }
}

/* One turn of the loop: wait up to max_wait_ms for traffic, handle it, send
 * due heartbeats. */
static void
service (sim_t *s, int max_wait_ms)
{
  uint64_t t = now_us ();
  int wait = max_wait_ms;
  if (s->ring_len > 0)
    {
      uint64_t due = s->ag[s->ring[s->ring_head]].hb_due_us;
      int until = due > t ? (int)((due - t) / 1000) : 0;
      if (until < wait)
        wait = until;
    }
  struct epoll_event ev[512];
  int k = epoll_wait (s->ep, ev, 512, wait);
  for (int e = 0; e < k; e++)
    if (ev[e].data.u32 == CMD_MARK)
      s->cmd_ready = 1;
    else
      drain (s, ev[e].data.u32);
  t = now_us ();
  if (k <= 0 && t - s->last_sweep > SWEEP_IDLE_MS * 1000u)
    {
      sweep_all (s);
      s->last_sweep = t;
    }
  send_due_heartbeats (s, t);
}

static void
wait_for (sim_t *s, const uint32_t *count, const char *what, uint64_t t0)
{
  uint64_t limit = (uint64_t)(s->o->timeout_s * 1e6);
  uint64_t last_note = now_us ();
  while (*count < s->n && !s->r.failed)
    {
      service (s, 20);
      uint64_t t = now_us ();
      if (t - t0 > limit)
        die ("timed out after %.0f s waiting for %s: %u of %u in shard %u",
             s->o->timeout_s, what, *count, s->n, s->base);
      if (t - last_note > 1000000)
        {
          note ("shard %u: %s: %u of %u", s->base, what, *count, s->n);
          last_note = t;
        }
    }
}

/* Keep the agents alive (heartbeats) until the parent sends a command. */
static char
next_command (sim_t *s)
{
  for (;;)
    {
      char c;
      ssize_t r = read (s->cmd_fd, &c, 1);
      if (r == 1)
        return c;
      if (r == 0)
        return 'Q'; /* the parent is gone */
      if (errno != EAGAIN && errno != EINTR)
        return 'Q';
      s->cmd_ready = 0;
      service (s, 50);
    }
}

static void
build_spec (const opts_t *o, mu_job_spec_t *spec, mu_role_spec_t *role,
            char **argv)
{
  memset (spec, 0, sizeof *spec);
  memset (role, 0, sizeof *role);
  role->name = (char *)"worker";
  role->min_nodes = o->agents;
  role->max_nodes = o->agents;
  role->nproc = o->workers;
  argv[0] = (char *)"/bin/true";
  spec->id = (char *)JOB_ID;
  spec->roles.v = role;
  spec->roles.n = 1;
  spec->argv.v = argv;
  spec->argv.n = 1;
}

static void
send_report (sim_t *s, int res_fd)
{
  s->r.cpu_s = self_cpu_s ();
  s->r.hb_ms = s->hb_us / 1000u;
  if (write (res_fd, &s->r, sizeof s->r) != (ssize_t)sizeof s->r)
    exit (1);
  int failed = s->r.failed;
  memset (&s->r, 0, sizeof s->r);
  s->r.failed = failed;
  s->r.cpu_start_s = self_cpu_s ();
}

/* One shard of the simulated agents, in its own process (ZeroMQ contexts
 * do not survive fork, and each process has its own descriptor limit).
 * Commands: 'C' connect and probe, 'R' register and wait for every
 * job.start, 'X' report every worker exited and wait for every job.done,
 * 'Q' quit.  Each command is answered with a report_t. */
static int
shard_main (const opts_t *o, const char *endpoint, uint32_t base, uint32_t n,
            uint32_t nshards, int cmd_fd, int res_fd)
{
  sim_t s;
  memset (&s, 0, sizeof s);
  s.o = o;
  s.endpoint = endpoint;
  s.base = base;
  s.n = n;
  s.cmd_fd = cmd_fd;
  s.ag = calloc (n, sizeof *s.ag);
  s.ring = calloc (n, sizeof *s.ring);
  s.ctx = zmq_ctx_new ();
  s.ep = epoll_create1 (EPOLL_CLOEXEC);
  if (s.ag == NULL || s.ring == NULL || s.ctx == NULL || s.ep < 0)
    die ("out of memory");
  zmq_ctx_set (s.ctx, ZMQ_MAX_SOCKETS, (int)n + 16);
  zmq_ctx_set (s.ctx, ZMQ_IO_THREADS, o->io_threads);
  fcntl (cmd_fd, F_SETFL, O_NONBLOCK);
  struct epoll_event cev = { .events = EPOLLIN, .data.u32 = CMD_MARK };
  epoll_ctl (s.ep, EPOLL_CTL_ADD, cmd_fd, &cev);

  mu_job_spec_t spec;
  mu_role_spec_t role;
  char *pargv[1];
  build_spec (o, &spec, &role, pargv);
  enc_t *reg = NULL, *ex = NULL;
  size_t nw = (size_t)n * o->workers;
  uint32_t window = o->connect_window / nshards;
  if (o->connect_window > 0 && window == 0)
    window = 1;

  for (;;)
    {
      char c = next_command (&s);
      if (c == 'Q')
        break;
      /* A report covers its phase only, not the wait for the command. */
      int failed = s.r.failed;
      memset (&s.r, 0, sizeof s.r);
      s.r.failed = failed;
      s.r.cpu_start_s = self_cpu_s ();
      if (c == 'C')
        {
          s.phase = PH_CONNECT;
          uint64_t t0 = now_us ();
          for (uint32_t i = 0; i < n; i++)
            {
              agent_t *a = &s.ag[i];
              /* Pace: a listener's accept backlog is finite, and a SYN it
               * drops is retried only after 1 s, 3 s, 7 s ... */
              while (window > 0 && i - s.probed >= window && !s.r.failed)
                service (&s, 5);
              snprintf (a->node_id, sizeof a->node_id, "sim-%06u", base + i);
              a->sock = zmq_socket (s.ctx, ZMQ_DEALER);
              if (a->sock == NULL)
                die ("socket %u: %s", base + i, zmq_strerror (errno));
              if (mu_wire_sockopts (a->sock, SOCK_HWM) != 0
                  || zmq_setsockopt (a->sock, ZMQ_ROUTING_ID, a->node_id,
                                     strlen (a->node_id))
                         != 0
                  || zmq_connect (a->sock, endpoint) != 0)
                die ("socket %u: %s", base + i, zmq_strerror (errno));
              int fd;
              size_t fl = sizeof fd;
              zmq_getsockopt (a->sock, ZMQ_FD, &fd, &fl);
              struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };
              if (epoll_ctl (s.ep, EPOLL_CTL_ADD, fd, &ev) != 0)
                die ("epoll_ctl: %s", strerror (errno));
              s.nopen = i + 1;
              /* The probe: an unregistered node's heartbeat is answered
               * with "unknown node", which proves the connection is up
               * both ways. */
              mu_msg_t m;
              memset (&m, 0, sizeof m);
              m.type = MU_MSG_HEARTBEAT;
              m.u.heartbeat.node_id = a->node_id;
              send_msg (&s, i, &m);
              if (i % SEND_BATCH == 0)
                service (&s, 0);
            }
          wait_for (&s, &s.probed, "connections", t0);
          s.r.count = s.probed;
          /* Encode every registration now, outside the timed round. */
          reg = calloc (n, sizeof *reg);
          if (reg == NULL)
            die ("out of memory");
          for (uint32_t i = 0; i < n; i++)
            {
              mu_msg_t m;
              memset (&m, 0, sizeof m);
              m.type = MU_MSG_REGISTER;
              m.u.reg.node_id = s.ag[i].node_id;
              m.u.reg.host = (char *)"127.0.0.1";
              m.u.reg.slots = o->workers;
              m.u.reg.port_base = 20000 + (uint64_t)((base + i) % 3000) * 10;
              m.u.reg.pid = (uint64_t)getpid ();
              m.u.reg.job = &spec;
              int rc = mu_msg_encode (&m, &reg[i].buf, &reg[i].len);
              if (rc != 0)
                die ("encode agent.register: %s", muster_strerror (rc));
            }
        }
      else if (c == 'R')
        {
          s.phase = PH_ROUND;
          uint64_t t0 = now_us ();
          for (uint32_t i = 0; i < n; i++)
            {
              send_raw (&s, i, reg[i].buf, reg[i].len);
              if (i % SEND_BATCH == SEND_BATCH - 1)
                service (&s, 0);
            }
          s.r.t_sent = now_us ();
          wait_for (&s, &s.started, "job.start", t0);
          s.r.count = s.started;
          for (uint32_t i = 0; i < n; i++)
            free (reg[i].buf);
          free (reg);
          reg = NULL;
        }
      else if (c == 'I')
        {
          /* Steady state: only heartbeats, for the parent's stopwatch. */
          uint64_t end = now_us () + (uint64_t)(o->steady_s * 1e6);
          while (now_us () < end && !s.r.failed)
            service (&s, 20);
          s.r.count = n;
        }
      else if (c == 'E')
        {
          /* Encode every exit report, outside the timed phase. */
          ex = calloc (nw, sizeof *ex);
          if (ex == NULL)
            die ("out of memory");
          for (uint32_t i = 0; i < n; i++)
            for (uint32_t w = 0; w < o->workers; w++)
              {
                mu_msg_t m;
                memset (&m, 0, sizeof m);
                m.type = MU_MSG_WORKER_STATE;
                m.u.worker_state.job = (char *)JOB_ID;
                m.u.worker_state.epoch = s.ag[i].epoch;
                m.u.worker_state.rank = s.ag[i].first_rank + w;
                m.u.worker_state.state = (char *)"exited";
                m.u.worker_state.pid = 100000 + (uint64_t)i * o->workers + w;
                enc_t *e = &ex[(size_t)i * o->workers + w];
                int rc = mu_msg_encode (&m, &e->buf, &e->len);
                if (rc != 0)
                  die ("encode worker.state: %s", muster_strerror (rc));
              }
        }
      else if (c == 'X')
        {
          s.phase = PH_DONE;
          uint64_t t0 = now_us ();
          /* Round-robin over agents, as exits from many machines
           * interleave. */
          size_t sent = 0;
          for (uint32_t w = 0; w < o->workers; w++)
            for (uint32_t i = 0; i < n; i++)
              {
                enc_t *e = &ex[(size_t)i * o->workers + w];
                send_raw (&s, i, e->buf, e->len);
                if (++sent % SEND_BATCH == 0)
                  service (&s, 0);
              }
          s.r.t_sent = now_us ();
          wait_for (&s, &s.done, "job.done", t0);
          s.r.count = s.done;
          for (size_t k = 0; k < nw; k++)
            free (ex[k].buf);
          free (ex);
          ex = NULL;
        }
      if (s.r.failed > 5)
        fprintf (stderr, "rdzv_load: shard %u: %d failures in all\n", base,
                 s.r.failed);
      send_report (&s, res_fd);
      if (s.r.failed)
        break;
    }
  for (uint32_t i = 0; i < s.nopen; i++)
    zmq_close (s.ag[i].sock);
  zmq_ctx_term (s.ctx);
  close (s.ep);
  int failed = s.r.failed;
  free (s.ag);
  free (s.ring);
  return failed ? 1 : 0;
}

/* -------------------------------------------------------------- sizes */

/* --sizes: run this program once per size and repetition (a fresh
 * process, and a fresh musterd, each time) with the other options
 * unchanged, echo its output, and gather its RESULT lines into a table of
 * medians. */
enum { F_ROUND, F_DONE, F_B0, F_B1, F_CPU, F_RTT, F_SCPU, F_HBPS, F_N };
static const char *const field_key[F_N] = {
  "round_ms=", "done_ms=", "rss_per_worker_b=", "rss_per_worker_reg_b=",
  "musterd_cpu_round_s=", "hb_rtt_max_ms=", "steady_cpu_pct=",
  "steady_hb_per_s=",
};

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, int n)
{
  qsort (v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int
run_sizes (const opts_t *o, int argc, char **argv)
{
  char list[1024];
  if (strlen (o->sizes) >= sizeof list)
    return 2;
  strcpy (list, o->sizes);
  enum { MAXSZ = 16, MAXREP = 25 };
  double val[MAXSZ][F_N][MAXREP];
  double rmin[MAXSZ], rmax[MAXSZ];
  int nok[MAXSZ];
  char labels[MAXSZ][64];
  unsigned long wk[MAXSZ];
  int nsz = 0, bad = 0;
  int reps = o->reps < 1 ? 1 : o->reps > MAXREP ? MAXREP : o->reps;
  for (char *tok = strtok (list, ","); tok && nsz < MAXSZ;
       tok = strtok (NULL, ","))
    {
      unsigned a = 0, w = 0;
      if (sscanf (tok, "%ux%u", &a, &w) != 2 || a == 0 || w == 0)
        die ("--sizes: '%s' is not AGENTSxWORKERS", tok);
      snprintf (labels[nsz], sizeof labels[nsz], "%ux%u", a, w);
      wk[nsz] = (unsigned long)a * w;
      nok[nsz] = 0;
      rmin[nsz] = 1e30;
      rmax[nsz] = 0;
      char sa[16], sw[16];
      snprintf (sa, sizeof sa, "%u", a);
      snprintf (sw, sizeof sw, "%u", w);
      const char *cargv[72];
      int k = 0;
      cargv[k++] = argv[0];
      for (int i = 1; i < argc && k < 64; i++)
        {
          if (strcmp (argv[i], "--sizes") == 0 || strcmp (argv[i], "--reps") == 0)
            {
              i++;
              continue;
            }
          if (strncmp (argv[i], "--sizes=", 8) == 0
              || strncmp (argv[i], "--reps=", 7) == 0)
            continue;
          cargv[k++] = argv[i];
        }
      cargv[k++] = "--agents";
      cargv[k++] = sa;
      cargv[k++] = "--workers";
      cargv[k++] = sw;
      cargv[k] = NULL;
      for (int rep = 0; rep < reps; rep++)
        {
          int pfd[2];
          if (pipe (pfd) != 0)
            die ("pipe: %s", strerror (errno));
          fflush (NULL);
          pid_t p = fork ();
          if (p == 0)
            {
              dup2 (pfd[1], 1);
              close (pfd[0]);
              close (pfd[1]);
              execv ("/proc/self/exe", (char **)cargv);
              _exit (127);
            }
          close (pfd[1]);
          FILE *f = fdopen (pfd[0], "r");
          char line[1024];
          int got = 0;
          while (f && fgets (line, sizeof line, f) != NULL)
            {
              fputs (line, stdout);
              fflush (stdout);
              if (strncmp (line, "RESULT ", 7) != 0)
                continue;
              got = 1;
              for (int fi = 0; fi < F_N; fi++)
                {
                  const char *q = strstr (line, field_key[fi]);
                  val[nsz][fi][nok[nsz]] =
                      q ? atof (q + strlen (field_key[fi])) : -1;
                }
            }
          if (f)
            fclose (f);
          int st;
          waitpid (p, &st, 0);
          if (!WIFEXITED (st) || WEXITSTATUS (st) != 0 || !got)
            {
              bad = 1;
              continue;
            }
          double r = val[nsz][F_ROUND][nok[nsz]];
          if (r < rmin[nsz])
            rmin[nsz] = r;
          if (r > rmax[nsz])
            rmax[nsz] = r;
          nok[nsz]++;
        }
      nsz++;
    }
  printf ("\nrendezvous load summary: median of %d run(s) each (see "
          "bench/README.md)\n", reps);
  printf ("%-10s %8s %10s %13s %9s %9s %9s %9s %s\n", "size", "workers",
          "round", "(min-max)", "all done", "B/worker", "B/worker",
          "musterd", "  steady: musterd CPU, heartbeats/s, rtt max");
  printf ("%-10s %8s %10s %13s %9s %9s %9s %9s\n", "", "", "", "", "",
          "from idle", "reg+round", "CPU round");
  for (int i = 0; i < nsz; i++)
    {
      if (nok[i] == 0)
        {
          printf ("%-10s %8lu %10s   (broken: see the output above)\n",
                  labels[i], wk[i], "FAILED");
          continue;
        }
      double m[F_N];
      for (int fi = 0; fi < F_N; fi++)
        m[fi] = median (val[i][fi], nok[i]);
      char range[32];
      snprintf (range, sizeof range, "(%.0f-%.0f)", rmin[i], rmax[i]);
      char steady[64] = "  (not measured)";
      if (m[F_SCPU] >= 0)
        snprintf (steady, sizeof steady, "  %3.0f%% of a core, %6.0f/s, %4.0f ms",
                  m[F_SCPU], m[F_HBPS], m[F_RTT]);
      printf ("%-10s %8lu %7.0f ms %13s %6.0f ms %9.0f %9.0f %7.2f s%s%s\n",
              labels[i], wk[i], m[F_ROUND], range, m[F_DONE], m[F_B0],
              m[F_B1], m[F_CPU], steady,
              nok[i] < reps ? "  (some runs broke)" : "");
    }
  return bad ? 1 : 0;
}

/* ------------------------------------------------------------- parent */

typedef struct shard {
  pid_t pid;
  int cmd_fd, res_fd;
  uint32_t base, n;
  report_t r;
} shard_t;

/* Send one command to every shard, collect every report; the merged
 * report has the earliest "first" and latest "last" times. */
static int
phase (shard_t *sh, int k, char cmd, report_t *out)
{
  memset (out, 0, sizeof *out);
  for (int i = 0; i < k; i++)
    if (write (sh[i].cmd_fd, &cmd, 1) != 1)
      return -1;
  for (int i = 0; i < k; i++)
    {
      report_t *r = &sh[i].r;
      size_t got = 0;
      while (got < sizeof *r)
        {
          ssize_t g = read (sh[i].res_fd, (char *)r + got, sizeof *r - got);
          if (g <= 0)
            return -1; /* the shard died; it said why on stderr */
          got += (size_t)g;
        }
      out->failed |= r->failed;
      out->count += r->count;
#define MIN_T(f) if (r->f && (!out->f || r->f < out->f)) out->f = r->f
#define MAX_T(f) if (r->f > out->f) out->f = r->f
      MIN_T (t_first);
      MIN_T (t_first_welcome);
      MAX_T (t_last);
      MAX_T (t_last_welcome);
      MAX_T (t_sent);
      MAX_T (hb_late_max_us);
      MAX_T (hb_rtt_max_us);
      MAX_T (hb_ms);
      out->hb_rtt_sum_us += r->hb_rtt_sum_us;
      out->hb_rtt_n += r->hb_rtt_n;
      out->msgs_in += r->msgs_in;
      out->heartbeats_in += r->heartbeats_in;
      out->progress_in += r->progress_in;
      out->heartbeats_out += r->heartbeats_out;
      out->cpu_s += r->cpu_s - r->cpu_start_s;
    }
  if (out->failed)
    fprintf (stderr,
             "rdzv_load: phase '%c' failed: %u agents completed it; "
             "heartbeats were sent at most %.1f ms late and answered within "
             "%.1f ms at worst\n",
             cmd, out->count, ms (out->hb_late_max_us),
             ms (out->hb_rtt_max_us));
  return out->failed ? -1 : 0;
}

/* Let musterd settle between phases (the shards keep heartbeating). */
static void
settle (int ms_)
{
  usleep ((useconds_t)ms_ * 1000u);
}

int
main (int argc, char **argv)
{
  opts_t o;
  if (parse_opts (argc, argv, &o) != 0)
    {
      usage (stderr);
      return 2;
    }
  verbose = o.verbose;
  signal (SIGPIPE, SIG_IGN);
  if (o.sizes != NULL)
    return run_sizes (&o, argc, argv);
  uint32_t per = raise_nofile (o.agents);
  int k = (int)((o.agents + per - 1) / per);

  daemon_t d;
  memset (&d, 0, sizeof d);
  long pid = o.pid;
  const char *endpoint = o.endpoint;
  if (o.musterd != NULL)
    {
      start_musterd (&o, &d);
      pid = d.pid;
      endpoint = d.endpoint;
    }
  note ("%u agents in %d process(es) of at most %u", o.agents, k, per);

  shard_t *sh = calloc ((size_t)k, sizeof *sh);
  if (sh == NULL)
    die ("out of memory");
  for (int i = 0; i < k; i++)
    {
      int cmd[2], res[2];
      if (pipe2 (cmd, O_CLOEXEC) != 0 || pipe2 (res, O_CLOEXEC) != 0)
        die ("pipe: %s", strerror (errno));
      sh[i].base = (uint32_t)i * (o.agents / (uint32_t)k)
                   + ((uint32_t)i < o.agents % (uint32_t)k
                          ? (uint32_t)i
                          : o.agents % (uint32_t)k);
      sh[i].n = o.agents / (uint32_t)k
                + ((uint32_t)i < o.agents % (uint32_t)k ? 1 : 0);
      fflush (NULL);
      pid_t p = fork ();
      if (p < 0)
        die ("fork: %s", strerror (errno));
      if (p == 0)
        {
          close (cmd[1]);
          close (res[0]);
          for (int j = 0; j < i; j++)
            {
              close (sh[j].cmd_fd);
              close (sh[j].res_fd);
            }
          if (o.nice != 0 && nice (o.nice) == -1 && errno != 0)
            note ("nice %d: %s", o.nice, strerror (errno));
          _exit (shard_main (&o, endpoint, sh[i].base, sh[i].n, (uint32_t)k,
                             cmd[0], res[1]));
        }
      close (cmd[0]);
      close (res[1]);
      sh[i].pid = p;
      sh[i].cmd_fd = cmd[1];
      sh[i].res_fd = res[0];
    }

  report_t rc_, rr, ri, rx, rd;
  memset (&ri, 0, sizeof ri);
  double steady_pct = -1, steady_hbps = -1;
  int bad = 0;
  size_t nw = (size_t)o.agents * o.workers;
  double la[3] = { 0, 0, 0 };
  if (getloadavg (la, 3) < 0)
    la[0] = la[1] = la[2] = -1;
  printf ("rdzv_load: %u agents x %u workers = %zu workers (%d load "
          "process%s), musterd %s; load average %.2f\n",
          o.agents, o.workers, nw, k, k > 1 ? "es" : "",
          o.musterd ? "started here" : endpoint, la[0]);
  fflush (stdout);
  long rss0 = pid > 0 ? proc_status_kb (pid, "VmRSS") : -1;
  uint64_t t_conn0 = now_us ();
  if (phase (sh, k, 'C', &rc_) != 0)
    {
      bad = 1;
      goto out;
    }
  uint64_t t_conn = rc_.t_last - t_conn0;
  printf ("  connect: %.1f ms (window %u%s; not part of the round)\n",
          ms (t_conn), o.connect_window,
          o.connect_window ? "" : " = all at once");
  fflush (stdout);
  settle (200);
  long rss1 = pid > 0 ? proc_status_kb (pid, "VmRSS") : -1;
  double cpu1 = pid > 0 ? proc_cpu_s (pid) : -1;

  uint64_t t_reg0 = now_us ();
  if (phase (sh, k, 'R', &rr) != 0)
    {
      bad = 1;
      goto out;
    }
  double cpu2 = pid > 0 ? proc_cpu_s (pid) : -1;
  uint64_t t_round = rr.t_last - t_reg0;
  printf ("  round: registers sent in     %9.1f ms\n", ms (rr.t_sent - t_reg0));
  printf ("         all welcomed at       %9.1f ms\n",
          ms (rr.t_last_welcome - t_reg0));
  printf ("         first job.start at    %9.1f ms\n", ms (rr.t_first - t_reg0));
  printf ("         all job.start at      %9.1f ms   <- rendezvous round\n",
          ms (t_round));
  printf ("         musterd CPU %.2f s, load generator CPU %.2f s; received "
          "%llu msgs (%llu rdzv.progress); heartbeat every %llu ms, round "
          "trip max %.1f ms\n",
          pid > 0 ? cpu2 - cpu1 : -1.0, rr.cpu_s,
          (unsigned long long)rr.msgs_in, (unsigned long long)rr.progress_in,
          (unsigned long long)(rr.hb_ms), ms (rr.hb_rtt_max_us));
  fflush (stdout);
  settle (200);
  long rss2 = pid > 0 ? proc_status_kb (pid, "VmRSS") : -1;

  if (o.steady_s > 0)
    {
      double c0 = pid > 0 ? proc_cpu_s (pid) : -1;
      uint64_t t0 = now_us ();
      if (phase (sh, k, 'I', &ri) != 0)
        {
          bad = 1;
          goto out;
        }
      double wall = (double)(now_us () - t0) / 1e6;
      double c1 = pid > 0 ? proc_cpu_s (pid) : -1;
      steady_pct = pid > 0 ? 100.0 * (c1 - c0) / wall : -1.0;
      steady_hbps = (double)ri.heartbeats_out / wall;
      printf ("  steady (job running, heartbeats only, %.1f s): musterd CPU "
              "%.0f%% of a core; %.0f heartbeats/s; round trip mean %.1f ms, "
              "max %.1f ms\n",
              wall, pid > 0 ? 100.0 * (c1 - c0) / wall : -1.0,
              (double)ri.heartbeats_out / wall,
              ri.hb_rtt_n ? ms (ri.hb_rtt_sum_us / ri.hb_rtt_n) : 0.0,
              ms (ri.hb_rtt_max_us));
      fflush (stdout);
    }

  if (phase (sh, k, 'E', &rx) != 0)
    {
      bad = 1;
      goto out;
    }
  double cpu3 = pid > 0 ? proc_cpu_s (pid) : -1;
  uint64_t t_exit0 = now_us ();
  if (phase (sh, k, 'X', &rd) != 0)
    {
      bad = 1;
      goto out;
    }
  double cpu4 = pid > 0 ? proc_cpu_s (pid) : -1;
  long hwm = pid > 0 ? proc_status_kb (pid, "VmHWM") : -1;
  uint64_t t_done = rd.t_last - t_exit0;
  printf ("  done:  exits sent in         %9.1f ms\n", ms (rd.t_sent - t_exit0));
  printf ("         all job.done at       %9.1f ms   (%zu worker.state; "
          "musterd CPU %.2f s)\n",
          ms (t_done), nw, pid > 0 ? cpu4 - cpu3 : -1.0);
  if (pid > 0)
    {
      printf ("  musterd VmRSS: %ld kB idle, %ld kB connected, %ld kB after "
              "the round (VmHWM %ld kB)\n",
              rss0, rss1, rss2, hwm);
      printf ("  memory per worker: %.0f B from idle, %.0f B from connected "
              "(registration and round only)\n",
              (double)(rss2 - rss0) * 1024.0 / (double)nw,
              (double)(rss2 - rss1) * 1024.0 / (double)nw);
    }
  printf ("RESULT agents=%u workers=%zu connect_ms=%.1f round_ms=%.1f "
          "done_ms=%.1f rss_per_worker_b=%.0f rss_per_worker_reg_b=%.0f "
          "musterd_cpu_round_s=%.2f hb_rtt_max_ms=%.1f "
          "steady_cpu_pct=%.0f steady_hb_per_s=%.0f\n",
          o.agents, nw, ms (t_conn), ms (t_round), ms (t_done),
          pid > 0 ? (double)(rss2 - rss0) * 1024.0 / (double)nw : -1.0,
          pid > 0 ? (double)(rss2 - rss1) * 1024.0 / (double)nw : -1.0,
          pid > 0 ? cpu2 - cpu1 : -1.0, ms (ri.hb_rtt_max_us), steady_pct,
          steady_hbps);
  fflush (stdout);

out:
  for (int i = 0; i < k; i++)
    {
      char q = 'Q';
      if (write (sh[i].cmd_fd, &q, 1) != 1)
        { /* already gone */
        }
      close (sh[i].cmd_fd);
      close (sh[i].res_fd);
    }
  for (int i = 0; i < k; i++)
    {
      int st;
      waitpid (sh[i].pid, &st, 0);
      if (!WIFEXITED (st) || WEXITSTATUS (st) != 0)
        bad = 1;
    }
  free (sh);
  if (o.musterd != NULL)
    {
      stop_musterd (&d);
      if (bad)
        fprintf (stderr, "rdzv_load: failed; musterd's log is %s\n", d.log);
      else
        {
          char ep[160];
          snprintf (ep, sizeof ep, "%s/endpoints", d.dir);
          unlink (ep);
          unlink (d.log);
          rmdir (d.dir);
        }
    }
  return bad ? 1 : 0;
}
