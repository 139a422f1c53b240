/*
 * reconcile.c — the coordinator's decision about an agent that registers
 * again while it runs workers (rules C1-C4 in reconcile.h).  Pure: inputs
 * are what the agent reported and what the coordinator knows, outputs a
 * decision; nodes.c carries it out.  Exits are matched by count, not by
 * rank: one agent's reports travel in order on one connection, so the
 * coordinator has seen a prefix of them (exit_seq 1..seen) and the rest
 * were lost while the agent was cut off.
 */
#include "coordinator/reconcile.h"

mu_reconcile_action_t
mu_reconcile_decide (const mu_reconcile_in_t *in)
{
  if (in->reg_epoch == 0)
    return MU_RECONCILE_NEW;
  if (in->job_known && in->job_finished)
    return MU_RECONCILE_DONE;
  if (in->job_known && in->reg_epoch == in->job_epoch && in->node_known
      && in->node_member && in->reg_nranks > 0
      && in->reg_first_rank == in->member_first_rank
      && in->reg_nranks == in->member_nranks)
    return MU_RECONCILE_RESUME;
  return MU_RECONCILE_FENCE;
}

void
mu_reconcile_ranks (const mu_run_worker_t *w, size_t n, uint64_t *first,
                    uint64_t *count)
{
  *first = 0;
  *count = n;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || w[i].rank < *first)
      *first = w[i].rank;
  /* Ranks of one node are contiguous: anything else does not match. */
  for (size_t i = 0; i < n; i++)
    if (w[i].rank - *first >= n)
      *count = 0;
}

size_t
mu_reconcile_missed (const mu_run_worker_t *w, size_t n, uint64_t seen,
                     size_t *idx)
{
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (w[i].exit_seq > seen)
      idx[k++] = i;
  /* insertion sort by exit_seq: n is a node's workers, small */
  for (size_t i = 1; i < k; i++)
    for (size_t j = i; j > 0 && w[idx[j]].exit_seq < w[idx[j - 1]].exit_seq;
         j--)
      {
        size_t t = idx[j];
        idx[j] = idx[j - 1];
        idx[j - 1] = t;
      }
  return k;
}

const char *
mu_reconcile_name (mu_reconcile_action_t a)
{
  switch (a)
    {
    case MU_RECONCILE_NEW:
      return "C1 new";
    case MU_RECONCILE_DONE:
      return "C2 job done";
    case MU_RECONCILE_RESUME:
      return "C3 resume";
    case MU_RECONCILE_FENCE:
      return "C4 fence";
    }
  return "?";
}
