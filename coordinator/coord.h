/*
 * coord.h — musterd, the coordinator, as an embeddable object.
 *
 * One mu_coord_t owns the truth for every node and job it knows: the node
 * table, the job registry with one rendezvous state machine per job, each
 * job's KV store and barriers, and the two ZeroMQ ROUTER sockets (agent port
 * and control port) it serves on one libuv loop.  `musterd` wraps it in a
 * main(); `muster run` embeds it next to an agent on the same loop.
 *
 * The struct definitions below are shared by the coordinator's files
 * (coord.c sockets and dispatch, nodes.c, jobs.c, kv.c, ctl.c) and by no
 * one else: other components talk to a coordinator only over the wire.
 */
#ifndef MU_COORD_H
#define MU_COORD_H

#include <stdint.h>
#include <uv.h>

#include "common/log.h"
#include "common/proto.h"
#include "common/smap.h"
#include "common/wire.h"
#include "coordinator/conn_limit.h"
#include "coordinator/job_machine.h"
#include "coordinator/join_queue.h"
#include "coordinator/liveness.h"
#include "rendezvous/rdzv.h"

typedef struct mu_coord mu_coord_t;

typedef struct mu_coord_opts {
  const char *agent_bind;   /* e.g. "tcp://127.0.0.1:*" */
  const char *ctl_bind;     /* NULL = no control port */
  uint64_t heartbeat_ms;    /* agents' heartbeat interval; 0 = 200 */
  uint64_t miss_limit;      /* missed heartbeats before loss; 0 = 3 */
  uint64_t finished_keep;   /* finished jobs kept for status; 0 = 64 */
  uint64_t full_members_max; /* job.start carries every node up to this
                                many nodes; above, agents fetch the
                                membership (job.members.get); 0 = 256 */
  uint64_t kv_max_bytes;    /* per job: KV keys + values + barrier names;
                               0 = MU_KV_MAX_BYTES_DEFAULT (kv_quota.h) */
  uint64_t kv_max_keys;     /* per job; 0 = MU_KV_MAX_KEYS_DEFAULT */
  mu_log_t *log;            /* borrowed; NULL = a stderr logger */
  const char *state_dir;    /* keys, join token, ctl.sock; NULL = keys in
                               memory only (embedded coordinators) */
  const char *ctl_local;    /* local control socket path; NULL =
                               STATE_DIR/ctl.sock, or none without one */
  int insecure;             /* 1 = no CURVE on TCP ports (explicit opt-out) */
  const char *server_secret; /* without a state dir: serve with this CURVE
                                secret key (a job secret's); NULL = fresh */
  int journal_group_commit; /* journal (STATE_DIR/journal): 0 = fsync per
                               record, 1 = group commit (journal.h) */
  uint64_t restore_window_ms; /* members of a restored running job not back
                                 within it are lost; 0 = 30 s (journal.h) */
  uint64_t term;            /* fencing term stamped on what commands agents
                               (standby.h); 0 = none (embedded) */
  const char *standby_bind; /* serve the journal stream to a standby here
                               (standby.h); NULL = none */
  /* control port (ctl area: ctl_*.c) */
  uint64_t job_log_bytes;   /* output kept per job for ctl.logs (log_ring.h);
                               0 = 1 MiB */
  /* events area (event_stream.h) */
  uint64_t events_keep;     /* events in the global ring; 0 = 16384 */
  uint64_t events_job_keep; /* events kept per job; 0 = 4096 */
  /* schedwire: the scheduler (sched_glue.h) */
  const char *const *quotas; /* "TENANT=SLOTS" (musterd --quota) */
  size_t nquotas;
  /* zsrv: the agent port's transport (agent_port.c) */
  int agent_zmq;            /* 1 = a libzmq ROUTER (the baseline the bench
                               compares against); 0 = native (zmtp_server.h) */
} mu_coord_opts_t;

/* Allocate a coordinator (no sockets yet).  0 or -ENOMEM; *out is owned by
 * the caller (mu_coord_destroy). */
int mu_coord_new (const mu_coord_opts_t *opts, mu_coord_t **out);
/* Bind the ports and start serving on `loop`.  0 or a negative code (e.g.
 * -EADDRINUSE); on error nothing is left running. */
int mu_coord_start (mu_coord_t *c, uv_loop_t *loop);
/* The endpoints actually bound (ports resolved); valid after start. */
const char *mu_coord_agent_endpoint (const mu_coord_t *c);
const char *mu_coord_ctl_endpoint (const mu_coord_t *c);
/* The local control socket ("ipc://PATH"), or NULL. */
const char *mu_coord_ctl_local_endpoint (const mu_coord_t *c);
/* The coordinator's CURVE public key (Z85); "" when insecure. */
const char *mu_coord_server_key (const mu_coord_t *c);
/* Authorize an agent key of this process (embedded agent), for any job,
 * with jobs it brings owned by this process's user.  0 or a code. */
int mu_coord_authorize_node (mu_coord_t *c, const char *pub);
/* A join token for job `id` (owned by this process's user), to give the
 * other nodes of a `muster run --host` job.  0 or a code. */
int mu_coord_job_token (mu_coord_t *c, const char *id, char *buf, size_t cap);
/* Accept the enrolment key of a job secret (keys.h) for job `id`, owned
 * by this process's user.  0 or a code. */
int mu_coord_job_enroll_key (mu_coord_t *c, const char *id, const char *pub);
/* The agent of node `node_id` (with key `pub`, NULL or "" when
 * insecure) runs in this process, on the coordinator's loop (muster run
 * embeds both): when it registers (from this pid), it is never declared
 * lost for missed heartbeats, since its silence can only be this
 * process's own stall.  0 or MUSTER_EINVAL (id too long). */
int mu_coord_in_process_node (mu_coord_t *c, const char *node_id,
                              const char *pub);
/* Nodes registered and alive (not lost, not left). */
size_t mu_coord_nodes_alive (const mu_coord_t *c);
/* Stop serving: close sockets and handles (asynchronously; run the loop
 * until it is empty afterwards).  Idempotent. */
void mu_coord_stop (mu_coord_t *c);
/* Free; the coordinator must be stopped and its handles closed.  Accepts
 * NULL and a pointer to NULL. */
void mu_coord_destroy (mu_coord_t **c_p);

/* ------------------------------------------------------------ internals */

/* mu_job_state_t and mu_job_state_name: coordinator/job_machine.h */

typedef struct mu_job mu_job_t;
typedef struct mu_ps_state mu_ps_state_t;

typedef struct mu_node {
  uint32_t key;       /* index in the node table; rendezvous key */
  char *node_id;
  char pub[41];       /* the CURVE key that registered it ("" insecure) */
  uint32_t uid;       /* uid its agent runs as (0 = root: any owner) */
  int key_shared;     /* another live node registered with the same key:
                         known by route and node id only, never by key */
  char *host;
  uint32_t slots;
  uint64_t port_base;
  uint64_t pid;
  /* mem: its route, compact (ROUTER ids are 5 bytes; a mu_route_t holds
   * 256 and a ZAP user: 350 bytes a node); mu_node_route rebuilds one to
   * send.  route.fd: its TCP connection (loss on close). */
  struct { unsigned char *id; uint32_t len; int fd; } route;
  uint64_t last_seen_ms;
  int in_use;         /* slot of the table holds a node */
  int alive;
  mu_job_t *job;      /* job it serves, NULL = free */
  uint32_t role;      /* role index in that job */
  char *role_name;    /* requested role name (NULL = first) */
  uint32_t rank_hint; /* node rank asked for (static rendezvous); UINT32_MAX
                         = any */
  uint32_t live;      /* workers of the job's current epoch not yet exited */
  uint64_t live_epoch;
  /* failure history for cordoning (recovery) */
  uint32_t fail_count;
  uint64_t fail_window_start;
  uint64_t cordon_until;
  uint32_t cordon_level;
  int cordoned;       /* out of its job's rendezvous until cordon_until */
  int restored;       /* a member the journal restored, its agent away */
  int in_process;     /* its agent runs on the coordinator's own loop
                         (muster run): never declared lost for silence */
  /* jobm: sends */
  int unreachable;    /* a command to it could not be sent: declared lost
                         on the next loop turn (mu_coord_unreachable) */
  /* metrics (coord_metrics.c) */
  uint64_t cm_hb_ms;  /* its last heartbeat (heartbeat lag) */
  /* control port (ctl area: ctl_nodes.c) */
  int admin_cordon;   /* ctl.cordon/ctl.drain: no new work until uncordoned
                         (cordon_until is held at UINT64_MAX meanwhile) */
  int draining;       /* ctl.drain: its work is being moved off */
  /* schedwire: the scheduler's inventory (sched_glue.h) */
  char **labels;      /* "key=value" it registered with (owned) */
  size_t nlabels;
  int sched_in;       /* in the scheduler's inventory */
  int sched_state;    /* mu_sched_node_state_t last given to it */
  int sched_release;  /* a SHRINK waits for its job's checkpoint */
  char *sched_job;    /* job the scheduler placed on it (NULL: none) */
  /* hb: heartbeats over UDP (hb_udp.c) and the liveness order */
  uint8_t hb_key[16]; /* its datagrams' SipHash key (agent.welcome) */
  uint64_t hb_seq;    /* highest datagram sequence accepted (replay) */
  int hb_keyed;       /* hb_key was handed out */
  int hb_udp;         /* heard over UDP last: judged by the fixed limit */
  /* welcome_hold.c: its agent.welcome, encoded, held to share a write
   * with the next message to it (NULL: none held) */
  char *wh_buf;
  size_t wh_len;
} mu_node_t;

typedef struct mu_waiter {
  struct mu_waiter *next;
  uint32_t node_key;
  uint64_t rank;
  uint64_t req_id;
  uint64_t deadline_ms; /* UINT64_MAX = forever */
  char *key;            /* kv.get: key waited for */
  uint64_t *waiting;    /* its node's count of waiting requests (kv.c) */
  /* metrics (coord_metrics.c) */
  uint64_t since_us;    /* when it arrived (KV and barrier latency) */
} mu_waiter_t;

typedef struct mu_bstate {
  uint64_t arrived;
  mu_waiter_t *waiters;
} mu_bstate_t;

typedef struct mu_failure {
  int set;
  int64_t rank;
  char *node_id;
  int64_t exit_code;
  int64_t signal;
  char *stderr_tail;
  char *reason;
} mu_failure_t;

struct mu_job {
  char *id;
  mu_job_spec_t *spec;
  uint32_t owner_uid;    /* who owns the job: its workers run as this user */
  uint32_t owner_gid;
  char *owner;           /* owner's user name ("uid N" when unknown) */
  mu_rdzv_t *rdzv;
  /* The lifecycle (job_machine.h): `jm` is what the machine is fed; the
   * same fields read under their own names (j->state, j->epoch, j->live,
   * j->restarts, j->final_state, j->final_exit_code, ...).  Read them
   * anywhere; only job_machine.c assigns them. */
  union {
    mu_jm_t jm;
    struct { MU_JM_FIELDS };
  };
  mu_coord_t *coord;
  uint64_t created_ms;
  uint64_t finished_ms;
  uv_timer_t rdzv_timer; /* rendezvous deadline */
  uv_timer_t kick_timer; /* progress display, restart backoff */
  int timers_open;
  uint32_t *members;     /* node keys of the running epoch */
  size_t nmembers;
  mu_smap_t *kv;         /* key -> mu_bin_t*, current epoch */
  mu_smap_t *barriers;   /* name -> mu_bstate_t*, current epoch */
  mu_waiter_t *kv_waiters;
  uint64_t next_wait_deadline;
  uint64_t kv_bytes;     /* charged to the KV quota this epoch (kv.c) */
  mu_smap_t *kv_waiting; /* node id -> uint64_t* waiting requests */
  uint64_t kv_quota_logged; /* epoch + 1 of the last KV-QUOTA line */
  uint64_t kv_wait_logged;  /* epoch + 1 of the last KV-WAIT-QUOTA line */
  mu_failure_t failure;  /* first failure of the job (root cause) */
  mu_failure_t held;     /* a worker failure held back for a moment: a
                            node loss that follows explains it (epoch.c) */
  uint64_t held_ms;      /* when it was held */
  char *reason;          /* why it ended (or is ending) */
  char *epoch_reason;    /* why the next (or current) epoch began */
  uint64_t epoch_started_ms;
  char *members_buf;     /* encoded job.members of `epoch` (large jobs) */
  size_t members_len;
  /* checkpoints (ckpt.c) */
  struct mu_ckpt_commit *ckpt; /* NULL: the job has no ckpt_dir */
  char *ckpt_job_dir;
  uv_timer_t ckpt_timer; /* periodic trigger */
  uv_timer_t ckpt_tick;  /* deadline of the attempt in flight */
  uint64_t max_step;     /* highest step any agent reported */
  uint64_t max_step_ms;  /* when it was reported */
  double step_rate;      /* steps per ms, smoothed */
  uint64_t rate_step;    /* the step and time the rate is measured */
  uint64_t rate_ms;      /* from (at least RATE_SPAN_MS back) */
  uint64_t ckpt_seq;     /* attempts of a job that reports no steps */
  uint64_t restore_step;
  char *restore_dir;     /* newest complete checkpoint; NULL = none */
  uint64_t restore_created_us; /* its MANIFEST's created_us */
  uint64_t writing_created_us; /* created_us of the MANIFEST being written */
  uint64_t finished_step; /* the last run of this id finished (FINISHED */
  uint64_t finished_us;   /* marker): at this step, then; 0 = not so */
  char *finished_moved;   /* where that run's checkpoints went */
  uint64_t ckpt_aborted_step; /* last attempt that ended uncommitted */
  char *ckpt_aborted_reason;
  int ckpt_early;        /* the attempt in flight was asked at epoch start */
  uint64_t ckpt_kept_step; /* a cancelled attempt's directory, kept to be
                              asked again (else removed: ckpt.c) */
  int ckpt_discards;       /* step directory removals in flight, and a */
  int ckpt_prep_wait;      /* preparation waiting for them (ckpt_io.c) */
  uint64_t ckpt_prep_step, ckpt_prep_epoch, ckpt_prep_timeout_ms;
  int ckpt_prep_now;
  int ckpt_by_steps;     /* ... was asked by --ckpt-every-steps */
  uint64_t ckpt_failed_step; /* a failed step, not asked again this epoch */
  uint64_t ckpt_deadline_ms; /* deadline of the attempt in flight */
  int submitted;         /* came through ctl.submit (draws free nodes) */
  int io_inflight;       /* thread-pool work items running */
  int ckpt_retries;      /* attempts aborted because workers passed */
  const char *ckpt_reason;
  int preempting;        /* 1 = the whole job, 2 = one node */
  uint32_t preempt_node; /* its key (preempting == 2) */
  uint64_t preempt_deadline_ms;
  mu_job_t *next_finished;
  /* metrics (coord_metrics.c) */
  uint64_t cm_round_ms;   /* the open round's start; 0 = none */
  uint64_t cm_ckpt_us;    /* the checkpoint attempt's begin; 0 = none */
  uint64_t cm_ckpt_bytes; /* its manifest's shard bytes */
  int cm_placed;          /* its first epoch started */
  /* ps: live bucket migration (ps_plan.c) */
  struct mu_ps_state *ps; /* servers of the current epoch; NULL = none */
  /* control port (ctl area: ctl_*.c) */
  struct mu_log_ring *logs; /* output lines for ctl.logs (log_ring.h) */
  uint64_t *pids;        /* pid of each rank of pids_epoch, 0 = unknown */
  size_t npids;
  uint64_t pids_epoch;
  uint64_t log_dropped;  /* output bytes agents dropped over budget */
  uint32_t scaled_roles; /* bit r: role r was scaled (ctl_scale.c) */
  int scale_pending;     /* a shrink waits for its checkpoint */
  uint32_t scale_role;
  uint64_t scale_min, scale_max;
  /* schedwire: the scheduler (sched_glue.h) */
  int sched_in;          /* submitted to the scheduler, not yet ended */
  int sched_suspending;  /* a SUSPEND of the scheduler is being carried out */
  char *sched_tenant;    /* tenant its slots count against */
  char *sched_note;      /* the scheduler's last word on it (preempted for
                            job X, ...) */
  int scale_target_set;  /* a scale through the scheduler: the machine's */
  uint32_t scale_target_role; /* range narrows to this once the role's */
  uint64_t scale_target_min, scale_target_max; /* nodes are within it */
  /* service: replicas, rolling update, loads (service.h); NULL = none */
  struct mu_service *svc;
  /* zsim: joins whose rdzv.progress is held back (join_progress.c) */
  uv_timer_t jp_timer;
  mu_join_queue_t jp;
  uint64_t round_open_us; /* the open round began (mu_now_us); 0 = none */
};

struct mu_coord {
  mu_coord_opts_t opts;
  mu_log_t own_log;
  mu_log_t *log;
  uv_loop_t *loop;
  void *zctx;
  void *agent_sock;
  void *ctl_sock;
  struct mu_zwatch *agent_watch;
  struct mu_zwatch *ctl_watch;
  char agent_ep[256];
  char ctl_ep[256];
  char session[17];
  uv_timer_t sweep_timer;
  uv_timer_t closed_timer;  /* agent connections closed: handle them */
  int *closed_fds;          /* ...their descriptors, not yet handled */
  size_t nclosed, closed_cap;
  uint64_t last_sweep_ms;   /* to notice the loop itself stalling */
  uint64_t hb_ms;           /* heartbeat interval asked of agents now */
  uint64_t hb_limit_ms;     /* silence that declares a node lost */
  uint64_t hb_raised_ms;    /* when hb_limit_ms last grew */
  size_t nodes_alive;
  uint64_t sweeps_deferred; /* sweeps skipped in a row for queued input */
  mu_conn_limit_t conns;    /* TCP connections of both ports (conn_limit.c) */
  struct mu_conn_watch *agent_conns, *ctl_conns;
  int started;
  int stopping;
  /* nodes: a table indexed by key, with a free list and an id index */
  mu_node_t **nodes;
  size_t nodes_cap;
  size_t nodes_used;
  uint32_t *free_keys;
  size_t nfree_keys;
  mu_smap_t *node_ids; /* node_id -> mu_node_t* */
  mu_smap_t *routes;   /* hex of the ROUTER's connection id -> mu_node_t* */
  mu_smap_t *node_keys; /* CURVE key -> mu_node_t* (the last it registered) */
  struct mu_auth *auth;
  uint32_t self_uid, self_gid;
  void *ctl_local_sock;
  struct mu_zwatch *ctl_local_watch;
  char ctl_local_ep[320];
  void *ctl_reply_sock; /* the control socket the request at hand came on */
  mu_smap_t *jobs;     /* job id -> mu_job_t* */
  size_t njobs_finished;
  struct mu_jctx *journal; /* durable job state (journal.h); NULL = none */
  struct mu_repl *repl;    /* the journal stream to a standby (standby.h) */
  char in_process_node[128]; /* mu_coord_in_process_node: "" = none */
  char in_process_pub[41];
  /* jobm: sends (coord.c) */
  uint64_t sends_failed;     /* messages that could not be sent */
  int fault_send_type;       /* unit tests only: sends of this message */
  char fault_send_node[64];  /* type to this node id fail with -ENOMEM;
                                0 = no fault */
  /* metrics (coord_metrics.h): the registry, on this loop's thread */
  struct mu_metrics *metrics;
  /* control port (ctl area) */
  size_t ctl_scales_pending; /* jobs whose shrink waits (ctl_scale.c) */
  /* events area: the event log and its parked readers (event_serve.c) */
  struct mu_events *events;
  /* schedwire: the scheduler and its loop-turn pass (sched_glue.h) */
  struct mu_sched *sched;
  uv_prepare_t sched_prepare;
  int sched_dirty;          /* something changed: run a pass */
  int sched_open;           /* sched_prepare initialised */
  uint64_t sched_placed;    /* replicas placed (metrics) */
  /* hb: heartbeats over UDP (hb_udp.c) and the liveness order (liveness.h):
   * nodes heard over UDP are judged by the fixed interval x miss_limit,
   * the others by hb_limit_ms; each list is in last-heard order */
  mu_live_t live_zmq, live_udp;
  struct mu_hb_udp *hb_udp;   /* the heartbeat socket; NULL = none */
  size_t nodes_hb_udp;        /* live nodes heard over UDP last */
  uint64_t hb_dropped[4];     /* datagrams dropped: mu_hb_drop_t */
  uint64_t hb_pings;          /* datagrams accepted */
  /* mem: the progress timers' offer of free nodes, once per period for
   * the coordinator (jobs.c on_progress_timer) */
  uint64_t mem_offer_tick_ms;
  /* mem: free heap pages returned after a burst (mem_trim.c) */
  uv_timer_t mem_trim_timer;
  int mem_trim_open;
  int mem_trim_busy;        /* a trim runs on the thread pool */
  uint64_t mem_trim_last_ms;
  /* zsrv: the native agent port (agent_port.c; NULL = libzmq's ROUTER).
   * agent_sock then points at it too, so `sock == c->agent_sock` still
   * names the agent port at every send site; nothing may pass it to
   * libzmq (mu_coord_agent_send_raw is the way out). */
  struct mu_zsrv *agent_port;
  struct mu_closed_route { uint32_t key; unsigned char id[8]; } *closed_routes;
  size_t nclosed_routes, closed_routes_cap; /* closed, not yet handled */
  int unreachable_pending;  /* mu_coord_unreachable marked a node */
  /* welcome_hold.c: welcomes held back (native agent port only) */
  uv_timer_t wh_timer;
  mu_join_queue_t wh_q;     /* keys of nodes holding one, by due time */
  size_t wh_held;           /* nodes holding one now */
};

/* zsrv: agent_port.c.  Open the agent port natively (opts.agent_zmq == 0)
 * on c->loop: binds c->opts.agent_bind, fills c->agent_ep.  0 or a code. */
int mu_agent_port_open (mu_coord_t *c);
/* Close it (queued writes dropped, as ZMQ_LINGER 0 did). */
void mu_agent_port_close (mu_coord_t *c);
/* Send an encoded body to an agent's route on whichever transport serves
 * the agent port.  0, -EHOSTUNREACH, -EAGAIN or a code. */
int mu_coord_agent_send_raw (mu_coord_t *c, const mu_route_t *to,
                             const void *buf, size_t len);
/* welcome_hold.c: a registering node's agent.welcome, held back for at
 * most MU_WELCOME_HOLD_MS so that it leaves in one write with the next
 * message to that node (decision 113).  mu_welcome_hold returns 0 when
 * it holds `m` (the welcome, term stamped here), else a code and the
 * caller sends it now.  mu_welcome_take hands the caller the welcome held
 * for route `to` (NULL if none): owned, to be sent before anything else
 * to that route.  mu_welcome_drop forgets a dead node's. */
#define MU_WELCOME_HOLD_MS 200
void mu_welcome_init (mu_coord_t *c);
void mu_welcome_close (mu_coord_t *c);
int mu_welcome_hold (mu_coord_t *c, mu_node_t *n, mu_msg_t *m);
char *mu_welcome_take (mu_coord_t *c, const mu_route_t *to, size_t *len);
void mu_welcome_drop (mu_coord_t *c, mu_node_t *n);
/* coord.c: one decoded agent message (both transports). */
void mu_coord_dispatch_agent (mu_coord_t *c, const mu_route_t *from,
                              mu_msg_t *m);
/* nodes.c: the native port's connection `route` closed: its node (found
 * by route, O(1)) is declared lost on the next loop turn. */
void mu_nodes_route_closed (mu_coord_t *c, const mu_route_t *route);

/* coord.c: handle the messages waiting on the agent port now (before
 * acting on a closed connection: its last words, e.g. agent.leave, come
 * first). */
void mu_coord_drain_agents (mu_coord_t *c);

/* coord.c: sending.  Every send's failure is logged (SEND-FAILED, with
 * the reason) and counted (c->sends_failed); a command to a node (job.start,
 * job.stop, job.done) that cannot be sent also marks the node unreachable:
 * it is declared lost on the next loop turn, so its job recovers without
 * it and its agent, answered "unknown" on its next message, registers
 * again, instead of waiting for the command forever.  0 or the code. */
int mu_coord_send_node (mu_coord_t *c, mu_node_t *n, const mu_msg_t *m);
/* zsim: the same for a message already encoded (type: its type); the
 * caller stamped the fencing term (c->opts.term). */
int mu_coord_send_node_encoded (mu_coord_t *c, mu_node_t *n, int type,
                                const char *buf, size_t len);
/* A reply to a route (not a registered node's: a control client, an agent
 * registering). */
int mu_coord_send_route (mu_coord_t *c, void *sock, const mu_route_t *to,
                         const mu_msg_t *m);
int mu_coord_send_error (mu_coord_t *c, void *sock, const mu_route_t *to,
                         int code, const char *what, const char *text);
/* A command of type `type` could not be sent to n (rc): mark it. */
void mu_coord_unreachable (mu_coord_t *c, mu_node_t *n, int type, int rc);
mu_node_t *mu_coord_node (mu_coord_t *c, uint32_t key);
/* nodes.c (mem): the route to node n, to send to (route->len 0: none). */
void mu_node_route (const mu_node_t *n, mu_route_t *route);

/* nodes.c: the heartbeat interval agents are asked for. */
uint64_t mu_nodes_heartbeat_ms (mu_coord_t *c);
struct mu_principal;
int mu_nodes_register (mu_coord_t *c, const mu_route_t *from,
                       const struct mu_principal *who, mu_reg_t *reg);
/* A message from a connection not seen before, whose key is a live
 * node's (the agent reconnected): move the node to it; NULL if none. */
mu_node_t *mu_nodes_rebind (mu_coord_t *c, const mu_route_t *from,
                            const struct mu_principal *who,
                            const char *node_id);
void mu_nodes_heartbeat (mu_coord_t *c, const mu_route_t *from,
                         const mu_heartbeat_t *hb);
mu_node_t *mu_nodes_by_route (mu_coord_t *c, const mu_route_t *from);
void mu_nodes_sweep (mu_coord_t *c, uint64_t now);
/* hb: nodes.c: `n` was heard from at `now` (last_seen_ms and its place in
 * the liveness order). */
void mu_nodes_seen (mu_coord_t *c, mu_node_t *n, uint64_t now);
void mu_nodes_leave (mu_coord_t *c, mu_node_t *n, const char *why);
/* The agent port's connection with descriptor fd closed (socket
 * monitor): noted by mu_nodes_conn_closed; mu_nodes_handle_closed (next
 * loop turn) declares its node lost at once. */
void mu_nodes_conn_closed (int fd, void *coord);
void mu_nodes_handle_closed (mu_coord_t *c);
void mu_nodes_free_all (mu_coord_t *c);
/* A member of a restored job whose agent is away (journal_restore.c);
 * NULL if the node id is taken or out of memory. */
mu_node_t *mu_nodes_placeholder (mu_coord_t *c, const char *node_id,
                                 const char *pub, const char *host,
                                 uint64_t port_base);
/* Give a placeholder up: lost to its job, then released. */
void mu_nodes_drop_placeholder (mu_coord_t *c, mu_node_t *n, const char *why);

/* jobs.c */
int mu_jobs_validate_spec (const mu_job_spec_t *spec, char *err,
                           size_t errlen);
int mu_jobs_attach_node (mu_coord_t *c, mu_node_t *n,
                         const mu_job_spec_t *spec, char *err, size_t errlen);
/* The options of spec that the live job of the same id and shape
 * overrides, as one line in buf ("" when none or no such job); returns
 * its length. */
size_t mu_jobs_option_notes (mu_coord_t *c, const mu_job_spec_t *spec,
                             char *buf, size_t cap);

/* job_options.c: the options in which node's spec differs from job's, as
 * "name JOB (this node: NODE); ..." in buf (truncated to cap); returns
 * the length, 0 when they agree. */
size_t mu_job_option_notes (const mu_job_spec_t *job,
                            const mu_job_spec_t *node, char *buf, size_t cap);
/* jobs.c (continued): a job submitted through the control port belongs
 * to uid; a job id held by another user's job is refused (MUSTER_EPERM)
 * unless admin. */
int mu_jobs_submit (mu_coord_t *c, const mu_job_spec_t *spec, uint32_t uid,
                    uint32_t gid, int admin, char *err, size_t errlen);
int mu_jobs_cancel (mu_coord_t *c, const char *id, char *err, size_t errlen);
/* schedwire: node n joins j's rendezvous as role (a PLACE of the
 * scheduler, sched_glue_apply.c).  0 or a code with err. */
int mu_jobs_place_node (mu_coord_t *c, mu_job_t *j, mu_node_t *n,
                        uint32_t role, char *err, size_t errlen);
void mu_jobs_offer_free_nodes (mu_coord_t *c);
/* A job as the journal left it: created and owned, no round opened. */
mu_job_t *mu_jobs_restore_new (mu_coord_t *c, const mu_job_spec_t *spec,
                               uint32_t uid, uint32_t gid);
void mu_jobs_close_all (mu_coord_t *c);
void mu_jobs_free_all (mu_coord_t *c);

/* epoch.c: what the message handlers feed the epoch of a node's job
 * (named mu_jobs_* after their callers' view; epoch.h has the rest). */
/* The node is gone from its job: lost (charged to the infrastructure
 * budget) or left on purpose (drained, shut down: not charged). */
void mu_jobs_node_lost (mu_coord_t *c, mu_node_t *n, const char *why,
                        int charged);
/* worker.state: a worker of the epoch started, exited or failed. */
void mu_jobs_worker_state (mu_coord_t *c, mu_node_t *n,
                           const mu_worker_state_t *ws);
/* job.members.get: the epoch's encoded membership. */
void mu_jobs_members (mu_coord_t *c, mu_node_t *n,
                      const mu_members_get_t *g);

/* cordon.c: cordoned nodes whose cooldown has passed rejoin their job. */
void mu_jobs_uncordon (mu_coord_t *c, uint64_t now);

/* failure.c: a member of j was heard from; a worker failure held for
 * attribution is charged once every other member has been. */
void mu_epoch_member_heard (mu_job_t *j);

/* kv.c */
void mu_kv_put (mu_coord_t *c, mu_node_t *n, mu_kv_put_t *p);
void mu_kv_get (mu_coord_t *c, mu_node_t *n, const mu_kv_get_t *g);
void mu_kv_barrier (mu_coord_t *c, mu_node_t *n, const mu_barrier_t *b);
void mu_kv_reset (mu_job_t *j, int status);
void mu_kv_expire (mu_coord_t *c, mu_job_t *j, uint64_t now);
/* torch/kv: kv.add, kv.cas, kv.del, kv.count (kv.c, kv_table.h) */
void mu_kv_add (mu_coord_t *c, mu_node_t *n, const mu_kv_add_t *a);
void mu_kv_cas (mu_coord_t *c, mu_node_t *n, const mu_kv_cas_t *a);
void mu_kv_del (mu_coord_t *c, mu_node_t *n, const mu_kv_del_t *d);
void mu_kv_count (mu_coord_t *c, mu_node_t *n, const mu_kv_count_t *k);

/* ctl.c: a request from `who` (authenticated by auth.c). */
void mu_ctl_handle (mu_coord_t *c, const mu_route_t *from,
                    const struct mu_principal *who, mu_msg_t *m);

#endif
