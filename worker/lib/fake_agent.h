/*
 * fake_agent.h — a stand-in for muster-agent, for libmuster's unit test.
 *
 * A ROUTER bound to an ipc endpoint, served by its own thread and ZeroMQ
 * context.  It answers HELLO with a WORKER_INFO describing `nnodes` nodes
 * of `nproc` workers, keeps a small per-epoch KV store (gets can wait),
 * barriers of `barrier_n` arrivals, and honours the request timeouts as the
 * coordinator would.  The test steers it: refuse HELLO with an error, stay
 * silent, drop requests (mute), announce a newer epoch, send garbage.
 * Every setter is thread-safe; actions that send something return once it
 * was sent.
 */
#ifndef MU_FAKE_AGENT_H
#define MU_FAKE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

typedef struct fa fa_t;

typedef struct fa_opts {
  const char *endpoint; /* ipc://... to bind */
  const char *job;
  uint64_t epoch;
  uint64_t restart_count;
  int nnodes;
  int nproc;      /* workers per node; world = nnodes * nproc */
  bool ps_last;   /* the last node's role is "ps", the others "worker" */
  int barrier_n;  /* arrivals that complete a barrier; 0 = world */
} fa_opts_t;

/* Bind and start; NULL on failure. */
fa_t *fa_start (const fa_opts_t *opts);
/* Stop the thread, close the socket (workers see the link drop). */
void fa_stop (fa_t **fa_p);

void fa_set_hello_error (fa_t *fa, int code); /* 0 = answer normally */
void fa_set_silent (fa_t *fa, bool on);       /* ignore everything */
void fa_set_mute (fa_t *fa, bool on);         /* ignore requests only */
void fa_set_barrier_n (fa_t *fa, int n);
/* Move to `epoch` without telling anyone (requests of the old epoch are
 * then answered MUSTER_ESTALE_EPOCH, as the coordinator answers them). */
void fa_set_epoch_quiet (fa_t *fa, uint64_t epoch);

/* Move to `epoch` and tell every attached worker, each with rank
 * (old + shift) % world; every rank but 0 is told it is a new member that
 * syncs from rank 0.  Clears the KV store and barriers. */
void fa_new_epoch (fa_t *fa, uint64_t epoch, int shift);
/* Send every attached worker a volley of malformed or unexpected frames. */
void fa_send_garbage (fa_t *fa);

int fa_hellos (fa_t *fa);
int fa_byes (fa_t *fa);
int fa_progress_count (fa_t *fa);
uint64_t fa_last_step (fa_t *fa);
/* service: the last worker.load's load_milli + 1 (0 = none arrived). */
uint64_t fa_last_load_milli (fa_t *fa);
uint64_t fa_last_req_epoch (fa_t *fa);
int fa_requests (fa_t *fa); /* kv.put, kv.get and barrier seen */

/* Send `m` to every attached worker (ckpt.request, ckpt.done, ...). */
void fa_send_all (fa_t *fa, const mu_msg_t *m);
/* ckpt.saved seen so far; the last one's step, status and error text
 * ("" when it had none) when any came. */
int fa_ckpt_saved (fa_t *fa, uint64_t *step, int64_t *status, char *error,
                   size_t errlen);

#endif
