/*
 * timeline.h — a job's events (ctl.events) as a picture: lanes, bars and
 * marks, written as Chrome trace JSON (timeline_json.c) or SVG
 * (timeline_svg.c) by `muster timeline` (events_cli.c).
 *
 * The model is built once from the events, in order, by rules a reader
 * can check against docs/events.md:
 *   - a lane per (node, rank) that ran in some epoch, grouped by node in
 *     order of first appearance, ranks ascending; a node seen only in
 *     node events gets one lane of its own (rank -1);
 *   - a bar per rank per epoch, from epoch.started to that rank's
 *     worker.exited of the epoch (its cause ends the bar), else to the
 *     next epoch.started or job.finished, else to the last event;
 *   - a round (rendezvous) from rdzv.opened to rdzv.closed or rdzv.failed;
 *   - marks: a failed worker (cause user or infra) on its rank's lane, a
 *     node lost/left/joined on its node, every other event on the job's
 *     own lane.
 * The model borrows strings from the events: keep them alive while it is
 * used.  Building and writing are pure apart from the FILE written to.
 */
#ifndef MU_TIMELINE_H
#define MU_TIMELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/proto.h"

typedef struct mu_tl_lane {
  size_t node;   /* index into nodes[] */
  int64_t rank;  /* -1: a node lane (no rank ran there) */
} mu_tl_lane_t;

typedef struct mu_tl_bar {
  size_t lane;
  uint64_t epoch;
  uint64_t start_us, end_us; /* relative to t0 */
  const char *end;           /* ok | user | infra | stopped | epoch-ended |
                                job-ended | running */
  int64_t code, signal;
} mu_tl_bar_t;

typedef struct mu_tl_round {
  uint64_t epoch;
  uint64_t start_us, end_us;
  int failed;
} mu_tl_round_t;

typedef enum mu_tl_scope {
  MU_TL_JOB = 0, /* the job's own lane */
  MU_TL_NODE,    /* every lane of a node */
  MU_TL_RANK     /* one lane */
} mu_tl_scope_t;

typedef struct mu_tl_mark {
  mu_tl_scope_t scope;
  size_t index;             /* MU_TL_NODE: node; MU_TL_RANK: lane */
  uint64_t t_us;            /* relative to t0 */
  const mu_event_info_t *ev;
} mu_tl_mark_t;

typedef struct mu_timeline {
  const char *job;
  uint64_t t0_wall_us;      /* wall-clock time of the first event */
  uint64_t span_us;         /* last event - first event */
  const char **nodes;
  size_t nnodes;
  mu_tl_lane_t *lanes;
  size_t nlanes;
  mu_tl_bar_t *bars;
  size_t nbars;
  mu_tl_round_t *rounds;
  size_t nrounds;
  mu_tl_mark_t *marks;
  size_t nmarks;
  uint64_t epochs;          /* highest epoch seen */
} mu_timeline_t;

/* The timeline of job from its events (oldest first).  0, MUSTER_EINVAL
 * (no events), or -ENOMEM; *out is owned by the caller
 * (mu_timeline_destroy). */
int mu_timeline_build (const char *job, const mu_event_info_t *ev, size_t n,
                       mu_timeline_t **out);
/* Free; accepts NULL and a pointer to NULL. */
void mu_timeline_destroy (mu_timeline_t **t_p);

/* Chrome trace JSON (the trace event format: Perfetto, chrome://tracing).
 * 0 or -errno of the write. */
int mu_timeline_write_json (const mu_timeline_t *t, FILE *f);
/* A self-contained SVG picture.  0 or -errno of the write. */
int mu_timeline_write_svg (const mu_timeline_t *t, FILE *f);

/* A JSON string literal of s (quotes included); NULL writes null. */
void mu_json_string (FILE *f, const char *s);
/* s with XML's five special characters escaped. */
void mu_xml_text (FILE *f, const char *s);

#endif
