/*
 * reconcile.h — what the coordinator does with an agent that registers
 * again while it runs workers (it lost the coordinator for a while, or the
 * coordinator stalled): pure decisions, no I/O.
 *
 * Rules (the caller, nodes.c, carries them out):
 *   C1  An agent that runs nothing (epoch 0) registers as any node does.
 *   C2  Its job finished meanwhile: it is told the job's outcome
 *       (job.done) and nothing is created; a finished job never becomes a
 *       new one because a member came back late.
 *   C3  Same job, same epoch, a live node of that id bound to the same
 *       key, a member of the epoch with the same ranks: it continues in
 *       the epoch (no restart, no rollback); the exits it reports that the
 *       coordinator has not seen are replayed as ordinary worker exits.
 *   C4  Anything else (an older epoch, a node already declared lost, other
 *       ranks, a job the coordinator does not know): its workers are
 *       stopped (they belong to an epoch that is over for it) and it
 *       registers as a new node, with ordinary failure handling.
 */
#ifndef MU_RECONCILE_H
#define MU_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

typedef enum mu_reconcile_action
{
  MU_RECONCILE_NEW = 0, /* C1 */
  MU_RECONCILE_DONE,    /* C2 */
  MU_RECONCILE_RESUME,  /* C3 */
  MU_RECONCILE_FENCE    /* C4 */
} mu_reconcile_action_t;

typedef struct mu_reconcile_in
{
  uint64_t reg_epoch;         /* epoch the agent runs, 0 = none */
  uint64_t reg_first_rank;    /* lowest rank it runs */
  uint64_t reg_nranks;        /* how many */
  int job_known;              /* the coordinator has a job of that id */
  int job_finished;           /* ... in a final state */
  uint64_t job_epoch;         /* its current epoch */
  int node_known;             /* a live node of that id, same key */
  int node_member;            /* ... a member of the job's current epoch */
  uint64_t member_first_rank; /* its ranks there */
  uint64_t member_nranks;
} mu_reconcile_in_t;

/* Which rule applies (C1-C4). */
mu_reconcile_action_t mu_reconcile_decide (const mu_reconcile_in_t *in);

/* The lowest rank and the count of an agent's reported workers. */
void mu_reconcile_ranks (const mu_run_worker_t *w, size_t n, uint64_t *first,
                         uint64_t *count);

/* The exits of `w` the coordinator has not seen, in the order they
 * happened: it saw `seen` of them (exit_seq 1..seen).  Writes indices into
 * w to idx (room for n) and returns how many. */
size_t mu_reconcile_missed (const mu_run_worker_t *w, size_t n, uint64_t seen,
                            size_t *idx);

/* "C1".."C4", for log lines. */
const char *mu_reconcile_name (mu_reconcile_action_t a);

#endif
