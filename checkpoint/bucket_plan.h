/*
 * bucket_plan.h — live bucket migration: which hash buckets change hands
 * when the set of parameter servers changes while the job runs.
 *
 * Every epoch's bucket map is the canonical one of buckets.h: with P
 * servers, the server of role rank i owns the contiguous range
 * mu_buckets_owned (nb, P, i).  Servers are told apart across epochs by an
 * opaque identity (the coordinator derives it from the process's node,
 * agent and port), not by role rank, because an in-place epoch may re-rank
 * the survivors.  Given the old epoch's servers (identities in old role
 * rank order) and the new epoch's, the plan lists the moves: the pieces of
 * each new range that were owned by a different server before.  A bucket
 * moves if and only if its owner's identity changes, so for the new
 * (canonical) layout no plan moves fewer buckets; each move is one
 * contiguous piece, in bucket order.  Old servers that are not in the new
 * set appear only as sources; new servers that were not in the old set
 * only as destinations.
 *
 * Pure: no I/O, no state.
 */
#ifndef MU_BUCKET_PLAN_H
#define MU_BUCKET_PLAN_H

#include <stddef.h>
#include <stdint.h>

/* Buckets [first, first + count) go from old server `from` (index into the
 * old identities) to new server `to` (index into the new ones). */
typedef struct mu_bucket_move
{
  uint64_t first;
  uint64_t count;
  size_t from;
  size_t to;
} mu_bucket_move_t;

/* The moves that turn the canonical map over old_ids[0..nold) into the
 * canonical map over new_ids[0..nnew), in bucket order.  *moves is
 * malloc'd (NULL when *nmoves is 0; the caller frees it).  With nold 0
 * (the first epoch: nothing to move from) there are no moves.  Returns 0;
 * MUSTER_EINVAL when nbuckets or nnew is 0, or an identity appears twice
 * in one list; -ENOMEM. */
int mu_bucket_plan (uint64_t nbuckets, const uint64_t *old_ids, size_t nold,
                    const uint64_t *new_ids, size_t nnew,
                    mu_bucket_move_t **moves, size_t *nmoves);

#endif
