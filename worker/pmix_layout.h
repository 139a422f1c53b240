/*
 * pmix_layout.h — what a PMIx namespace says about a job epoch, computed
 * from its job.start message: a pure function, unit-tested without
 * libpmix (pmix_layout_test.c).
 *
 * An MPI world is one muster epoch: namespace "muster.<job>.<epoch>"
 * (a failure re-forms the world under a new name), ranks as muster
 * assigned them, nodes in the order of their first rank.  Nodes are named
 * by their node id, not their host name: two agents on one machine are two
 * nodes to MPI as they are to muster, and their ranks talk over the
 * network transports rather than shared memory they do not share a view
 * of.  The fence keys name where each node's modex contribution lives in
 * the job's KV store during a cross-node fence.
 */
#ifndef MU_PMIX_LAYOUT_H
#define MU_PMIX_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

typedef struct mu_pmix_layout
{
  char nspace[256];
  uint32_t world, nnodes;
  uint32_t node_index; /* this node's place in node order */
  uint32_t first_local, nlocal;
  char *node_csv;          /* node ids in node order, comma-separated */
  char *ppn;               /* "0,1;2,3": ranks per node, in node order */
  uint32_t *node_of;       /* per rank: its node's index */
  uint32_t *local_rank_of; /* per rank: its rank on its node */
} mu_pmix_layout_t;

/* Fill l from s (zeroed first).  0, or MUSTER_EINVAL with a sentence in err
 * (an incomplete or inconsistent membership, a node id PMIx cannot carry,
 * a namespace too long), or -ENOMEM.  Free with mu_pmix_layout_free. */
int mu_pmix_layout_build (const mu_start_t *s, mu_pmix_layout_t *l, char *err,
                          size_t errlen);
void mu_pmix_layout_free (mu_pmix_layout_t *l);

/* The KV key of node `node`'s contribution to fence `seq` of epoch. */
void mu_pmix_fence_key (char *buf, size_t n, uint64_t epoch, uint64_t seq,
                        uint32_t node);

#endif
