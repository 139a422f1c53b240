/*
 * commit.h — the two-phase commit of a checkpoint, as a pure library.
 *
 * One machine per job tracks at most one checkpoint attempt at a time.
 * Inputs are events (begin, a member's ckpt.saved, the MANIFEST write
 * finished, members lost, a new epoch, time passed, cancel); outputs are
 * decisions (send ckpt.request, write this MANIFEST, committed, aborted).
 * No I/O, no clocks (now_ms is passed in), no threads: the coordinator
 * feeds it from its loop and runs the I/O the decisions ask for elsewhere
 * (uv_queue_work), and a journal of events replays to the same decisions.
 *
 * The protocol (DESIGN.md, "Checkpoint and preemption"):
 *
 *   begin ──REQUEST──▶ COLLECTING ──all `world` shards in──▶ WRITING
 *                         │                                   │
 *        failed ack, deadline, member lost,       MANIFEST written ok
 *        new epoch, cancel │                                   │
 *                          ▼                                   ▼
 *                       ABORTED                            COMMITTED
 *
 * Phase one: begin returns REQUEST; the caller makes the step directory
 * (mu_ckpt_step_prepare) and sends ckpt.request to every member.  Each
 * member writes its shard atomically and answers ckpt.saved, which the
 * caller hands to mu_ckpt_commit_ack.  Phase two: when all `world` shards
 * are in, the decision is WRITE_MANIFEST with the assembled manifest
 * (shards sorted by rank, checked by mu_manifest_check); the caller writes
 * it (mu_manifest_write) and reports the outcome with
 * mu_ckpt_commit_written, which yields COMMITTED or ABORTED.  Only the
 * MANIFEST makes a step exist, so every abort — and every crash — before
 * that rename leaves a partial step that restores ignore.
 *
 * Rules:
 *  C1 One attempt at a time: begin while COLLECTING or WRITING returns
 *     MUSTER_EEXIST and changes nothing (the caller decides: wait, or
 *     cancel and begin again).  begin for the step this machine last
 *     committed also returns MUSTER_EEXIST: that state is saved, and
 *     rewriting its shards in place would destroy the newest checkpoint.
 *  C2 An ack is taken only for the attempt in flight: another job or step,
 *     or no attempt, is MUSTER_ENOTFOUND; an epoch older than the newest
 *     the machine knows is MUSTER_ESTALE_EPOCH (the caller answers the
 *     sender with an error, per DESIGN); a rank >= world is MUSTER_EINVAL;
 *     status 0 without a well-formed shard (same rank, plain file name,
 *     a role) is MUSTER_EPROTO.  None of these changes anything.
 *  C3 A repeated ack of a rank with the same shard is accepted and ignored
 *     (0, NONE); with a different shard it is MUSTER_EEXIST and the first
 *     one stands.
 *  C4 An ack with status < 0 aborts the attempt at once, with that status
 *     and a reason naming the rank, followed by the ack's `error` text when
 *     it has one ("rank 2 could not save its shard: No space left on
 *     device (ENOSPC on /ck/j/step-.../rank-000002.shard)"); that text is
 *     cut at 200 bytes and control characters become '?'.
 *  C5 tick at or after the deadline while COLLECTING aborts with
 *     MUSTER_ETIMEDOUT and a reason listing the missing ranks ("timed out
 *     waiting for ranks 3, 7 (2 of 8 missing)").
 *  C6 Losing members aborts (MUSTER_EPEERLOST) only if one of them had not
 *     yet acked: a shard already durable stays valid.  A new epoch aborts
 *     a COLLECTING attempt (MUSTER_EMEMBERSHIP), since members of the old
 *     epoch will not answer.  Neither affects WRITING: every shard is
 *     durable, so the checkpoint is good whatever happens to the gang.
 *  C7 cancel aborts a COLLECTING attempt with the caller's status and
 *     reason; in WRITING it does nothing (the MANIFEST write decides).
 *  C8 While WRITING the manifest in the decision stays valid and unchanged
 *     (a caller may be encoding it on another thread) until
 *     mu_ckpt_commit_written or destroy.  The machine reads no clock, so
 *     the caller stamps manifest->created_us before writing; it must not
 *     change anything else.
 *  C9 A NULL machine, event or decision is MUSTER_EINVAL.  When an event
 *     fails, the decision is still filled: NONE, the current step, epoch
 *     and deadline.
 *
 * Retention (mu_ckpt_retention): after COMMITTED the caller lists the
 * job's step directories (mu_ckpt_list) and asks which to delete to keep
 * the K newest complete ones.  The newest complete step is never deleted,
 * nothing at or above it is ever deleted (steps being written are newer),
 * and neither are the protected steps (the machine adds the attempt in
 * flight and the step it last committed).  Partial steps older than the
 * newest complete one are garbage from aborted attempts and are deleted.
 */
#ifndef MU_COMMIT_H
#define MU_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint/manifest.h"
#include "common/proto.h"

typedef struct mu_ckpt_commit mu_ckpt_commit_t;

typedef enum mu_ckpt_state
{
  MU_CKPT_IDLE = 0,   /* no attempt yet */
  MU_CKPT_COLLECTING, /* requests out, waiting for shards */
  MU_CKPT_WRITING,    /* all shards in; the caller writes the MANIFEST */
  MU_CKPT_COMMITTED,  /* the last attempt committed */
  MU_CKPT_ABORTED     /* the last attempt was aborted */
} mu_ckpt_state_t;

typedef enum mu_ckpt_action
{
  MU_CKPT_D_NONE = 0,
  MU_CKPT_D_REQUEST,        /* send ckpt.request for `step` to every member */
  MU_CKPT_D_WRITE_MANIFEST, /* write `manifest`, then _written */
  MU_CKPT_D_COMMITTED,      /* send ckpt.done status 0; apply retention */
  MU_CKPT_D_ABORTED         /* send ckpt.done with `status` and `reason` */
} mu_ckpt_action_t;

typedef struct mu_ckpt_decision
{
  mu_ckpt_action_t action;
  uint64_t step;        /* the attempt's (last attempt's) step */
  uint64_t epoch;       /* the attempt's epoch */
  uint64_t deadline_ms; /* call mu_ckpt_commit_tick by then; 0 = no timer */
  int status;           /* ABORTED: why, a negative code; else 0 */
  const char *reason;   /* ABORTED: a sentence, valid until the next event */
  mu_ckpt_manifest_t *manifest; /* WRITE_MANIFEST: owned by the machine (C8) */
} mu_ckpt_decision_t;

/* One attempt.  `roles` are copied; if NULL (nroles 0) they are derived
 * from the shards' roles in rank order, with nodes 0. */
typedef struct mu_ckpt_begin
{
  uint64_t step;
  uint64_t epoch;
  uint64_t world;      /* members that must each deliver one shard, >= 1 */
  uint64_t timeout_ms; /* wait this long for shards from now; 0 = forever */
  const mu_role_world_t *roles; /* worlds must add up to `world` */
  size_t nroles;
  uint64_t nbuckets; /* PS: total hash buckets, 0 = not a PS job */
} mu_ckpt_begin_t;

/* Create a machine for `job` (copied; must be mu_ckpt_job_ok) in IDLE.
 * 0, MUSTER_EINVAL or -ENOMEM.  The caller owns *out: destroy it. */
int mu_ckpt_commit_new (const char *job, mu_ckpt_commit_t **out);

/* Destroy; accepts NULL and a pointer to NULL; sets *c_p to NULL.  Must not
 * run while a WRITE_MANIFEST decision's manifest is still being written. */
void mu_ckpt_commit_destroy (mu_ckpt_commit_t **c_p);

/* Start an attempt: REQUEST with the absolute deadline.  MUSTER_EEXIST
 * (C1); MUSTER_ESTALE_EPOCH for an epoch older than the newest known;
 * MUSTER_EINVAL for world 0, world above MU_PROTO_MAX_LIST or roles not
 * adding up; -ENOMEM. */
int mu_ckpt_commit_begin (mu_ckpt_commit_t *c, uint64_t now_ms,
                          const mu_ckpt_begin_t *b, mu_ckpt_decision_t *d);

/* A member's ckpt.saved (as decoded; nothing in it is kept by reference).
 * Rules C2-C4; may yield WRITE_MANIFEST or ABORTED. */
int mu_ckpt_commit_ack (mu_ckpt_commit_t *c, uint64_t now_ms,
                        const mu_ckpt_saved_t *saved, mu_ckpt_decision_t *d);

/* The MANIFEST write of the WRITING attempt finished with `status` (0 or a
 * negative code): COMMITTED or ABORTED.  MUSTER_ENOTFOUND when not
 * WRITING. */
int mu_ckpt_commit_written (mu_ckpt_commit_t *c, uint64_t now_ms, int status,
                            mu_ckpt_decision_t *d);

/* Time passed (C5). */
int mu_ckpt_commit_tick (mu_ckpt_commit_t *c, uint64_t now_ms,
                         mu_ckpt_decision_t *d);

/* Ranks [first_rank, first_rank + count) are gone (a node's workers are
 * contiguous) (C6). */
int mu_ckpt_commit_lost (mu_ckpt_commit_t *c, uint64_t now_ms,
                         uint64_t first_rank, uint64_t count,
                         mu_ckpt_decision_t *d);

/* The job moved to `epoch` (C6).  An older epoch than the newest known is
 * MUSTER_ESTALE_EPOCH; the same one is a no-op. */
int mu_ckpt_commit_new_epoch (mu_ckpt_commit_t *c, uint64_t now_ms,
                              uint64_t epoch, mu_ckpt_decision_t *d);

/* The caller gives up on the attempt (C7).  `status` < 0 (MUSTER_ECANCELED
 * if 0 is passed); `why` may be NULL. */
int mu_ckpt_commit_cancel (mu_ckpt_commit_t *c, uint64_t now_ms, int status,
                           const char *why, mu_ckpt_decision_t *d);

/* --- queries (no side effects) */
mu_ckpt_state_t mu_ckpt_commit_state (const mu_ckpt_commit_t *c);
const char *mu_ckpt_state_name (mu_ckpt_state_t s);
uint64_t mu_ckpt_commit_step (const mu_ckpt_commit_t *c);  /* last attempt */
uint64_t mu_ckpt_commit_epoch (const mu_ckpt_commit_t *c); /* newest known */
/* Ranks still to ack (COLLECTING), else 0. */
uint64_t mu_ckpt_commit_missing (const mu_ckpt_commit_t *c);
/* Has `rank` acked in the attempt in flight? */
bool mu_ckpt_commit_acked (const mu_ckpt_commit_t *c, uint64_t rank);
/* The step this machine last committed; false if none. */
bool mu_ckpt_commit_last (const mu_ckpt_commit_t *c, uint64_t *step);

/* --- retention */

/* Which of `steps` (as from mu_ckpt_list; any order) to delete so that the
 * `keep` newest complete ones remain (keep 0 counts as 1); rules above.
 * The steps in `protect` are never deleted (they still count as complete
 * or partial as listed).  Writes at most n steps, ascending, to `del` (room for
 * n) and their number to *ndel.  Pure; 0 or MUSTER_EINVAL. */
int mu_ckpt_retention (const mu_ckpt_step_t *steps, size_t n, size_t keep,
                       const uint64_t *protect, size_t nprotect, uint64_t *del,
                       size_t *ndel);

/* mu_ckpt_retention protecting the attempt in flight (if any) and the step
 * this machine last committed. */
int mu_ckpt_commit_retention (const mu_ckpt_commit_t *c,
                              const mu_ckpt_step_t *steps, size_t n,
                              size_t keep, uint64_t *del, size_t *ndel);

#endif
