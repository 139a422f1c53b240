/*
 * timeline.c — build the timeline model from a job's events (the rules
 * are in timeline.h), and the two escaping helpers its writers share.
 *
 * One pass over the events in order: lanes are made as epochs name their
 * ranks, a bar stays open per lane until its rank exits or its epoch
 * ends, a round stays open from rdzv.opened to its close.  Arrays grow by
 * doubling; nothing is read but the events.
 */
#include "launcher/timeline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

/* Grow *v (of *cap elements of size sz) to hold one more than n. */
static int
grow (void **v, size_t *cap, size_t n, size_t sz)
{
  if (n < *cap)
    return 0;
  size_t nc = *cap ? *cap * 2 : 16;
  void *p = realloc (*v, nc * sz);
  if (p == NULL)
    return -ENOMEM;
  *v = p;
  *cap = nc;
  return 0;
}

typedef struct builder {
  mu_timeline_t *t;
  size_t cap_nodes, cap_lanes, cap_bars, cap_rounds, cap_marks;
  long *open_bar;       /* per lane: index of its open bar, -1 none */
  size_t cap_open;
  long open_round;      /* -1 none */
} builder_t;

static long
node_index (builder_t *b, const char *node)
{
  mu_timeline_t *t = b->t;
  for (size_t i = 0; i < t->nnodes; i++)
    if (strcmp (t->nodes[i], node) == 0)
      return (long)i;
  if (grow ((void **)&t->nodes, &b->cap_nodes, t->nnodes, sizeof *t->nodes))
    return -1;
  t->nodes[t->nnodes] = node;
  return (long)t->nnodes++;
}

/* The lane of (node, rank), made if new (lanes are put in order at the
 * end: sort_lanes). */
static long
lane_index (builder_t *b, const char *node, int64_t rank)
{
  mu_timeline_t *t = b->t;
  long ni = node_index (b, node);
  if (ni < 0)
    return -1;
  for (size_t i = 0; i < t->nlanes; i++)
    if (t->lanes[i].node == (size_t)ni && t->lanes[i].rank == rank)
      return (long)i;
  if (grow ((void **)&t->lanes, &b->cap_lanes, t->nlanes, sizeof *t->lanes)
      || grow ((void **)&b->open_bar, &b->cap_open, t->nlanes,
               sizeof *b->open_bar))
    return -1;
  t->lanes[t->nlanes].node = (size_t)ni;
  t->lanes[t->nlanes].rank = rank;
  b->open_bar[t->nlanes] = -1;
  return (long)t->nlanes++;
}

static int
lane_cmp (const mu_tl_lane_t *a, const mu_tl_lane_t *b)
{
  if (a->node != b->node)
    return a->node < b->node ? -1 : 1;
  return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/* Lanes grouped by node (in order of first appearance), ranks ascending;
 * bars and marks follow their lanes. */
static int
sort_lanes (mu_timeline_t *t)
{
  size_t n = t->nlanes;
  size_t *order = malloc ((n ? n : 1) * sizeof *order);
  size_t *where = malloc ((n ? n : 1) * sizeof *where);
  mu_tl_lane_t *sorted = malloc ((n ? n : 1) * sizeof *sorted);
  if (order == NULL || where == NULL || sorted == NULL)
    {
      free (order);
      free (where);
      free (sorted);
      return -ENOMEM;
    }
  for (size_t i = 0; i < n; i++)
    order[i] = i;
  for (size_t i = 1; i < n; i++) /* insertion sort: lanes are few */
    for (size_t k = i; k > 0 && lane_cmp (&t->lanes[order[k - 1]],
                                          &t->lanes[order[k]]) > 0; k--)
      {
        size_t x = order[k];
        order[k] = order[k - 1];
        order[k - 1] = x;
      }
  for (size_t i = 0; i < n; i++)
    {
      sorted[i] = t->lanes[order[i]];
      where[order[i]] = i;
    }
  memcpy (t->lanes, sorted, n * sizeof *sorted);
  for (size_t i = 0; i < t->nbars; i++)
    t->bars[i].lane = where[t->bars[i].lane];
  for (size_t i = 0; i < t->nmarks; i++)
    if (t->marks[i].scope == MU_TL_RANK)
      t->marks[i].index = where[t->marks[i].index];
  free (order);
  free (where);
  free (sorted);
  return 0;
}

static void
close_bar (builder_t *b, size_t lane, uint64_t at, const char *why,
           int64_t code, int64_t sig)
{
  long k = b->open_bar[lane];
  if (k < 0)
    return;
  mu_tl_bar_t *bar = &b->t->bars[k];
  bar->end_us = at;
  bar->end = why;
  bar->code = code;
  bar->signal = sig;
  b->open_bar[lane] = -1;
}

static void
close_all (builder_t *b, uint64_t at, const char *why)
{
  for (size_t i = 0; i < b->t->nlanes; i++)
    close_bar (b, i, at, why, 0, 0);
}

static int
add_mark (builder_t *b, mu_tl_scope_t scope, size_t index, uint64_t at,
          const mu_event_info_t *ev)
{
  mu_timeline_t *t = b->t;
  if (grow ((void **)&t->marks, &b->cap_marks, t->nmarks, sizeof *t->marks))
    return -ENOMEM;
  t->marks[t->nmarks++] = (mu_tl_mark_t){ .scope = scope, .index = index,
                                          .t_us = at, .ev = ev };
  return 0;
}

static int
epoch_started (builder_t *b, const mu_event_info_t *e, uint64_t at)
{
  mu_timeline_t *t = b->t;
  close_all (b, at, "epoch-ended");
  for (size_t m = 0; m < e->members.n; m++)
    {
      const mu_event_member_t *mem = &e->members.v[m];
      for (uint64_t r = 0; r < mem->nproc; r++)
        {
          long lane = lane_index (b, mem->node, (int64_t)(mem->first_rank + r));
          if (lane < 0
              || grow ((void **)&t->bars, &b->cap_bars, t->nbars,
                       sizeof *t->bars))
            return -ENOMEM;
          t->bars[t->nbars] = (mu_tl_bar_t){ .lane = (size_t)lane,
                                             .epoch = e->epoch,
                                             .start_us = at, .end_us = at,
                                             .end = "running" };
          b->open_bar[lane] = (long)t->nbars++;
        }
    }
  return 0;
}

static int
worker_exited (builder_t *b, const mu_event_info_t *e, uint64_t at)
{
  if (e->node == NULL || e->rank < 0)
    return add_mark (b, MU_TL_JOB, 0, at, e);
  long lane = lane_index (b, e->node, e->rank);
  if (lane < 0)
    return -ENOMEM;
  long k = b->open_bar[lane];
  if (k >= 0 && b->t->bars[k].epoch == e->epoch)
    close_bar (b, (size_t)lane, at, e->cause ? e->cause : "exited", e->code,
               e->signal);
  if (e->cause != NULL
      && (strcmp (e->cause, "user") == 0 || strcmp (e->cause, "infra") == 0))
    return add_mark (b, MU_TL_RANK, (size_t)lane, at, e);
  return 0;
}

static int
round_event (builder_t *b, const mu_event_info_t *e, uint64_t at)
{
  mu_timeline_t *t = b->t;
  if (strcmp (e->kind, "rdzv.opened") == 0)
    {
      if (grow ((void **)&t->rounds, &b->cap_rounds, t->nrounds,
                sizeof *t->rounds))
        return -ENOMEM;
      t->rounds[t->nrounds] = (mu_tl_round_t){ .epoch = e->epoch,
                                               .start_us = at, .end_us = at };
      b->open_round = (long)t->nrounds++;
      return 0;
    }
  if (b->open_round >= 0)
    {
      t->rounds[b->open_round].end_us = at;
      t->rounds[b->open_round].failed = strcmp (e->kind, "rdzv.failed") == 0;
      b->open_round = -1;
    }
  return add_mark (b, MU_TL_JOB, 0, at, e);
}

int
mu_timeline_build (const char *job, const mu_event_info_t *ev, size_t n,
                   mu_timeline_t **out)
{
  if (n == 0)
    return MUSTER_EINVAL;
  mu_timeline_t *t = calloc (1, sizeof *t);
  if (t == NULL)
    return -ENOMEM;
  builder_t b = { .t = t, .open_round = -1 };
  t->job = job;
  t->t0_wall_us = ev[0].time_us;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < n; i++)
    {
      const mu_event_info_t *e = &ev[i];
      uint64_t at = e->time_us > t->t0_wall_us ? e->time_us - t->t0_wall_us
                                               : 0;
      if (at > t->span_us)
        t->span_us = at;
      if (e->epoch > t->epochs)
        t->epochs = e->epoch;
      if (strcmp (e->kind, "epoch.started") == 0)
        {
          rc = epoch_started (&b, e, at);
          if (rc == 0)
            rc = add_mark (&b, MU_TL_JOB, 0, at, e);
        }
      else if (strcmp (e->kind, "worker.exited") == 0)
        rc = worker_exited (&b, e, at);
      else if (strncmp (e->kind, "rdzv.", 5) == 0)
        rc = round_event (&b, e, at);
      else if (strncmp (e->kind, "node.", 5) == 0 && e->node != NULL)
        {
          long ni = node_index (&b, e->node);
          rc = ni < 0 ? -ENOMEM : add_mark (&b, MU_TL_NODE, (size_t)ni, at, e);
        }
      else
        {
          if (strcmp (e->kind, "job.finished") == 0)
            close_all (&b, at, "job-ended");
          rc = add_mark (&b, MU_TL_JOB, 0, at, e);
        }
    }
  /* A node seen only in node events gets a lane of its own. */
  for (size_t ni = 0; rc == 0 && ni < t->nnodes; ni++)
    {
      int has = 0;
      for (size_t l = 0; l < t->nlanes; l++)
        has |= t->lanes[l].node == ni;
      if (!has && lane_index (&b, t->nodes[ni], -1) < 0)
        rc = -ENOMEM;
    }
  for (size_t l = 0; l < t->nlanes; l++)
    if (b.open_bar[l] >= 0)
      t->bars[b.open_bar[l]].end_us = t->span_us;
  free (b.open_bar);
  if (rc == 0)
    rc = sort_lanes (t);
  if (rc != 0)
    {
      mu_timeline_destroy (&t);
      return rc;
    }
  *out = t;
  return 0;
}

void
mu_timeline_destroy (mu_timeline_t **t_p)
{
  if (t_p == NULL || *t_p == NULL)
    return;
  mu_timeline_t *t = *t_p;
  free (t->nodes);
  free (t->lanes);
  free (t->bars);
  free (t->rounds);
  free (t->marks);
  free (t);
  *t_p = NULL;
}

void
mu_json_string (FILE *f, const char *s)
{
  if (s == NULL)
    {
      fputs ("null", f);
      return;
    }
  fputc ('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        fprintf (f, "\\%c", *p);
      else if (*p == '\n')
        fputs ("\\n", f);
      else if (*p == '\t')
        fputs ("\\t", f);
      else if (*p < 0x20 || *p == 0x7f)
        fprintf (f, "\\u%04x", *p);
      else
        fputc (*p, f);
    }
  fputc ('"', f);
}

void
mu_xml_text (FILE *f, const char *s)
{
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
    switch (*p)
      {
      case '<':
        fputs ("&lt;", f);
        break;
      case '>':
        fputs ("&gt;", f);
        break;
      case '&':
        fputs ("&amp;", f);
        break;
      case '"':
        fputs ("&quot;", f);
        break;
      case '\'':
        fputs ("&apos;", f);
        break;
      default:
        /* XML 1.0 allows no control characters but tab and newlines. */
        fputc (*p < 0x20 && *p != '\t' && *p != '\n' ? ' ' : *p, f);
      }
}
