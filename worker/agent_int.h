/*
 * agent_int.h — the agent's state, shared by agent.c (coordinator side:
 * registration, heartbeats, commands) and agent_workers.c (node side:
 * spawning, exits, the workers' ipc socket).  Not installed.
 */
#ifndef MU_AGENT_INT_H
#define MU_AGENT_INT_H

#include "common/wire.h"
#include "worker/agent.h"
#include "worker/log_files.h"
#include "worker/run_dir.h"
#include "worker/spawn.h"

typedef struct mu_agent_worker {
  mu_agent_t *agent;
  mu_proc_t *proc;
  uint64_t rank;
  uint64_t epoch;
  uint32_t local_rank;
  int pid;
  int running;
  mu_route_t route; /* its libmuster socket, once it said hello */
  int has_route;
  int new_member;   /* started in an in-place epoch: must sync state */
  int hung;         /* killed for missing its progress deadline */
  uint64_t last_progress_ms; /* hello or last progress report; 0 = none */
  uint32_t uid;     /* the user it runs as */
  uint64_t log_attempt; /* its log files' attempt_<N> (with a log dir) */
  /* its exit, kept for agent.register after a reconnect (exit_seq 0 =
   * not exited); exit_state is a string literal */
  const char *exit_state;
  int64_t exit_code;
  int64_t exit_signal;
  uint64_t exit_seq;
  int fenced;       /* killed by this agent's fencing */
  char prefix[MU_PROC_PREFIX_MAX]; /* "[role rank] ", fits mu_proc_set_prefix */
  int cm_stopped;   /* the agent stopped it (metrics: exit cause) */
  int spare;        /* a spare process, not (yet) in the epoch (agent_spare.c) */
  uint64_t spare_id; /* a spare's MUSTER_SPARE, named by its hello */
  /* service: its load reports, forwarded at most every 100 ms
   * (agent_workers.c); a held one goes with the next heartbeat */
  uint64_t load_milli, load_epoch, load_fwd_ms;
  int load_pending;
} mu_agent_worker_t;

struct mu_agent {
  mu_agent_opts_t opts;
  mu_log_t own_log;
  mu_log_t *log;
  mu_job_spec_t *job;       /* owned copy of opts.job */
  char node_id[128];
  char host[256];
  char coordinator[256];     /* the endpoint in use (of coord_list) */
  char coord_list[1024];     /* --coordinator A,B,...: rotated on COORD-LOST */
  size_t ncoords, coord_idx;
  uint64_t coord_switch_ms;  /* when coord_idx last changed */
  uint64_t term;             /* highest fencing term seen (common/term.h) */
  char standby_stream[256];  /* the coordinator's journal stream (welcome):
                                where a `muster run --standby` node's
                                standby follows it; "" = none */
  char exec_helper[1024];
  char log_dir[4096];       /* the job's worker log directory; "" = none */
  mu_std_spec_t redirects, tee; /* which streams go to files (log_files.h) */
  mu_run_dir_t run_dir;     /* the ipc socket's directory, locked */
  char ipc_ep[192];
  /* run as the job's owner (owner.c, agent_ipc_owner.c, agent_ipc_auth.c) */
  uint32_t euid;            /* the agent's own uid */
  uint32_t run_uid;         /* the current epoch's workers run as */
  char run_ep[192];         /* ...and reach the agent at */
  struct mu_owner *run_owner; /* their user, when not the agent's own */
  struct mu_agent_owner_ep *owner_eps; /* per-owner endpoints bound */
  size_t nowner_eps;
  uint64_t owner_ep_seq;    /* makes every endpoint's path unique */
  void *zap_sock;           /* REP on inproc://zeromq.zap.01 */
  struct mu_zwatch *zap_watch;
  uint64_t port_base;
  uv_loop_t *loop;
  void *zctx;
  void *coord_sock;         /* DEALER to the agent port (CURVE client) */
  mu_keypair_t key;         /* this agent's CURVE key pair */
  char server_key[41];      /* the coordinator's; "" = no CURVE */
  mu_token_t token;         /* join token to enrol with */
  int have_token;
  int enrolled;             /* the token was exchanged for `key` */
  int coord_connected;      /* coord_sock connected (after enrolment) */
  void *enroll_sock;        /* DEALER made with the token's key */
  struct mu_zwatch *enroll_watch;
  void *work_sock;          /* ROUTER on ipc for local workers */
  struct mu_zwatch *coord_watch;
  struct mu_zwatch *work_watch;
  uv_timer_t reg_timer;     /* registration retries, connect timeout */
  uv_timer_t hb_timer;
  struct mu_agent_hb *hb_udp; /* hb: heartbeats over UDP (agent_hb.c) */
  uv_timer_t hang_timer;    /* progress_timeout checks */
  struct mu_outq *out_q, *err_q; /* the workers' console (out_queue.h) */
  int own_out_q, own_err_q; /* made here (closed by the agent) */
  int out_held_said[2];     /* "not being read" said, per stream */
  uv_idle_t spawn_idle;     /* spawns an epoch's workers a batch per loop
                               iteration (agent_workers.c) */
  size_t spawn_next;        /* next index of a->start's assignment to start */
  int spawning;             /* spawn_idle is active */
  uint64_t started_ms;
  uint64_t last_coord_ms;
  uint64_t heartbeat_ms;
  uint64_t miss_limit;
  uint64_t hb_seq;
  uint64_t reg_backoff_ms;
  uint64_t last_tick_ms;    /* last heartbeat tick: a late one = we stalled */
  uint64_t exit_seq;        /* exits of the current epoch so far */
  int coord_lost;           /* registering again after losing the
                               coordinator (its outage window runs) */
  int fenced;               /* outage window passed: workers killed; report
                               this node's outcome once they are down */
  /* workers' requests (kv, barrier, ckpt.saved) that could not be sent
   * while the coordinator was unreachable: sent after the next welcome,
   * so libmuster calls see a delay, not an error (agent.c) */
  struct mu_agent_held *held_head, *held_tail;
  size_t nheld;
  int registered;
  int handles_open;
  int shutting_down;
  int left;               /* agent.leave sent: the coordinator released us */
  int done_reported;
  int closed;
  uint64_t shutdown_grace_ms;
  /* the current epoch */
  mu_msg_t start;           /* last job.start (type NONE before) */
  mu_agent_worker_t *workers;
  size_t nworkers;
  size_t live;              /* workers not yet exited (any epoch) */
  mu_msg_t pending_done;    /* job.done received while workers still ran */
  mu_msg_t members;         /* job.members of the current epoch, if fetched */
  mu_msg_t ckpt_request;    /* the checkpoint in flight, for late workers */
  uint64_t max_step;        /* highest step a worker reported (heartbeats) */
  uv_timer_t preempt_timer; /* preemption deadline */
  int preempting;
  int members_requested;
  /* metrics (agent_metrics.c): the registry, on this loop's thread */
  struct mu_metrics *metrics;
  uint64_t cm_start_us;     /* the last job.start's arrival */
  uint64_t cm_start_wall_us; /* the same instant on the wall clock */
  uint64_t cm_out_seen[2];  /* console bytes already counted */
  /* output forwarded to the coordinator (agent_logs.c, ctl area) */
  struct mu_logfwd *logfwd;
  uv_timer_t logs_timer;
  int logs_timer_open;
  /* torch/kv: in-place spares (agent_spare.c) */
  mu_agent_worker_t *spare; /* started, waiting for a place; NULL = none */
  uint64_t spare_seq;       /* the last spare id given */
  /* mpi: the PMIx server and the current epoch's namespace (agent_pmix.c) */
  struct mu_agent_pmix *pmix;
  /* spawn: the resident spawner (spawner.h; NULL = posix_spawn each
   * worker's muster-exec, MUSTER_SPAWNER=exec) and its restarts logged */
  struct mu_spawner *spawner;
  unsigned spawner_restarts;
};

/* agent_workers.c: start a process for assignment idx of a->start into w
 * (a spare: with MUSTER_SPARE=1, not counted live, not reported); 0 or a
 * negative code. */
int mu_agent_spawn_into (mu_agent_t *a, size_t idx, mu_agent_worker_t *w,
                         int spare);

/* agent_spare.c: in-place mode's spare processes (job_spec.spares).  A
 * spare runs the job's program up to muster_worker_init, whose hello the
 * agent holds; when a worker is lost, the next in-place epoch gives its
 * place to the spare instead of starting a process (decision 76). */
void mu_agent_spare_ensure (mu_agent_t *a);
/* Put the spare into a->workers[i] (an assignment with no live worker):
 * 1 if done, 0 if there is no spare to take. */
int mu_agent_spare_take (mu_agent_t *a, size_t i);
/* A hello naming a spare id (h->spare): the waiting spare's is kept to be
 * answered later, a taken spare's is answered; 1 if it was a spare's. */
int mu_agent_spare_hello (mu_agent_t *a, const mu_route_t *from,
                          const mu_hello_t *h);
/* The spare exited (on_worker_exit of a worker marked spare). */
void mu_agent_spare_exited (mu_agent_t *a, mu_agent_worker_t *w);
/* Kill the spare, if any (the job or the epoch's workers are over). */
void mu_agent_spare_kill (mu_agent_t *a);
/* agent_workers.c: answer w's hello with its epoch's worker.info. */
void mu_agent_workers_info (mu_agent_t *a, mu_agent_worker_t *w);

/* agent_workers.c: set key=val in a mu_env_build environment (replacing
 * any value).  0 or -ENOMEM. */
int mu_agent_env_set (char ***envp, const char *key, const char *val);

/* agent.c */
int mu_agent_send_coord (mu_agent_t *a, const mu_msg_t *m);
/* service: send the load reports held back by the rate limit
 * (agent_workers.c; from the heartbeat timer). */
void mu_agent_workers_flush_loads (mu_agent_t *a);
/* Report the job failed for `why` and shut down. */
void mu_agent_give_up (mu_agent_t *a, const char *why);
/* Connect the coordinator socket (with the agent's own key). */
int mu_agent_connect_coord (mu_agent_t *a);
/* Move to the next coordinator endpoint of the list (a standby,
 * coordinator/standby.h); a no-op with one endpoint. */
void mu_agent_next_coord (mu_agent_t *a, const char *why);
/* (Re)start registration at once, with fresh backoff. */
void mu_agent_register_now (mu_agent_t *a);

/* agent_outage.c: cut off from the coordinator. */
/* Hold a worker's request (kv, barrier, ckpt.saved) for the next welcome:
 * 0, or a code (not such a request, too many held, no memory). */
int mu_agent_hold_request (mu_agent_t *a, const mu_msg_t *m);
/* Send the held requests, in order (after agent.welcome). */
void mu_agent_flush_held (mu_agent_t *a);
void mu_agent_free_held (mu_agent_t *a);
/* How long the workers run without a coordinator: the job's outage
 * window, or the connect timeout if shorter. */
uint64_t mu_agent_outage_ms (const mu_agent_t *a);
/* Fencing: SIGKILL every running worker now, saying why. */
void mu_agent_fence (mu_agent_t *a, const char *why);
/* The coordinator is gone for good (away_ms): report this node's own
 * workers' outcome as the job's, then shut down. */
void mu_agent_report_own_outcome (mu_agent_t *a, uint64_t away_ms);

/* agent_enroll.c: exchange a join token for the agent's own key. */
int mu_agent_enroll_open (mu_agent_t *a);
int mu_agent_enroll_send (mu_agent_t *a);
void mu_agent_enroll_close (mu_agent_t *a);
void mu_agent_report_done (mu_agent_t *a, const mu_job_done_t *d);
void mu_agent_maybe_finish (mu_agent_t *a);

/* agent_logs.c: worker output lines to the coordinator (agent.logs). */
void mu_agent_logs_init (mu_agent_t *a);
/* spawn.c's on_line for a worker (arg: its mu_agent_worker_t). */
void mu_agent_logs_line (void *arg, int is_err, const char *line, size_t len);
/* Send what is pending now. */
void mu_agent_logs_flush (mu_agent_t *a);
/* Flush, then release (the agent is closing). */
void mu_agent_logs_close (mu_agent_t *a);

/* agent_output.c: the workers' console (out_q, err_q). */
int mu_agent_output_open (mu_agent_t *a);
void mu_agent_output_close (mu_agent_t *a);

/* agent_metrics.c: the registry (made by mu_agent_new) and the hooks. */
typedef enum mu_am_id {
  MU_AM_WORKERS = 0, /* gauge {state} */
  MU_AM_EXITS,       /* counter {cause} */
  MU_AM_SPAWN_SECONDS,
  MU_AM_OUTPUT_BYTES, /* counter {stream} */
  MU_AM_CONNECTED,
  MU_AM_STARTS,
  MU_AM_COUNT
} mu_am_id_t;
int mu_agent_metrics_open (mu_agent_t *a);
void mu_agent_metrics_close (mu_agent_t *a);
/* A job.start arrived (spawn times run from here). */
void mu_am_start_received (mu_agent_t *a);
/* A worker's process started. */
void mu_am_spawned (mu_agent_t *a);
/* A worker ended (w NULL: it could not be started). */
void mu_am_worker_exit (mu_agent_t *a, const mu_agent_worker_t *w,
                        int64_t exit_code, int term_signal);

/* agent_workers.c */
int mu_agent_workers_open (mu_agent_t *a);
void mu_agent_workers_start (mu_agent_t *a, mu_msg_t *start);
void mu_agent_workers_stop (mu_agent_t *a, uint64_t epoch, uint64_t grace_ms);
/* Every worker of the current epoch as agent.register reports it; *out
 * (caller frees the array, not the strings) is NULL when there is none.
 * 0 or -ENOMEM. */
int mu_agent_workers_describe (const mu_agent_t *a, mu_run_worker_t **out,
                               size_t *n);
/* Fencing: SIGKILL every running worker at once (their exits are
 * reported as usual). */
void mu_agent_workers_kill (mu_agent_t *a);
void mu_agent_workers_relay_reply (mu_agent_t *a, const mu_msg_t *m);
void mu_agent_workers_members (mu_agent_t *a, mu_msg_t *m);
/* ckpt.request / ckpt.done to every worker of the current epoch. */
void mu_agent_workers_broadcast (mu_agent_t *a, const mu_msg_t *m);
void mu_agent_workers_close (mu_agent_t *a);
void mu_agent_workers_init_timers (mu_agent_t *a);

/* agent_pmix.c: PMIx for MPI jobs (job_spec.mpi). */
/* The current epoch (a->start) begins: deregister the last namespace and,
 * for an MPI job, register this one (starting the server the first time).
 * 0, or a negative code with the reason in why. */
int mu_agent_pmix_epoch (mu_agent_t *a, char *why, size_t n);
/* Add rank's PMIx variables to its environment (nothing for a non-MPI
 * job).  0 or a negative code. */
int mu_agent_pmix_env (mu_agent_t *a, uint64_t rank, char ***envp);
/* A reply to one of the agent's own fence requests: handled, returns 1
 * (it may take m's value); 0 for a worker's reply. */
int mu_agent_pmix_reply (mu_agent_t *a, mu_msg_t *m);
/* A rank exited (failed: a non-zero code): its stderr tail (owned,
 * may be NULL) with MPI_Abort's message or the no-PMIx explanation at
 * the end; returns the tail to report (owned by the caller). */
char *mu_agent_pmix_exit_tail (mu_agent_t *a, uint64_t rank, int failed,
                               char *tail);
void mu_agent_pmix_close (mu_agent_t *a);

/* agent_ipc_owner.c: an ipc endpoint only `uid` (and root) can reach, for
 * the workers of a job run as another user. */
typedef struct mu_agent_owner_ep {
  uint32_t uid;
  char dir[160];
  char ep[192];
} mu_agent_owner_ep_t;
/* Bind (once) the endpoint of uid:gid on the workers' ROUTER; its
 * "ipc://..." into ep.  0 or a negative code, with a sentence in err. */
int mu_agent_ipc_owner_bind (mu_agent_t *a, uint32_t uid, uint32_t gid,
                             char *ep, size_t epsize, char *err,
                             size_t errlen);
/* Unbind the endpoints of users that have neither a running worker nor
 * the current epoch. */
void mu_agent_ipc_owner_gc (mu_agent_t *a);
/* Is uid one a worker of this agent may run as (root, the agent's own, an
 * owner with an endpoint)? */
int mu_agent_ipc_uid_known (const mu_agent_t *a, uint32_t uid);
void mu_agent_ipc_owner_close (mu_agent_t *a);

/* agent_ipc_auth.c: the peer-uid check on the workers' ROUTER (ZAP). */
/* Serve ZAP on the loop and set the ROUTER's ZAP domain; before its bind. */
int mu_agent_ipc_auth_open (mu_agent_t *a);
void mu_agent_ipc_auth_close (mu_agent_t *a);
/* The uid of a ZAP User-Id ("1000"); 0 with *uid set, -1 if unknown. */
int mu_agent_ipc_auth_uid (const char *user_id, uint32_t *uid);

/* hb: agent_hb.c — heartbeats over UDP.  After a welcome: the UDP
 * interval if its heartbeats go over UDP now, else 0 (none offered, or
 * MUSTER_HEARTBEAT=zmq).  On each tick: send the datagram; 1 if the ZeroMQ
 * heartbeat must go too (no UDP, or the last ping went unanswered).
 * Close: before registering again and when the agent closes. */
uint64_t mu_agent_hb_welcome (mu_agent_t *a, const mu_welcome_t *w);
int mu_agent_hb_tick (mu_agent_t *a, uint64_t now);
void mu_agent_hb_close (mu_agent_t *a);

#endif
