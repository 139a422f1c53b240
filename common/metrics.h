/*
 * metrics.h — a small metrics registry (counters, gauges, histograms with
 * fixed buckets, one optional label per family) and its Prometheus text
 * exposition (format 0.0.4).
 *
 * One registry per daemon (musterd's coordinator, each muster-agent); no
 * global state.  The families are declared once, in a static table the
 * registry borrows (mu_metric_def_t, indexed by the caller's enum), so an
 * update is an index and at most one label value: the coordinator's hooks
 * are one line each (`mu_metrics_inc (c->metrics, MU_CM_RESTARTS,
 * "user")`).  Updates never allocate and never fail: each family holds at
 * most MU_METRIC_SERIES_MAX label values, the values declared up front
 * first (rendered at 0 from the start, so a scrape before anything happened
 * already lists them); a value past the limit is counted under "other".
 * Label values are cut to MU_METRIC_LABEL_MAX - 1 bytes, and bytes outside
 * printable ASCII become '?', so the exposition is always valid UTF-8.
 *
 * The registry is not thread-safe: it belongs to its daemon's loop thread.
 * The HTTP server (metrics_http.h) asks that thread to render and serves
 * the text it gets back; it never reads the registry itself.
 */
#ifndef MU_METRICS_H
#define MU_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define MU_METRIC_SERIES_MAX 16 /* label values per family, "other" included   \
                                 */
#define MU_METRIC_LABEL_MAX 48  /* bytes of a label value, NUL included */
#define MU_METRIC_BUCKETS_MAX 24

typedef enum mu_metric_kind
{
  MU_METRIC_COUNTER = 0,
  MU_METRIC_GAUGE,
  MU_METRIC_HISTOGRAM
} mu_metric_kind_t;

typedef struct mu_metric_def
{
  const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*, e.g. "muster_epochs_total" */
  const char *help; /* one line */
  mu_metric_kind_t kind;
  const char *label; /* label name ([a-zA-Z_][a-zA-Z0-9_]*, not "le"), or
                        NULL for a family of one unlabelled series */
  const char *const *values; /* label values listed from the start (NULL-
                                terminated), or NULL */
  const double *buckets;     /* histograms: upper bounds, ascending,
                                finite; NULL = MU_METRIC_SECONDS buckets */
  size_t nbuckets;
} mu_metric_def_t;

/* Default histogram buckets, in seconds: 1 ms to 60 s. */
extern const double mu_metric_seconds_buckets[];
extern const size_t mu_metric_seconds_nbuckets;

typedef struct mu_metrics mu_metrics_t;

/* A registry of the `n` families in `defs` (borrowed: it must outlive the
 * registry; family i is updated as id i).  0, MUSTER_EINVAL with a
 * sentence in err (a bad name, label, bucket list; a name used twice), or
 * -ENOMEM.  *out is owned by the caller (mu_metrics_destroy). */
int mu_metrics_new (const mu_metric_def_t *defs, size_t n, mu_metrics_t **out,
                    char *err, size_t errlen);
/* Free; accepts NULL and a pointer to NULL; sets *m_p to NULL. */
void mu_metrics_destroy (mu_metrics_t **m_p);

/* Add v (>= 0 for counters; negative values are ignored there) to the
 * series `label` of family `id` (label ignored by unlabelled families).
 * m may be NULL (no registry: nothing happens), as may label (""). */
void mu_metrics_add (mu_metrics_t *m, unsigned id, const char *label, double v);
/* mu_metrics_add (m, id, label, 1). */
void mu_metrics_inc (mu_metrics_t *m, unsigned id, const char *label);
/* Set a gauge's series to v. */
void mu_metrics_set (mu_metrics_t *m, unsigned id, const char *label, double v);
/* Every series of gauge `id` back to 0 (before a collector counts again;
 * the series stay listed). */
void mu_metrics_zero (mu_metrics_t *m, unsigned id);
/* Record one observation v in histogram `id`. */
void mu_metrics_observe (mu_metrics_t *m, unsigned id, const char *label,
                         double v);
/* The current value of a counter or gauge series, or a histogram's count;
 * 0 for a series never touched. */
double mu_metrics_value (const mu_metrics_t *m, unsigned id, const char *label);

/* The exposition text of every family, in table order: "# HELP" and
 * "# TYPE" lines, then its samples; histograms as _bucket{le=...}
 * (cumulative, ending with le="+Inf"), _sum and _count.  0 or -ENOMEM;
 * *out (NUL-terminated, *len bytes) is owned by the caller (free()). */
int mu_metrics_render (const mu_metrics_t *m, char **out, size_t *len);

/* The label value as the exposition writes it between the quotes:
 * backslash, double quote and newline escaped (\\ \" \n), other bytes
 * outside printable ASCII as '?'.  Returns the length the full text needs
 * (excluding the NUL); writes at most cap bytes, NUL-terminated. */
size_t mu_metrics_escape_label (const char *v, char *out, size_t cap);

#endif
