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
 *             musterd's CPU share and the heartbeat round trip (mean,
 *             percentiles, max).  Heartbeats go over UDP (--hb-over udp,
 *             the default: common/hb_wire.h, one socket per load process)
 *             or over each agent's DEALER (--hb-over zmq: the baseline,
 *             ZeroMQ heartbeats as before UDP); --hb-over both runs each
 *             size both ways, each with a fresh musterd, and compares.
 *   loss      (--loss, instead of "done") the last agent stops sending
 *             heartbeats and nothing else, its connection left open (a
 *             silent death: power loss, partition, SIGSTOP); timed from
 *             that moment until the other agents receive the job.stop its
 *             loss brings: the detection latency as the gang sees it.
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
 * exists), driven phase by phase over pipes.  The shards are in
 * rdzv_sim.c; this file has the options, the musterd it starts, the parent
 * and the reports.
 *
 * This is a benchmark, not a test: it exits 0 whatever the figures are, and
 * non-zero only when something broke (a refusal, a lost node, a timeout).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/proc_stats.h"
#include "bench/rdzv_load.h"

extern char **environ;

/* ------------------------------------------------------------- options */

static void
usage (FILE *f)
{
  fprintf (
      f,
      "usage: rdzv_load [options]\n"
      "  --agents N        simulated agents (nodes), default 1000\n"
      "  --workers N       workers per agent, default 10\n"
      "  --musterd PATH    start this musterd on 127.0.0.1, port 0\n"
      "  --endpoint EP     or use a running one (tcp://H:P)\n"
      "  --pid PID         with --endpoint: its pid, for memory and CPU\n"
      "  --heartbeat DUR   --heartbeat for the musterd started here\n"
      "  --log-level L     --log-level for it (default notice: nothing per\n"
      "                    node, and EPOCH-START gives musterd's round)\n"
      "  --perf FILE       profile it: perf record -g -o FILE\n"
      "  --perf-round      with --perf: record the round only (from the\n"
      "                    first agent.register to the last job.start)\n"
      "  --musterd-arg A   pass A to it (repeatable), e.g.\n"
      "                    --musterd-arg=--full-members-max=1\n"
      "  --timeout SEC     give up on a phase after this (default 120)\n"
      "  --steady SEC      measure the running job's heartbeat load for\n"
      "                    this long after the round (default 2, 0 = skip)\n"
      "  --connect-window N  connections in flight at once (default 64;\n"
      "                    0 = all at once, a burst)\n"
      "  --agent-io MODE   how a simulated agent talks to the port: zmtp\n"
      "                    (default: a plain socket speaking ZMTP 3, cheap)\n"
      "                    or zmq (a libzmq DEALER each, the baseline)\n"
      "  --io-threads N    ZeroMQ I/O threads here (default 1; zmq only)\n"
      "  --verbose         progress on stderr\n"
      "  --sizes LIST      run each AGENTSxWORKERS of LIST (e.g.\n"
      "                    100x10,1000x10,10000x10) with a fresh musterd\n"
      "                    and print a summary table\n"
      "  --reps N          with --sizes: runs per size, medians reported\n"
      "                    (default 1)\n"
      "  --role NAME       the job's role (default worker; \"ps\" changes\n"
      "                    what job.start carries)\n"
      "  --nice N          niceness of the load processes (default 0); on a\n"
      "                    small machine 10 lets musterd have the CPU it\n"
      "                    would have on its own host\n"
      "  --hb-over MODE    heartbeats over udp (default), zmq (the agent\n"
      "                    port, the baseline) or both (each size twice)\n"
      "  --agent-transport T  the musterd started here serves its agent\n"
      "                    port natively (native, default), on a libzmq\n"
      "                    ROUTER (zmq, the baseline) or, with --sizes,\n"
      "                    both (each size twice, compared)\n"
      "  --loss            after the steady phase, one agent falls silent:\n"
      "                    time until the others get job.stop (replaces\n"
      "                    the done phase)\n");
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
    { "perf-round", no_argument, 0, 'Q' },
    { "musterd-arg", required_argument, 0, 'D' },
    { "timeout", required_argument, 0, 't' },
    { "steady", required_argument, 0, 's' },
    { "connect-window", required_argument, 0, 'W' },
    { "io-threads", required_argument, 0, 'i' },
    { "agent-io", required_argument, 0, 'A' },
    { "verbose", no_argument, 0, 'v' },
    { "sizes", required_argument, 0, 'S' },
    { "reps", required_argument, 0, 'r' },
    { "nice", required_argument, 0, 'n' },
    { "role", required_argument, 0, 'R' },
    { "hb-over", required_argument, 0, 'B' },
    { "loss", no_argument, 0, 'K' },
    { "agent-transport", required_argument, 0, 'T' }, /* zsrv */
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
  o->log_level = "notice"; /* EPOCH-START: musterd's view of the round */
  o->role = "worker";
  o->hb_over = "udp";
  o->transport = "native";
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
      case 'Q':
        o->perf_round = 1;
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
      case 'A':
        if (strcmp (optarg, "zmtp") != 0 && strcmp (optarg, "zmq") != 0)
          {
            fprintf (stderr, "rdzv_load: --agent-io '%s': expected zmtp or "
                     "zmq\n", optarg);
            return -1;
          }
        o->agent_zmq = strcmp (optarg, "zmq") == 0;
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
      case 'R':
        o->role = optarg;
        break;
      case 'B':
        if (strcmp (optarg, "udp") != 0 && strcmp (optarg, "zmq") != 0
            && strcmp (optarg, "both") != 0)
          {
            fprintf (stderr, "rdzv_load: --hb-over '%s': expected udp, zmq "
                     "or both\n", optarg);
            return -1;
          }
        o->hb_over = optarg;
        break;
      case 'K':
        o->loss = 1;
        break;
      case 'T':
        if (strcmp (optarg, "native") != 0 && strcmp (optarg, "zmq") != 0
            && strcmp (optarg, "both") != 0)
          {
            fprintf (stderr, "rdzv_load: --agent-transport '%s': expected "
                     "native, zmq or both\n", optarg);
            return -1;
          }
        o->transport = optarg;
        break;
      case 'h':
        usage (stdout);
        exit (0);
      default:
        return -1;
      }
  if (optind != argc || (o->musterd == NULL) == (o->endpoint == NULL))
    return -1;
  o->hb_udp = strcmp (o->hb_over, "zmq") != 0;
  return 0;
}

/* ------------------------------------------------------------- helpers */

/* The q-quantile of a histogram (its bucket's upper bound), in ms. */
static double
hist_quantile_ms (const uint32_t *h, double q)
{
  uint64_t n = 0;
  for (unsigned i = 0; i < RL_HIST_N; i++)
    n += h[i];
  if (n == 0)
    return 0;
  uint64_t want = (uint64_t)(q * (double)n + 0.5), seen = 0;
  if (want == 0)
    want = 1;
  for (unsigned i = 0; i < RL_HIST_N; i++)
    {
      seen += h[i];
      if (seen >= want)
        return (double)rl_hist_upper_us (i) / 1000.0;
    }
  return (double)rl_hist_upper_us (RL_HIST_N - 1) / 1000.0;
}

/* ----------------------------------------------------------- musterd */

typedef struct daemon
{
  pid_t pid;
  pid_t perf_pid;
  int perf_ctl; /* --perf-round: perf's control fifo (write end), or -1 */
  char dir[64];
  char log[128];
  char endpoint[256];
} daemon_t;

static void
start_musterd (const opts_t *o, daemon_t *d)
{
  strcpy (d->dir, "/tmp/rdzv_load.XXXXXX");
  if (mkdtemp (d->dir) == NULL)
    rl_die ("mkdtemp: %s", strerror (errno));
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
  /* The simulated agents speak plain TCP: this measures the coordinator's
   * own work per node and per round, not CURVE's (bench/launch.py
   * --security both measures that).  Its keys go to its temporary dir. */
  argv[k++] = "--insecure";
  char state[128];
  snprintf (state, sizeof state, "%s/state", d->dir);
  argv[k++] = "--state-dir";
  argv[k++] = state;
  if (o->heartbeat != NULL)
    {
      argv[k++] = "--heartbeat";
      argv[k++] = o->heartbeat;
    }
  argv[k++] = "--agent-transport"; /* zsrv */
  argv[k++] = o->transport;
  for (int i = 0; i < o->ndargs; i++)
    argv[k++] = o->dargs[i];
  argv[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_addopen (&fa, 2, d->log,
                                    O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn (&d->pid, o->musterd, &fa, NULL, (char **)argv, environ);
  posix_spawn_file_actions_destroy (&fa);
  if (rc != 0)
    rl_die ("cannot start %s: %s", o->musterd, strerror (rc));
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
        rl_die ("musterd exited at start; see %s", d->log);
      usleep (10000);
    }
  if (d->endpoint[0] == '\0')
    rl_die ("musterd wrote no endpoints file in 10 s; see %s", d->log);
  rl_note ("musterd pid %d at %s (log %s)", (int)d->pid, d->endpoint, d->log);
  if (o->perf != NULL)
    {
      char pid[32];
      snprintf (pid, sizeof pid, "%d", (int)d->pid);
      const char *pargv[]
          = { "perf", "record", "-g", "-q", "-o", o->perf, "-p", pid, NULL,
              NULL, NULL };
      /* --perf-round: events start disabled; the parent enables them
       * just before the round and disables them when it is over. */
      char ctl[160], ctlopt[200];
      d->perf_ctl = -1;
      if (o->perf_round)
        {
          snprintf (ctl, sizeof ctl, "%s/perf.ctl", d->dir);
          if (mkfifo (ctl, 0600) != 0)
            rl_die ("mkfifo %s: %s", ctl, strerror (errno));
          snprintf (ctlopt, sizeof ctlopt, "--control=fifo:%s", ctl);
          pargv[8] = "--delay=-1";
          pargv[9] = ctlopt;
        }
      posix_spawn_file_actions_init (&fa);
      posix_spawn_file_actions_addopen (&fa, 1, "/dev/null", O_WRONLY, 0);
      rc = posix_spawnp (&d->perf_pid, "perf", &fa, NULL, (char **)pargv,
                         environ);
      posix_spawn_file_actions_destroy (&fa);
      if (rc != 0)
        rl_die ("cannot start perf: %s", strerror (rc));
      if (o->perf_round && (d->perf_ctl = open (ctl, O_WRONLY)) < 0)
        rl_die ("open %s: %s", ctl, strerror (errno));
      usleep (500000); /* let perf attach */
    }
}

/* nftw callback: remove one entry, children first (FTW_DEPTH). */
static int
rm_entry (const char *path, const struct stat *st, int flag, struct FTW *f)
{
  (void)st;
  (void)f;
  if (flag == FTW_DP || flag == FTW_D)
    rmdir (path);
  else
    unlink (path);
  return 0;
}

/* --perf-round: turn perf's events on ("enable") or off ("disable"). */
static void
perf_ctl (const daemon_t *d, const char *cmd)
{
  if (d->perf_ctl < 0)
    return;
  char line[16];
  int len = snprintf (line, sizeof line, "%s\n", cmd);
  if (write (d->perf_ctl, line, (size_t)len) != len)
    rl_note ("perf control: %s", strerror (errno));
}

/* musterd's own view of the round: its last EPOCH-START line says how
 * long from the round's opening to the last job.start handed to the
 * transport ("round 123.4 ms"); -1 if it said nothing (log level). */
static double
musterd_round_ms (const daemon_t *d)
{
  FILE *f = fopen (d->log, "r");
  if (f == NULL)
    return -1;
  char line[1024];
  double ms = -1;
  while (fgets (line, sizeof line, f) != NULL)
    {
      const char *p = strstr (line, "EPOCH-START");
      if (p != NULL && (p = strstr (p, "; round ")) != NULL)
        ms = atof (p + 8);
    }
  fclose (f);
  return ms;
}

static void
stop_musterd (daemon_t *d)
{
  if (d->perf_ctl >= 0)
    {
      close (d->perf_ctl);
      d->perf_ctl = -1;
      char ctl[160];
      snprintf (ctl, sizeof ctl, "%s/perf.ctl", d->dir);
      unlink (ctl);
    }
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

/* -------------------------------------------------------------- sizes */

/* --sizes: run this program once per size and repetition (a fresh
 * process, and a fresh musterd, each time) with the other options
 * unchanged, echo its output, and gather its RESULT lines into a table of
 * medians. */
enum
{
  F_ROUND,
  F_DONE,
  F_B0,
  F_B1,
  F_CPU,
  F_RTT,
  F_SCPU,
  F_HBPS,
  F_P50,
  F_P99,
  F_DET,
  F_DETL,
  F_HBMS,
  F_NODE, /* zsrv: bytes per connected node (heap + anonymous) */
  F_MROUND,
  F_GCPU,
  F_LCPU,
  F_N
};
static const char *const field_key[F_N] = {
  "round_ms=",
  "done_ms=",
  "rss_per_worker_b=",
  "rss_per_worker_reg_b=",
  "musterd_cpu_round_s=",
  "hb_rtt_max_ms=",
  "steady_cpu_pct=",
  "steady_hb_per_s=",
  "hb_rtt_p50_ms=",
  "hb_rtt_p99_ms=",
  "detect_ms=",
  "detect_last_ms=",
  "hb_interval_ms=",
  "node_b=",
  "musterd_round_ms=",
  "gen_cpu_round_s=",
  "musterd_loop_cpu_round_s=",
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

/* Is argv[i] an option run_sizes sets itself (with its value)?  Returns
 * how many arguments to skip (0: keep it). */
static int
sizes_own_option (char **argv, int argc, int i)
{
  static const char *const own[] = { "--sizes", "--reps", "--hb-over",
                                     "--agent-transport" };
  for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
    {
      size_t l = strlen (own[k]);
      if (strcmp (argv[i], own[k]) == 0)
        return i + 1 < argc ? 2 : 1;
      if (strncmp (argv[i], own[k], l) == 0 && argv[i][l] == '=')
        return 1;
    }
  return 0;
}

static int
run_sizes (const opts_t *o, int argc, char **argv)
{
  char list[1024];
  if (strlen (o->sizes) >= sizeof list)
    return 2;
  strcpy (list, o->sizes);
  enum
  {
    MAXSZ = 32,
    MAXREP = 25
  };
  static double val[MAXSZ][F_N][MAXREP];
  double rmin[MAXSZ], rmax[MAXSZ];
  int nok[MAXSZ];
  char labels[MAXSZ][64];
  unsigned long wk[MAXSZ];
  int nsz = 0, bad = 0;
  int reps = o->reps < 1 ? 1 : o->reps > MAXREP ? MAXREP : o->reps;
  /* --hb-over both: each size with the ZeroMQ baseline, then UDP. */
  const char *modes[2] = { o->hb_over, NULL };
  if (strcmp (o->hb_over, "both") == 0)
    {
      modes[0] = "zmq";
      modes[1] = "udp";
    }
  /* zsrv: --agent-transport both: each size on libzmq's ROUTER, then
   * on the native port (the modes loop runs inside; with both, one mode). */
  const char *tps[2] = { o->transport, NULL };
  if (strcmp (o->transport, "both") == 0)
    {
      tps[0] = "zmq";
      tps[1] = "native";
      if (modes[1] != NULL)
        rl_die ("--agent-transport both and --hb-over both: one at a time");
    }
  for (char *tok = strtok (list, ","); tok && nsz < MAXSZ - 1;
       tok = strtok (NULL, ","))
    for (int ti = 0; ti < 2 && tps[ti] != NULL; ti++)
    for (int mi = 0; mi < 2 && modes[mi] != NULL; mi++)
      {
        unsigned a = 0, w = 0;
        if (sscanf (tok, "%ux%u", &a, &w) != 2 || a == 0 || w == 0)
          rl_die ("--sizes: '%s' is not AGENTSxWORKERS", tok);
        snprintf (labels[nsz], sizeof labels[nsz], "%ux%u %s%s%s", a, w,
                  modes[mi], tps[1] ? " " : "", tps[1] ? tps[ti] : "");
        wk[nsz] = (unsigned long)a * w;
        nok[nsz] = 0;
        rmin[nsz] = 1e30;
        rmax[nsz] = 0;
        char sa[16], sw[16];
        snprintf (sa, sizeof sa, "%u", a);
        snprintf (sw, sizeof sw, "%u", w);
        const char *cargv[80];
        int k = 0;
        cargv[k++] = argv[0];
        for (int i = 1; i < argc && k < 64; i++)
          {
            int skip = sizes_own_option (argv, argc, i);
            if (skip > 0)
              {
                i += skip - 1;
                continue;
              }
            cargv[k++] = argv[i];
          }
        cargv[k++] = "--agents";
        cargv[k++] = sa;
        cargv[k++] = "--workers";
        cargv[k++] = sw;
        cargv[k++] = "--hb-over";
        cargv[k++] = modes[mi];
        cargv[k++] = "--agent-transport";
        cargv[k++] = tps[ti];
        cargv[k] = NULL;
        for (int rep = 0; rep < reps; rep++)
          {
            int pfd[2];
            if (pipe (pfd) != 0)
              rl_die ("pipe: %s", strerror (errno));
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
                    val[nsz][fi][nok[nsz]]
                        = q ? atof (q + strlen (field_key[fi])) : -1;
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
          "bench/README.md)\n",
          reps);
  printf ("%-14s %8s %10s %13s %9s %9s %9s %9s %9s %9s %9s\n", "size, hb",
          "workers", "round", "(min-max)", "musterd's", "all done",
          "B/worker", "B/worker", "musterd", "(loop", "generator");
  printf ("%-14s %8s %10s %13s %9s %9s %9s %9s %9s %9s %9s\n", "", "", "", "",
          "round", "", "from idle", "reg+round", "CPU round", "thread)",
          "CPU round");
  double m[MAXSZ][F_N];
  for (int i = 0; i < nsz; i++)
    {
      if (nok[i] == 0)
        {
          printf ("%-14s %8lu %10s   (broken: see the output above)\n",
                  labels[i], wk[i], "FAILED");
          continue;
        }
      for (int fi = 0; fi < F_N; fi++)
        m[i][fi] = median (val[i][fi], nok[i]);
      char range[32], done[16] = "        -", mr[16] = "        -";
      snprintf (range, sizeof range, "(%.0f-%.0f)", rmin[i], rmax[i]);
      if (m[i][F_DONE] >= 0)
        snprintf (done, sizeof done, "%6.0f ms", m[i][F_DONE]);
      if (m[i][F_MROUND] >= 0)
        snprintf (mr, sizeof mr, "%6.0f ms", m[i][F_MROUND]);
      printf ("%-14s %8lu %7.0f ms %13s %9s %9s %9.0f %9.0f %7.2f s %7.2f s "
              "%7.2f s%s\n",
              labels[i], wk[i], m[i][F_ROUND], range, mr, done, m[i][F_B0],
              m[i][F_B1], m[i][F_CPU], m[i][F_LCPU], m[i][F_GCPU],
              nok[i] < reps ? "  (some runs broke)" : "");
    }
  printf ("\nheartbeats while the job runs (steady) and a silent node's "
          "loss (--loss)\n");
  printf ("%-14s %9s %10s %10s %9s %9s %9s %11s %11s\n", "size, hb",
          "interval", "musterd", "hb/s", "rtt p50", "rtt p99", "rtt max",
          "detected", "(last gang");
  printf ("%-14s %9s %10s %10s %9s %9s %9s %11s %11s\n", "", "",
          "CPU", "", "", "", "", "(job.stop)", "member)");
  for (int i = 0; i < nsz; i++)
    {
      if (nok[i] == 0 || m[i][F_SCPU] < 0)
        continue;
      char det[24] = "          -", detl[24] = "          -";
      if (m[i][F_DET] >= 0)
        {
          snprintf (det, sizeof det, "%8.0f ms", m[i][F_DET]);
          snprintf (detl, sizeof detl, "%8.0f ms", m[i][F_DETL]);
        }
      printf ("%-14s %6.0f ms %8.1f %% %10.0f %6.2f ms %6.2f ms %6.1f ms "
              "%11s %11s\n",
              labels[i], m[i][F_HBMS], m[i][F_SCPU], m[i][F_HBPS],
              m[i][F_P50], m[i][F_P99], m[i][F_RTT], det, detl);
    }
  if (modes[1] != NULL)
    for (int i = 0; i + 1 < nsz; i += 2)
      if (nok[i] > 0 && nok[i + 1] > 0 && m[i + 1][F_SCPU] > 0)
        printf ("%.*s UDP vs ZeroMQ: musterd CPU per heartbeat %.2fx, "
                "round trip p99 %.2fx, detection %.2fx\n",
                (int)strcspn (labels[i], " "), labels[i],
                (m[i + 1][F_SCPU] / (m[i + 1][F_HBPS] + 1e-9))
                               / (m[i][F_SCPU] / (m[i][F_HBPS] + 1e-9) + 1e-12),
                m[i + 1][F_P99] / (m[i][F_P99] + 1e-12),
                m[i][F_DET] > 0 ? m[i + 1][F_DET] / m[i][F_DET] : -1.0);
  if (tps[1] != NULL) /* zsrv: native against the libzmq baseline */
    for (int i = 0; i + 1 < nsz; i += 2)
      if (nok[i] > 0 && nok[i + 1] > 0)
        printf ("%.*s native vs libzmq ROUTER: per node %.0f vs %.0f B "
                "(%.2fx), per worker %.0f vs %.0f B (%.2fx), round %.0f vs "
                "%.0f ms (%.2fx), musterd CPU in the round %.2f vs %.2f s "
                "(%.2fx)\n",
                (int)strcspn (labels[i], " "), labels[i], m[i + 1][F_NODE],
                m[i][F_NODE], m[i + 1][F_NODE] / (m[i][F_NODE] + 1e-9),
                m[i + 1][F_B0], m[i][F_B0],
                m[i + 1][F_B0] / (m[i][F_B0] + 1e-9), m[i + 1][F_ROUND],
                m[i][F_ROUND], m[i + 1][F_ROUND] / (m[i][F_ROUND] + 1e-9),
                m[i + 1][F_CPU], m[i][F_CPU],
                m[i + 1][F_CPU] / (m[i][F_CPU] + 1e-9));
  return bad ? 1 : 0;
}

/* ------------------------------------------------------------- parent */

/* Let musterd settle between phases (the shards keep heartbeating). */
static void
settle (int ms_)
{
  usleep ((useconds_t)ms_ * 1000u);
}

int
main (int argc, char **argv)
{
  rl_prog = "rdzv_load";
  opts_t o;
  if (parse_opts (argc, argv, &o) != 0)
    {
      usage (stderr);
      return 2;
    }
  rl_verbose = o.verbose;
  signal (SIGPIPE, SIG_IGN);
  if (o.sizes == NULL && strcmp (o.hb_over, "both") == 0)
    {
      /* Both ways in one run: as --sizes AGENTSxWORKERS. */
      static char one[32];
      snprintf (one, sizeof one, "%ux%u", o.agents, o.workers);
      o.sizes = one;
    }
  if (o.sizes != NULL)
    return run_sizes (&o, argc, argv);
  uint32_t per = rl_raise_nofile (o.agents);
  int k = (int)((o.agents + per - 1) / per);

  daemon_t d;
  memset (&d, 0, sizeof d);
  d.perf_ctl = -1;
  long pid = o.pid;
  const char *endpoint = o.endpoint;
  if (o.musterd != NULL)
    {
      start_musterd (&o, &d);
      pid = d.pid;
      endpoint = d.endpoint;
    }
  rl_note ("%u agents in %d process(es) of at most %u", o.agents, k, per);

  rl_shard_t *sh = rl_shards_start (&o, endpoint, k, 1);

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
  long rss0 = pid > 0 ? ps_status_kb (pid, "VmRSS") : -1;
  ps_mem_t m0 = { 0 }; /* mem: whose bytes (proc_stats.h) */
  if (pid > 0)
    ps_mem (pid, &m0);
  uint64_t t_conn0 = rl_now_us ();
  if (rl_shards_phase (sh, k, 'C', &rc_) != 0)
    {
      bad = 1;
      goto out;
    }
  uint64_t t_conn = rc_.t_last - t_conn0;
  printf ("  connect: %.1f rl_ms (window %u%s; not part of the round)\n",
          rl_ms (t_conn), o.connect_window,
          o.connect_window ? "" : " = all at once");
  fflush (stdout);
  settle (200);
  long rss1 = pid > 0 ? ps_status_kb (pid, "VmRSS") : -1;
  ps_mem_t m1 = { 0 }, m2 = { 0 };
  if (pid > 0)
    ps_mem (pid, &m1);
  double cpu1 = pid > 0 ? ps_cpu_s (pid) : -1;
  double mcpu1 = pid > 0 ? ps_main_thread_cpu_s (pid) : -1;

  perf_ctl (&d, "enable");
  uint64_t t_reg0 = rl_now_us ();
  if (rl_shards_phase (sh, k, 'R', &rr) != 0)
    {
      bad = 1;
      goto out;
    }
  perf_ctl (&d, "disable");
  double cpu2 = pid > 0 ? ps_cpu_s (pid) : -1;
  double mcpu2 = pid > 0 ? ps_main_thread_cpu_s (pid) : -1;
  uint64_t t_round = rr.t_last - t_reg0;
  printf ("  round: registers sent in     %9.1f ms\n",
          rl_ms (rr.t_sent - t_reg0));
  printf ("         all welcomed at       %9.1f ms\n",
          rl_ms (rr.t_last_welcome - t_reg0));
  printf ("         first job.start at    %9.1f ms\n",
          rl_ms (rr.t_first - t_reg0));
  printf ("         all job.start at      %9.1f ms   <- rendezvous round\n",
          rl_ms (t_round));
  printf ("         musterd CPU %.2f s (its loop thread %.2f s), load "
          "generator CPU %.2f s; received "
          "%llu msgs (%llu rdzv.progress); heartbeat every %llu ms, round "
          "trip max %.1f ms\n",
          pid > 0 ? cpu2 - cpu1 : -1.0, pid > 0 ? mcpu2 - mcpu1 : -1.0,
          rr.cpu_s,
          (unsigned long long)rr.msgs_in, (unsigned long long)rr.progress_in,
          (unsigned long long)(rr.hb_ms), rl_ms (rr.hb_rtt_max_us));
  fflush (stdout);
  /* mem: the round's messages leave musterd over the next second (10,000
   * job.start at 10,000 nodes), and musterd returns the freed pages a
   * second after the round (coordinator/mem_trim.c): read after both,
   * with a margin for a loaded machine. */
  settle (2500);
  /* zsim: musterd's own view beside the generator's (EPOCH-START). */
  double mround = o.musterd != NULL ? musterd_round_ms (&d) : -1.0;
  if (mround >= 0)
    printf ("         musterd's view: %.1f ms from the round's opening "
            "(first register) to the last job.start handed to its "
            "transport\n", mround);
  fflush (stdout);
  long rss2 = pid > 0 ? ps_status_kb (pid, "VmRSS") : -1;
  if (pid > 0)
    ps_mem (pid, &m2);
  long rss3 = -1; /* after the steady period: ZeroMQ's pipes fill with use */

  if (o.steady_s > 0)
    {
      double c0 = pid > 0 ? ps_cpu_s (pid) : -1;
      uint64_t t0 = rl_now_us ();
      if (rl_shards_phase (sh, k, 'I', &ri) != 0)
        {
          bad = 1;
          goto out;
        }
      double wall = (double)(rl_now_us () - t0) / 1e6;
      double c1 = pid > 0 ? ps_cpu_s (pid) : -1;
      steady_pct = pid > 0 ? 100.0 * (c1 - c0) / wall : -1.0;
      rss3 = pid > 0 ? ps_status_kb (pid, "VmRSS") : -1;
      steady_hbps = (double)ri.heartbeats_out / wall;
      printf ("  steady (job running, heartbeats only over %s every %llu "
              "ms, %.1f s): musterd CPU %.1f%% of a core; %.0f heartbeats/s "
              "(%.0f answered/s); round trip mean %.2f ms, p50 %.2f, p99 "
              "%.2f, max %.1f ms%s\n",
              o.hb_udp ? "UDP" : "ZeroMQ", (unsigned long long)ri.hb_ms,
              wall, steady_pct, (double)ri.heartbeats_out / wall,
              (double)ri.heartbeats_in / wall,
              ri.hb_rtt_n ? rl_ms (ri.hb_rtt_sum_us / ri.hb_rtt_n) : 0.0,
              hist_quantile_ms (ri.hb_rtt_hist, 0.5),
              hist_quantile_ms (ri.hb_rtt_hist, 0.99),
              rl_ms (ri.hb_rtt_max_us),
              ri.hb_bad ? " (some pongs did not check out)" : "");
      fflush (stdout);
    }

  double det_first = -1, det_last = -1, det_hb = -1;
  if (o.loss)
    {
      report_t rk, rlost;
      if (rl_shards_phase (sh, k, 'K', &rk) != 0 || rl_shards_phase (sh, k, 'L', &rlost) != 0)
        {
          bad = 1;
          goto out;
        }
      det_first = rl_ms (rlost.t_first - rk.t_stop);
      det_last = rl_ms (rlost.t_last - rk.t_stop);
      det_hb = rk.t_victim_hb ? rl_ms (rlost.t_first - rk.t_victim_hb) : -1;
      printf ("  loss:  one agent silent (no heartbeat, connection open); "
              "the first of the other %u agents had job.stop %.1f ms later, "
              "the last %.1f ms later (%.1f ms after its last heartbeat)\n",
              rlost.count, det_first, det_last, det_hb);
      printf ("RESULT agents=%u workers=%zu connect_ms=%.1f round_ms=%.1f "
              "rss_per_worker_b=%.0f rss_per_worker_reg_b=%.0f "
              "musterd_cpu_round_s=%.2f hb=%s hb_interval_ms=%llu "
              "hb_rtt_max_ms=%.1f hb_rtt_p50_ms=%.2f hb_rtt_p99_ms=%.2f "
              "steady_cpu_pct=%.1f steady_hb_per_s=%.0f detect_ms=%.1f "
              "detect_last_ms=%.1f musterd_round_ms=%.1f "
              "gen_cpu_round_s=%.2f node_b=%.0f "
              "musterd_loop_cpu_round_s=%.2f\n",
              o.agents, nw, rl_ms (t_conn), rl_ms (t_round),
              pid > 0 ? (double)(rss2 - rss0) * 1024.0 / (double)nw : -1.0,
              pid > 0 ? (double)(rss2 - rss1) * 1024.0 / (double)nw : -1.0,
              pid > 0 ? cpu2 - cpu1 : -1.0, o.hb_udp ? "udp" : "zmq",
              (unsigned long long)ri.hb_ms, rl_ms (ri.hb_rtt_max_us),
              hist_quantile_ms (ri.hb_rtt_hist, 0.5),
              hist_quantile_ms (ri.hb_rtt_hist, 0.99), steady_pct,
              steady_hbps, det_first, det_last, mround, rr.cpu_s,
              pid > 0 ? (double)(m1.heap_kb - m0.heap_kb + m1.anon_kb
                                 - m0.anon_kb) * 1024.0 / o.agents
                      : -1.0,
              pid > 0 ? mcpu2 - mcpu1 : -1.0);
      fflush (stdout);
      goto out;
    }

  if (rl_shards_phase (sh, k, 'E', &rx) != 0)
    {
      bad = 1;
      goto out;
    }
  double cpu3 = pid > 0 ? ps_cpu_s (pid) : -1;
  uint64_t t_exit0 = rl_now_us ();
  if (rl_shards_phase (sh, k, 'X', &rd) != 0)
    {
      bad = 1;
      goto out;
    }
  double cpu4 = pid > 0 ? ps_cpu_s (pid) : -1;
  long hwm = pid > 0 ? ps_status_kb (pid, "VmHWM") : -1;
  uint64_t t_done = rd.t_last - t_exit0;
  printf ("  done:  exits sent in         %9.1f ms\n",
          rl_ms (rd.t_sent - t_exit0));
  printf ("         all job.done at       %9.1f ms   (%zu worker.state; "
          "musterd CPU %.2f s)\n",
          rl_ms (t_done), nw, pid > 0 ? cpu4 - cpu3 : -1.0);
  if (pid > 0)
    {
      printf ("  musterd VmRSS: %ld kB idle, %ld kB connected, %ld kB after "
              "the round (VmHWM %ld kB)\n",
              rss0, rss1, rss2, hwm);
      printf ("  memory per worker: %.0f B from idle, %.0f B from connected "
              "(registration and round only)\n",
              (double)(rss2 - rss0) * 1024.0 / (double)nw,
              (double)(rss2 - rss1) * 1024.0 / (double)nw);
      /* mem: musterd's own heap against the anonymous mappings (libzmq's
       * I/O thread arena), and the kernel's objects per TCP socket. */
      printf ("  musterd split: per node connected: heap %.0f B, anonymous "
              "%.0f B; per worker in the round: heap %.0f B, anonymous %.0f "
              "B; kernel per TCP socket %ld B (slab objects)\n",
              (double)(m1.heap_kb - m0.heap_kb) * 1024.0 / o.agents,
              (double)(m1.anon_kb - m0.anon_kb) * 1024.0 / o.agents,
              (double)(m2.heap_kb - m1.heap_kb) * 1024.0 / (double)nw,
              (double)(m2.anon_kb - m1.anon_kb) * 1024.0 / (double)nw,
              ps_kernel_tcp_socket_b ());
      if (rss3 >= 0)
        printf ("  musterd VmRSS after the steady period: %ld kB (%+.0f B "
                "per node since the round)\n",
                rss3, (double)(rss3 - rss2) * 1024.0 / o.agents);
    }
  printf ("RESULT agents=%u workers=%zu connect_ms=%.1f round_ms=%.1f "
          "done_ms=%.1f rss_per_worker_b=%.0f rss_per_worker_reg_b=%.0f "
          "musterd_cpu_round_s=%.2f hb=%s hb_interval_ms=%llu "
          "hb_rtt_max_ms=%.1f hb_rtt_p50_ms=%.2f hb_rtt_p99_ms=%.2f "
          "steady_cpu_pct=%.1f steady_hb_per_s=%.0f node_b=%.0f "
          "musterd_round_ms=%.1f gen_cpu_round_s=%.2f "
          "musterd_loop_cpu_round_s=%.2f\n",
          o.agents, nw, rl_ms (t_conn), rl_ms (t_round), rl_ms (t_done),
          pid > 0 ? (double)(rss2 - rss0) * 1024.0 / (double)nw : -1.0,
          pid > 0 ? (double)(rss2 - rss1) * 1024.0 / (double)nw : -1.0,
          pid > 0 ? cpu2 - cpu1 : -1.0, o.hb_udp ? "udp" : "zmq",
          (unsigned long long)ri.hb_ms, rl_ms (ri.hb_rtt_max_us),
          hist_quantile_ms (ri.hb_rtt_hist, 0.5),
          hist_quantile_ms (ri.hb_rtt_hist, 0.99), steady_pct, steady_hbps,
          pid > 0 ? (double)(m1.heap_kb - m0.heap_kb + m1.anon_kb
                             - m0.anon_kb) * 1024.0 / o.agents
                  : -1.0,
          mround, rr.cpu_s, pid > 0 ? mcpu2 - mcpu1 : -1.0);
  fflush (stdout);

out:
  if (rl_shards_stop (&sh, k) != 0)
    bad = 1;
  if (o.musterd != NULL)
    {
      stop_musterd (&d);
      if (bad)
        fprintf (stderr, "rdzv_load: failed; musterd's log is %s\n", d.log);
      else
        /* Everything under its directory: the log, the endpoints, and
         * the state directory (musterd's journal and term, its socket if
         * it was killed), which rmdir alone left behind. */
        nftw (d.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
  return bad ? 1 : 0;
}
