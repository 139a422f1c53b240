/*
 * agent.h — muster-agent, the per-node shim, as an embeddable object.
 *
 * An agent registers its node's slots with a coordinator (optionally
 * bringing a job spec, as `muster run` does on every machine), keeps a
 * heartbeat, and on "job.start" spawns the node's workers through
 * muster-exec with the gang's environment; it reports every exit at once,
 * stops workers on "job.stop", and relays between its local workers
 * (libmuster, over ipc) and the coordinator (tcp), so the coordinator holds
 * one connection per node rather than per worker.  `muster-agent` wraps it
 * in a main(); `muster run` embeds it, with or without a coordinator, on one
 * libuv loop.
 */
#ifndef MU_AGENT_H
#define MU_AGENT_H

#include <stdint.h>
#include <uv.h>

#include "common/keys.h"
#include "common/log.h"
#include "common/proto.h"

typedef struct mu_agent mu_agent_t;

typedef struct mu_agent_events {
  /* Rendezvous progress for display (may be NULL). */
  void (*on_progress) (void *arg, const mu_rdzv_progress_t *p);
  /* An epoch started on this node (may be NULL). */
  void (*on_epoch) (void *arg, const mu_start_t *s);
  /* The coordinator stops this node's workers of an epoch; s->recover says
   * a new round follows (may be NULL). */
  void (*on_stop) (void *arg, const mu_stop_t *s);
  /* The agent's job reached a final state, or the agent gave up (bad spec,
   * coordinator unreachable): state "succeeded", "failed" or "cancelled".
   * Called once, after every worker of this node is down. */
  void (*on_done) (void *arg, const mu_job_done_t *d);
  /* A checkpoint attempt of the job ended (ckpt.done: committed, or
   * aborted with d->reason and d->failed) (may be NULL). */
  void (*on_ckpt_done) (void *arg, const mu_ckpt_done_t *d);
  /* Everything is closed after mu_agent_shutdown (may be NULL). */
  void (*on_closed) (void *arg);
  void *arg;
} mu_agent_events_t;

typedef struct mu_agent_opts {
  const char *coordinator;     /* agent port endpoint, "tcp://host:port" */
  const char *node_id;         /* NULL = "<hostname>-<pid>-<random>" */
  const char *host;            /* address peers use; NULL = detect */
  uint32_t slots;              /* worker processes this node runs */
  const char *role;            /* role to join as; NULL = the job's first */
  const mu_job_spec_t *job;    /* job this node brings; NULL = free node */
  const char *exec_helper;     /* NULL = muster-exec beside this program */
  uint64_t connect_timeout_ms; /* give up registering after; 0 = never */
  int out_fd, err_fd;          /* where workers' prefixed output goes */
  /* ...through these non-blocking queues (out_queue.h; borrowed, on the
   * agent's loop, e.g. shared with the launcher's own messages); NULL =
   * the agent makes its own for out_fd / err_fd. */
  struct mu_outq *out_q, *err_q;
  int exit_on_done;            /* 1: shut down after on_done (muster run) */
  /* torchrun's worker log files (log_files.h): with log_dir (the job's
   * directory, made by the caller with mu_log_job_dir; NULL = none) each
   * worker gets log_dir/attempt_<restart count>/<local rank>/, its
   * TORCHELASTIC_ERROR_FILE there, and stdout.log/stderr.log for the
   * streams `redirects` (file only) or `tee` (file and out_fd/err_fd)
   * name: "0".."3" or "LOCAL_RANK:N,..."; NULL = "0". */
  const char *log_dir;
  const char *redirects, *tee;
  /* Security (see docs/security.md).  With server_key (or a token, which
   * names it) the agent speaks CURVE to the coordinator with `key` (NULL:
   * a fresh key pair for this agent).  With a token it first enrols `key`
   * on a connection made with the token's own key, then registers.
   * Neither set: plain TCP, for a coordinator started --insecure. */
  const char *server_key;      /* coordinator's public key (Z85) */
  const mu_keypair_t *key;     /* this agent's key pair */
  const mu_token_t *token;     /* join token to enrol with */
  uint32_t rank_hint;          /* static rendezvous: node rank asked for
                                  (torchrun's --node_rank) plus one; 0 = any */
  /* The coordinator runs in this process, on this agent's loop (muster
   * run's embedded or --host one): a stall of this process stalls both, so
   * waking from one is no reason to fence (kill) the workers, and the
   * coordinator's silence is never taken for a loss (no COORD-LOST). */
  int coord_in_process;
  mu_log_t *log;               /* borrowed; NULL = stderr logger */
  mu_agent_events_t ev;
  /* schedwire: node labels "key=value" sent in agent.register (the
   * scheduler's selectors match them); borrowed, must outlive the agent;
   * at most MU_AGENT_MAX_LABELS. */
  const char *const *labels;
  size_t nlabels;
} mu_agent_opts_t;

#define MU_AGENT_MAX_LABELS 16

/* Allocate; copies what it needs from opts (job is deep-copied).  0,
 * MUSTER_EINVAL (no coordinator, slots 0) or -ENOMEM. */
int mu_agent_new (const mu_agent_opts_t *opts, mu_agent_t **out);
/* Open sockets and begin registering.  0 or a negative code (e.g. a
 * missing muster-exec: -ENOENT); on error nothing is left running. */
int mu_agent_start (mu_agent_t *a, uv_loop_t *loop);
/* Stop: SIGTERM the workers, SIGKILL after grace_ms, report their exits,
 * then close sockets and handles.  The loop ends once all is closed. */
void mu_agent_shutdown (mu_agent_t *a, uint64_t grace_ms);
/* The node is being preempted (SIGTERM from Kubernetes or Slurm, Slurm's
 * warning signal): ask the coordinator to checkpoint the job and release
 * this node within grace_ms; if nothing has happened by then, stop the
 * workers anyway.  Without a coordinator or a job it is a shutdown. */
void mu_agent_preempt (mu_agent_t *a, uint64_t grace_ms, const char *reason);
/* The node id in use (generated or given). */
const char *mu_agent_node_id (const mu_agent_t *a);
/* The agent's public key (Z85), "" without CURVE; valid after new. */
const char *mu_agent_public_key (const mu_agent_t *a);
/* Where the coordinator it registered with streams its journal to a
 * standby (agent.welcome), or "" (none, or not registered yet). */
const char *mu_agent_standby_stream (const mu_agent_t *a);
/* Where a CLI's join token and key come from (agent_creds.c). */
typedef struct mu_agent_creds_opts {
  const char *token;      /* --join-token */
  const char *token_file; /* --join-token-file */
  const char *state_dir;  /* NULL = the default state directory */
  const char *key_file;   /* keep the key pair here; NULL = a fresh one */
} mu_agent_creds_opts_t;

/* Find the join token (see agent_creds.c for the order) and, with
 * key_file, the agent's persistent key pair (*have_key = 1).  0, or
 * MUSTER_EAUTH / MUSTER_EINVAL / -errno with `err` saying what to give. */
int mu_agent_creds_load (const mu_agent_creds_opts_t *o, mu_token_t *tok,
                         mu_keypair_t *key, int *have_key, char *err,
                         size_t errlen);

/* The agent's Prometheus metrics as exposition text (agent_metrics.c), on
 * the agent's loop thread: a mu_metrics_render_fn (common/metrics_http.h)
 * for the embedding program to serve.  0 or -ENOMEM; *text is the
 * caller's. */
int mu_agent_metrics_render (void *agent, char **text, size_t *len);

/* Free after the loop has finished; accepts NULL; sets *a_p NULL. */
void mu_agent_destroy (mu_agent_t **a_p);

#endif
