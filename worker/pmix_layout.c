/*
 * pmix_layout.c — a job epoch as a PMIx namespace (see pmix_layout.h).
 */
#include "worker/pmix_layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

static int
fail (char *err, size_t errlen, int rc, const char *fmt, const char *a)
{
  snprintf (err, errlen, fmt, a);
  return rc;
}

/* Node order: by first rank (a node's ranks are contiguous). */
static int
by_first_rank (const void *x, const void *y)
{
  const mu_peer_node_t *a = *(const mu_peer_node_t *const *)x;
  const mu_peer_node_t *b = *(const mu_peer_node_t *const *)y;
  return a->first_rank < b->first_rank ? -1 : a->first_rank > b->first_rank;
}

int
mu_pmix_layout_build (const mu_start_t *s, mu_pmix_layout_t *l, char *err,
                      size_t errlen)
{
  memset (l, 0, sizeof *l);
  if (snprintf (l->nspace, sizeof l->nspace, "muster.%s.%" PRIu64, s->job,
                s->epoch)
      >= (int)sizeof l->nspace)
    return fail (err, errlen, MUSTER_EINVAL,
                 "job id '%.64s...' is too long for a PMIx namespace", s->job);
  if (s->nodes.n == 0 || s->nodes.n != s->nnodes)
    return fail (err, errlen, MUSTER_EINVAL,
                 "an MPI job needs every node of the epoch in job.start%s "
                 "(raise musterd's --full-members-max)",
                 "");
  if (s->world == 0 || s->world > UINT32_MAX || s->assign.n == 0)
    return fail (err, errlen, MUSTER_EINVAL, "an MPI world of %s ranks",
                 s->world == 0 ? "0" : "too many");
  size_t n = s->nodes.n;
  const mu_peer_node_t **v = malloc (n * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  size_t csv_len = 1;
  for (size_t i = 0; i < n; i++)
    {
      v[i] = &s->nodes.v[i];
      csv_len += strlen (v[i]->node_id) + 1;
      if (strpbrk (v[i]->node_id, ",;[]") != NULL || v[i]->node_id[0] == '\0')
        {
          free (v);
          return fail (err, errlen, MUSTER_EINVAL,
                       "node id '%s' cannot name a PMIx node (no commas, "
                       "semicolons or brackets)",
                       s->nodes.v[i].node_id);
        }
    }
  qsort (v, n, sizeof *v, by_first_rank);
  l->world = (uint32_t)s->world;
  l->nnodes = (uint32_t)n;
  l->node_csv = malloc (csv_len);
  l->ppn = malloc ((size_t)s->world * 11 + n + 1);
  l->node_of = malloc (s->world * sizeof *l->node_of);
  l->local_rank_of = malloc (s->world * sizeof *l->local_rank_of);
  if (l->node_csv == NULL || l->ppn == NULL || l->node_of == NULL
      || l->local_rank_of == NULL)
    {
      free (v);
      mu_pmix_layout_free (l);
      return -ENOMEM;
    }
  size_t cu = 0, pu = 0;
  uint64_t next = 0;
  int found = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (v[i]->first_rank != next || v[i]->nproc == 0
          || v[i]->nproc > s->world - next)
        {
          free (v);
          mu_pmix_layout_free (l);
          return fail (err, errlen, MUSTER_EINVAL,
                       "the epoch's nodes do not hold ranks 0..world-1 "
                       "contiguously%s",
                       "");
        }
      cu += (size_t)sprintf (l->node_csv + cu, "%s%s", i ? "," : "",
                             v[i]->node_id);
      if (i > 0)
        l->ppn[pu++] = ';';
      for (uint64_t k = 0; k < v[i]->nproc; k++)
        {
          uint64_t r = next + k;
          l->node_of[r] = (uint32_t)i;
          l->local_rank_of[r] = (uint32_t)k;
          pu += (size_t)sprintf (l->ppn + pu, "%s%" PRIu64, k ? "," : "", r);
        }
      if (v[i]->node_rank == s->node_rank)
        {
          found = 1;
          l->node_index = (uint32_t)i;
          l->first_local = (uint32_t)v[i]->first_rank;
          l->nlocal = (uint32_t)v[i]->nproc;
        }
      next += v[i]->nproc;
    }
  l->ppn[pu] = '\0';
  free (v);
  if (next != s->world || !found || l->nlocal != s->assign.n
      || s->assign.v[0].rank != l->first_local)
    {
      mu_pmix_layout_free (l);
      return fail (err, errlen, MUSTER_EINVAL,
                   "the epoch's nodes and this node's ranks disagree%s", "");
    }
  return 0;
}

void
mu_pmix_layout_free (mu_pmix_layout_t *l)
{
  free (l->node_csv);
  free (l->ppn);
  free (l->node_of);
  free (l->local_rank_of);
  l->node_csv = l->ppn = NULL;
  l->node_of = l->local_rank_of = NULL;
}

void
mu_pmix_fence_key (char *buf, size_t n, uint64_t epoch, uint64_t seq,
                   uint32_t node)
{
  snprintf (buf, n, "muster.pmix.%" PRIu64 ".fence.%" PRIu64 ".%u", epoch, seq,
            (unsigned)node);
}
