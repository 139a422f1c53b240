/*
 * info.c — the per-epoch snapshot of a worker's place in the gang, the
 * getters that read it and the peer lookup.
 *
 * The agent's WORKER_INFO is untrusted input: mu_info_new() checks that
 * every number fits the int the API returns, that the rank lies inside the
 * world, and that the node list describes disjoint rank ranges inside the
 * world, then deep-copies it (sorted by first_rank) into an immutable
 * snapshot.  Peer lookup is then a binary search over O(nodes) entries, not
 * a table of O(ranks): a node's ranks are contiguous, so rank r on the node
 * with first rank f has local rank r-f, role rank role_first_rank+(r-f)
 * and port port_base+(r-f).
 *
 * Getters take the current snapshot with one acquire load and never lock.
 * Two getter calls may straddle a membership change; a caller that needs a
 * consistent set reads muster_worker_epoch() before and after.  Snapshots
 * are never freed before finalize, so returned strings stay valid.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "worker/lib/worker_int.h"

static void
mu_info_free_one (mu_info_t *info)
{
  for (size_t i = 0; i < info->n_nodes; i++)
    {
      free (info->nodes[i].node_id);
      free (info->nodes[i].host);
      free (info->nodes[i].role);
    }
  free (info->nodes);
  free (info->job);
  free (info->role);
  free (info->reason);
  free (info);
}

void
mu_info_membership (const mu_info_t *info, muster_membership_t *out)
{
  out->epoch = info->epoch;
  out->rank = info->rank;
  out->world = info->world;
  out->local_rank = info->local_rank;
  out->local_world = info->local_world;
  out->role_rank = info->role_rank;
  out->role_world = info->role_world;
  out->node_rank = info->node_rank;
  out->nnodes = info->nnodes;
  out->sync_from = info->sync_from;
  out->reason = info->reason;
}

void
mu_info_free_chain (mu_info_t *info)
{
  while (info != NULL)
    {
      mu_info_t *older = info->older;
      mu_info_free_one (info);
      info = older;
    }
}

static int
mu_info_cmp_node (const void *a, const void *b)
{
  const mu_peer_node_t *x = a, *y = b;
  return x->first_rank < y->first_rank ? -1 : x->first_rank > y->first_rank;
}

/* Copy the three strings of a node; false on allocation failure (the
 * caller frees whatever was copied). */
static bool
mu_info_copy_node (mu_peer_node_t *dst, const mu_peer_node_t *src)
{
  *dst = *src;
  dst->node_id = strdup (src->node_id);
  dst->host = strdup (src->host);
  dst->role = strdup (src->role);
  return dst->node_id && dst->host && dst->role;
}

/* The numbers of a WORKER_INFO are usable as ints and consistent. */
static bool
mu_info_numbers_ok (const mu_worker_info_t *wi)
{
  const uint64_t v[] = { wi->rank,       wi->world,      wi->local_rank,
                         wi->local_world, wi->role_rank, wi->role_world,
                         wi->node_rank,  wi->nnodes,     wi->restart_count };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    if (v[i] > INT_MAX)
      return false;
  return wi->rank < wi->world && wi->local_rank < wi->local_world
         && wi->role_rank < wi->role_world && wi->node_rank < wi->nnodes;
}

/* A node's ranks lie inside the world and its derived numbers fit. */
static bool
mu_info_node_ok (const mu_peer_node_t *n, uint64_t world)
{
  if (n->node_id == NULL || n->host == NULL || n->role == NULL)
    return false;
  if (n->nproc == 0 || n->nproc > world || n->first_rank > world - n->nproc)
    return false;
  if (n->node_rank > INT_MAX || n->role_first_rank > INT_MAX - n->nproc)
    return false;
  /* port_base 0 means "no peer ports assigned" (every port reads 0). */
  return n->port_base == 0 || n->port_base + n->nproc - 1 <= 65535;
}

int
mu_info_new (const mu_worker_info_t *wi, mu_info_t **out)
{
  *out = NULL;
  if (wi->job == NULL || wi->role == NULL || !mu_info_numbers_ok (wi))
    return MUSTER_EPROTO;
  if (wi->nodes.n > 0 && wi->nodes.v == NULL)
    return MUSTER_EPROTO;
  for (size_t i = 0; i < wi->nodes.n; i++)
    if (!mu_info_node_ok (&wi->nodes.v[i], wi->world))
      return MUSTER_EPROTO;

  mu_info_t *info = calloc (1, sizeof *info);
  if (info == NULL)
    return -ENOMEM;
  info->epoch = wi->epoch;
  info->rank = (int)wi->rank;
  info->world = (int)wi->world;
  info->local_rank = (int)wi->local_rank;
  info->local_world = (int)wi->local_world;
  info->role_rank = (int)wi->role_rank;
  info->role_world = (int)wi->role_world;
  info->node_rank = (int)wi->node_rank;
  info->nnodes = (int)wi->nnodes;
  info->restart_count = (int)wi->restart_count;
  /* Optional fields: an absent sync_from decodes as 0, so it only counts
   * for a new member, and a rank outside the world means "none". */
  info->sync_from = wi->new_member && wi->sync_from >= 0
                            && wi->sync_from < (int64_t)wi->world
                        ? (int)wi->sync_from
                        : -1;
  info->job = strdup (wi->job);
  info->role = strdup (wi->role);
  info->reason = strdup (wi->reason ? wi->reason : "");
  if (info->job == NULL || info->role == NULL || info->reason == NULL)
    goto nomem;
  if (wi->nodes.n > 0)
    {
      info->nodes = calloc (wi->nodes.n, sizeof *info->nodes);
      if (info->nodes == NULL)
        goto nomem;
      for (size_t i = 0; i < wi->nodes.n; i++)
        {
          info->n_nodes = i + 1; /* so a partial copy is freed */
          if (!mu_info_copy_node (&info->nodes[i], &wi->nodes.v[i]))
            goto nomem;
        }
      qsort (info->nodes, info->n_nodes, sizeof *info->nodes,
             mu_info_cmp_node);
      for (size_t i = 1; i < info->n_nodes; i++)
        {
          const mu_peer_node_t *p = &info->nodes[i - 1];
          if (p->first_rank + p->nproc > info->nodes[i].first_rank)
            {
              mu_info_free_one (info);
              return MUSTER_EPROTO; /* overlapping rank ranges */
            }
        }
    }
  *out = info;
  return 0;
nomem:
  mu_info_free_one (info);
  return -ENOMEM;
}

int
mu_info_peer (const mu_info_t *info, int rank, muster_peer_t *out)
{
  if (rank < 0 || rank >= info->world)
    return MUSTER_EINVAL;
  /* Last node whose first_rank <= rank. */
  size_t lo = 0, hi = info->n_nodes;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (info->nodes[mid].first_rank <= (uint64_t)rank)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo == 0)
    return MUSTER_ENOTFOUND;
  const mu_peer_node_t *n = &info->nodes[lo - 1];
  uint64_t off = (uint64_t)rank - n->first_rank;
  if (off >= n->nproc)
    return MUSTER_ENOTFOUND; /* a gap between nodes */
  out->host = n->host;
  out->port = n->port_base ? (int)(n->port_base + off) : 0;
  out->role = n->role;
  out->role_rank = (int)(n->role_first_rank + off);
  out->node_rank = (int)n->node_rank;
  out->local_rank = (int)off;
  return 0;
}

/* ---------------------------------------------------------------- getters */

/* Every int getter: the field of the current snapshot, or MUSTER_EINVAL
 * for a NULL handle. */
#define MU_INFO_GETTER(name)                                                   \
  int muster_worker_##name (const muster_worker_t *w)                          \
  {                                                                            \
    return w ? mu_worker_info (w)->name : MUSTER_EINVAL;                       \
  }

MU_INFO_GETTER (rank)
MU_INFO_GETTER (world)
MU_INFO_GETTER (local_rank)
MU_INFO_GETTER (local_world)
MU_INFO_GETTER (node_rank)
MU_INFO_GETTER (nnodes)
MU_INFO_GETTER (role_rank)
MU_INFO_GETTER (role_world)
MU_INFO_GETTER (restart_count)
MU_INFO_GETTER (sync_from)

uint64_t
muster_worker_epoch (const muster_worker_t *w)
{
  return w ? mu_worker_info (w)->epoch : 0;
}

const char *
muster_worker_role (const muster_worker_t *w)
{
  return w ? mu_worker_info (w)->role : NULL;
}

const char *
muster_worker_job (const muster_worker_t *w)
{
  return w ? mu_worker_info (w)->job : NULL;
}

int
muster_worker_peer (const muster_worker_t *w, int rank, muster_peer_t *out)
{
  if (w == NULL || out == NULL)
    return MUSTER_EINVAL;
  return mu_info_peer (mu_worker_info (w), rank, out);
}
