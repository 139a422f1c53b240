/*
 * rdzv_load.h — what the two halves of the rendezvous load generator share:
 * rdzv_load.c (options, the musterd it starts, the parent that drives the
 * phases and reports) and rdzv_sim.c (one shard of simulated agents, run in
 * a child process).  See rdzv_load.c for what the benchmark measures.
 */
#ifndef RDZV_LOAD_H
#define RDZV_LOAD_H

#include <stdint.h>
#include <sys/types.h>

/* Command-line options (see usage() in rdzv_load.c). */
typedef struct opts
{
  uint32_t agents;
  uint32_t workers;
  const char *musterd;   /* start this binary, or */
  const char *endpoint;  /* use this agent endpoint */
  long pid;              /* musterd pid for --endpoint (memory, CPU) */
  const char *heartbeat; /* --heartbeat for a musterd we start */
  const char *perf;      /* perf record output for a musterd we start */
  int perf_round;        /* --perf-round: record the round only */
  const char *log_level; /* musterd --log-level */
  const char *dargs[16]; /* more musterd arguments (--musterd-arg) */
  int ndargs;
  double timeout_s;
  double steady_s;         /* heartbeat-only period measured after the round */
  uint32_t connect_window; /* connections in flight at once, 0 = all */
  int io_threads;
  int agent_zmq;         /* --agent-io zmq: libzmq DEALERs (the baseline);
                            0: plain sockets speaking ZMTP (rl_zmtp.c) */
  int verbose;
  const char *sizes; /* --sizes: run each AxW in turn, then a table */
  int reps;          /* --reps: runs per size with --sizes */
  int nice;          /* niceness of the load processes */
  const char *role;  /* role name of the job's one role */
  /* hb: heartbeats over UDP, and an injected silent loss */
  const char *hb_over; /* "udp" (default), "zmq" (the baseline) or "both" */
  const char *transport; /* zsrv: agent port "native" (default), "zmq", "both" */
  int hb_udp;          /* this run's agents heartbeat over UDP */
  int loss;            /* --loss: after steady, one agent falls silent */
  uint32_t jobs;     /* many_jobs.c: agents bring this many jobs of
                        agents / jobs nodes each; 0 or 1 = one job */
} opts_t;

/* Heartbeat round-trip histogram: 8 buckets per octave of microseconds
 * (about 9 % wide), up to 2^27 us. */
#define RL_HIST_N 200
unsigned rl_hist_idx (uint64_t us);
uint64_t rl_hist_upper_us (unsigned idx);

/* What a shard reports to the parent after each phase (one pipe write,
 * well under PIPE_BUF).  Times are CLOCK_MONOTONIC, comparable across
 * processes. */
typedef struct report
{
  int failed;
  uint32_t count;  /* agents that completed the phase */
  uint64_t t_sent; /* last message of the phase sent */
  uint64_t t_first_welcome, t_last_welcome;
  uint64_t t_first, t_last; /* first and last completion */
  uint64_t msgs_in, heartbeats_in, progress_in, heartbeats_out;
  uint64_t hb_late_max_us; /* worst lateness of a heartbeat sent here */
  uint64_t hb_rtt_max_us;  /* worst heartbeat round trip through musterd */
  uint64_t hb_rtt_sum_us, hb_rtt_n;
  double cpu_start_s, cpu_s; /* this process's CPU at phase start and end */
  uint64_t hb_ms;            /* heartbeat interval from agent.welcome */
  uint64_t t_stop;           /* 'K': when the victim fell silent (0 here
                                if it is not in this shard) */
  uint64_t t_victim_hb;      /* 'K': the victim's last heartbeat sent */
  uint64_t hb_bad;           /* pongs that did not check out */
  uint32_t hb_rtt_hist[RL_HIST_N];
} report_t;

/* Progress lines on stderr (--verbose), and the program name messages
 * start with (rl_util.c). */
extern int rl_verbose;
extern const char *rl_prog;

/* CLOCK_MONOTONIC in microseconds, and microseconds as milliseconds. */
uint64_t rl_now_us (void);
double rl_ms (uint64_t us);
/* A progress line on stderr if rl_verbose. */
void rl_note (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
/* A message on stderr, then exit(1): something broke. */
void rl_die (const char *fmt, ...)
    __attribute__ ((format (printf, 1, 2), noreturn));
/* CPU seconds (user + system) of this process, all threads. */
double rl_self_cpu_s (void);

/* Run one shard: agents base .. base+n-1 of o->agents, connecting to
 * `endpoint`; `nshards` shards share --connect-window.  Reads one-byte
 * commands from cmd_fd ('C' connect, 'R' register and wait for job.start,
 * 'I' heartbeats only for o->steady_s, 'E' encode the exit reports, 'X'
 * send them and wait for job.done, 'K' the last agent of all falls silent
 * (no heartbeat, its connection left open: a silent death), 'L' wait for
 * the job.stop that the loss brings every other agent, 'Q' quit) and answers each with one
 * report_t on res_fd.  Returns the process exit status (0, or 1 if
 * something broke). */
int rl_shard_main (const opts_t *o, const char *endpoint, uint32_t base,
                   uint32_t n, uint32_t nshards, int cmd_fd, int res_fd);

/* The shard processes (rl_shard.c).  How many agents one process may
 * hold: RLIMIT_NOFILE is raised as far as allowed (musterd, started
 * after, inherits it and needs one descriptor per agent; a warning says
 * when that is too low); a libzmq agent needs two descriptors. */
uint32_t rl_raise_nofile (uint32_t agents);

typedef struct rl_shard
{
  pid_t pid;
  int cmd_fd, res_fd;
  uint32_t base, n; /* its agents: base .. base+n-1 */
  report_t r;       /* its last report */
} rl_shard_t;

/* Fork k shards over o->agents, each holding whole units of `unit`
 * agents (many_jobs: a job's agents stay in one process; 0 or 1 = any
 * split), niced by o->nice, talking to endpoint.  Exits on failure. */
rl_shard_t *rl_shards_start (const opts_t *o, const char *endpoint, int k,
                             uint32_t unit);

/* One command to every shard, every report merged into *out (earliest
 * first, latest last, counts and CPU summed).  0, or -1 if a shard died
 * or the phase failed (said on stderr). */
int rl_shards_phase (rl_shard_t *sh, int k, char cmd, report_t *out);

/* Tell every shard to quit, wait for them, free the array and set *shp
 * to NULL.  0, or -1 if a shard exited with a failure. */
int rl_shards_stop (rl_shard_t **shp, int k);

#endif
