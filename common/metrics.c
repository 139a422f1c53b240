/*
 * metrics.c — the registry and the Prometheus text renderer (metrics.h).
 *
 * Each family holds a fixed array of series; a series is found by its
 * label value with a linear scan (at most MU_METRIC_SERIES_MAX strcmp's,
 * cheaper than hashing for the handful of values a family has), and a
 * histogram's bucket counts live in one block allocated with the registry,
 * so no update allocates.  Counts are kept per bucket and made cumulative
 * when rendered.  Numbers are written in their shortest form that reads
 * back exactly ("1", "0.25", "1e-05"), so the text is stable for tests.
 */
#include "common/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

const double mu_metric_seconds_buckets[] = { 0.001, 0.005, 0.01, 0.025, 0.05,
                                             0.1,   0.25,  0.5,  1,     2.5,
                                             5,     10,    30,   60 };
const size_t mu_metric_seconds_nbuckets
    = sizeof mu_metric_seconds_buckets / sizeof mu_metric_seconds_buckets[0];

typedef struct series
{
  char label[MU_METRIC_LABEL_MAX];
  int used;
  double value;      /* counter or gauge */
  double sum;        /* histogram */
  uint64_t count;    /* histogram */
  uint64_t *buckets; /* histogram: per bucket (not cumulative) */
} series_t;

typedef struct family
{
  const mu_metric_def_t *def;
  const double *bounds;
  size_t nbounds;
  series_t s[MU_METRIC_SERIES_MAX];
} family_t;

struct mu_metrics
{
  family_t *f;
  size_t n;
  uint64_t *bucket_mem;
};

static int
valid_name (const char *s, int colon)
{
  if (s == NULL || *s == '\0')
    return 0;
  for (size_t i = 0; s[i]; i++)
    {
      char ch = s[i];
      int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'
               || (colon && ch == ':') || (i > 0 && ch >= '0' && ch <= '9');
      if (!ok)
        return 0;
    }
  return 1;
}

static int
check_def (const mu_metric_def_t *d, char *err, size_t errlen)
{
  if (!valid_name (d->name, 1))
    {
      snprintf (err, errlen, "metric name '%s' is not [a-zA-Z_:][a-zA-Z0-9_:]*",
                d->name ? d->name : "(null)");
      return MUSTER_EINVAL;
    }
  if (d->help == NULL || strchr (d->help, '\n') != NULL)
    {
      snprintf (err, errlen, "metric %s: help must be one line", d->name);
      return MUSTER_EINVAL;
    }
  if (d->kind != MU_METRIC_COUNTER && d->kind != MU_METRIC_GAUGE
      && d->kind != MU_METRIC_HISTOGRAM)
    {
      snprintf (err, errlen, "metric %s: unknown kind", d->name);
      return MUSTER_EINVAL;
    }
  if (d->label != NULL
      && (!valid_name (d->label, 0) || strcmp (d->label, "le") == 0
          || strncmp (d->label, "__", 2) == 0))
    {
      snprintf (err, errlen, "metric %s: bad label name '%s'", d->name,
                d->label);
      return MUSTER_EINVAL;
    }
  if (d->values != NULL)
    {
      size_t k = 0;
      while (d->values[k] != NULL)
        k++;
      if (d->label == NULL || k >= MU_METRIC_SERIES_MAX)
        {
          snprintf (err, errlen, "metric %s: %s", d->name,
                    d->label == NULL ? "label values without a label"
                                     : "too many label values");
          return MUSTER_EINVAL;
        }
    }
  if (d->kind == MU_METRIC_HISTOGRAM && d->buckets != NULL)
    {
      if (d->nbuckets == 0 || d->nbuckets > MU_METRIC_BUCKETS_MAX)
        {
          snprintf (err, errlen, "metric %s: 1 to %d buckets", d->name,
                    MU_METRIC_BUCKETS_MAX);
          return MUSTER_EINVAL;
        }
      for (size_t i = 0; i < d->nbuckets; i++)
        if (!isfinite (d->buckets[i])
            || (i > 0 && d->buckets[i] <= d->buckets[i - 1]))
          {
            snprintf (err, errlen,
                      "metric %s: buckets must be finite and "
                      "ascending",
                      d->name);
            return MUSTER_EINVAL;
          }
    }
  return 0;
}

static void
set_label (series_t *s, const char *v)
{
  size_t l = strlen (v);
  if (l >= sizeof s->label)
    l = sizeof s->label - 1;
  memcpy (s->label, v, l);
  s->label[l] = '\0';
  s->used = 1;
}

int
mu_metrics_new (const mu_metric_def_t *defs, size_t n, mu_metrics_t **out,
                char *err, size_t errlen)
{
  *out = NULL;
  size_t nb = 0;
  for (size_t i = 0; i < n; i++)
    {
      int rc = check_def (&defs[i], err, errlen);
      if (rc != 0)
        return rc;
      for (size_t k = 0; k < i; k++)
        if (strcmp (defs[k].name, defs[i].name) == 0)
          {
            snprintf (err, errlen, "metric %s declared twice", defs[i].name);
            return MUSTER_EINVAL;
          }
      if (defs[i].kind == MU_METRIC_HISTOGRAM)
        nb += (defs[i].buckets ? defs[i].nbuckets : mu_metric_seconds_nbuckets)
              * MU_METRIC_SERIES_MAX;
    }
  mu_metrics_t *m = calloc (1, sizeof *m);
  if (m == NULL)
    return -ENOMEM;
  m->f = calloc (n ? n : 1, sizeof *m->f);
  m->bucket_mem = calloc (nb ? nb : 1, sizeof *m->bucket_mem);
  if (m->f == NULL || m->bucket_mem == NULL)
    {
      mu_metrics_destroy (&m);
      return -ENOMEM;
    }
  m->n = n;
  uint64_t *next = m->bucket_mem;
  for (size_t i = 0; i < n; i++)
    {
      family_t *f = &m->f[i];
      f->def = &defs[i];
      if (defs[i].kind == MU_METRIC_HISTOGRAM)
        {
          f->bounds
              = defs[i].buckets ? defs[i].buckets : mu_metric_seconds_buckets;
          f->nbounds
              = defs[i].buckets ? defs[i].nbuckets : mu_metric_seconds_nbuckets;
          for (size_t k = 0; k < MU_METRIC_SERIES_MAX; k++)
            {
              f->s[k].buckets = next;
              next += f->nbounds;
            }
        }
      if (defs[i].label == NULL)
        set_label (&f->s[0], "");
      for (size_t k = 0; defs[i].values && defs[i].values[k]; k++)
        set_label (&f->s[k], defs[i].values[k]);
    }
  *out = m;
  return 0;
}

void
mu_metrics_destroy (mu_metrics_t **m_p)
{
  if (m_p == NULL || *m_p == NULL)
    return;
  free ((*m_p)->f);
  free ((*m_p)->bucket_mem);
  free (*m_p);
  *m_p = NULL;
}

/* The series of `label` in family id, made if new (the last slot is
 * "other"); NULL for a bad id. */
static series_t *
find (mu_metrics_t *m, unsigned id, const char *label)
{
  if (m == NULL || id >= m->n)
    return NULL;
  family_t *f = &m->f[id];
  if (f->def->label == NULL)
    return &f->s[0];
  if (label == NULL)
    label = "";
  size_t l = strlen (label);
  if (l >= MU_METRIC_LABEL_MAX)
    l = MU_METRIC_LABEL_MAX - 1;
  for (size_t k = 0; k < MU_METRIC_SERIES_MAX; k++)
    {
      series_t *s = &f->s[k];
      if (!s->used)
        {
          set_label (s, k == MU_METRIC_SERIES_MAX - 1 ? "other" : label);
          return s;
        }
      if (strncmp (s->label, label, l) == 0 && s->label[l] == '\0')
        return s;
    }
  return &f->s[MU_METRIC_SERIES_MAX - 1];
}

void
mu_metrics_add (mu_metrics_t *m, unsigned id, const char *label, double v)
{
  series_t *s = find (m, id, label);
  if (s == NULL || m->f[id].def->kind == MU_METRIC_HISTOGRAM || isnan (v))
    return;
  if (m->f[id].def->kind == MU_METRIC_COUNTER && v < 0)
    return;
  s->value += v;
}

void
mu_metrics_inc (mu_metrics_t *m, unsigned id, const char *label)
{
  mu_metrics_add (m, id, label, 1);
}

void
mu_metrics_set (mu_metrics_t *m, unsigned id, const char *label, double v)
{
  series_t *s = find (m, id, label);
  if (s != NULL && m->f[id].def->kind == MU_METRIC_GAUGE)
    s->value = v;
}

void
mu_metrics_zero (mu_metrics_t *m, unsigned id)
{
  if (m == NULL || id >= m->n || m->f[id].def->kind != MU_METRIC_GAUGE)
    return;
  for (size_t k = 0; k < MU_METRIC_SERIES_MAX; k++)
    m->f[id].s[k].value = 0;
}

void
mu_metrics_observe (mu_metrics_t *m, unsigned id, const char *label, double v)
{
  series_t *s = find (m, id, label);
  if (s == NULL || m->f[id].def->kind != MU_METRIC_HISTOGRAM || isnan (v))
    return;
  family_t *f = &m->f[id];
  size_t b = 0;
  while (b < f->nbounds && v > f->bounds[b])
    b++;
  if (b < f->nbounds)
    s->buckets[b]++;
  s->sum += v;
  s->count++;
}

double
mu_metrics_value (const mu_metrics_t *m, unsigned id, const char *label)
{
  if (m == NULL || id >= m->n)
    return 0;
  const family_t *f = &m->f[id];
  for (size_t k = 0; k < MU_METRIC_SERIES_MAX; k++)
    {
      const series_t *s = &f->s[k];
      if (s->used
          && (f->def->label == NULL
              || strcmp (s->label, label ? label : "") == 0))
        return f->def->kind == MU_METRIC_HISTOGRAM ? (double)s->count
                                                   : s->value;
    }
  return 0;
}

size_t
mu_metrics_escape_label (const char *v, char *out, size_t cap)
{
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)v; *p; p++)
    {
      char two[2];
      size_t k = 1;
      if (*p == '\\' || *p == '"')
        {
          two[0] = '\\';
          two[1] = (char)*p;
          k = 2;
        }
      else if (*p == '\n')
        {
          two[0] = '\\';
          two[1] = 'n';
          k = 2;
        }
      else
        two[0] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
      for (size_t i = 0; i < k; i++, n++)
        if (cap > 0 && n < cap - 1)
          out[n] = two[i];
    }
  if (cap > 0)
    out[n < cap ? n : cap - 1] = '\0';
  return n;
}

/* A growing text buffer; a failed allocation sticks (checked at the end). */
typedef struct tbuf
{
  char *p;
  size_t len, cap;
  int oom;
} tbuf_t;

static void
tb_printf (tbuf_t *b, const char *fmt, ...)
{
  if (b->oom)
    return;
  for (;;)
    {
      va_list ap;
      va_start (ap, fmt);
      int n = vsnprintf (b->p + b->len, b->cap - b->len, fmt, ap);
      va_end (ap);
      if (n < 0)
        {
          b->oom = 1;
          return;
        }
      if ((size_t)n < b->cap - b->len)
        {
          b->len += (size_t)n;
          return;
        }
      size_t ncap = (b->cap + (size_t)n + 1) * 2;
      char *np = realloc (b->p, ncap);
      if (np == NULL)
        {
          b->oom = 1;
          return;
        }
      b->p = np;
      b->cap = ncap;
    }
}

/* The shortest text that reads back as v ("+Inf", "NaN" as Prometheus
 * writes them). */
static const char *
fmt_num (double v, char *buf, size_t cap)
{
  if (isnan (v))
    return "NaN";
  if (isinf (v))
    return v > 0 ? "+Inf" : "-Inf";
  if (v == floor (v) && fabs (v) < 1e15)
    {
      snprintf (buf, cap, "%.0f", v);
      return buf;
    }
  for (int prec = 1; prec <= 17; prec++)
    {
      snprintf (buf, cap, "%.*g", prec, v);
      if (strtod (buf, NULL) == v)
        break;
    }
  return buf;
}

static void
render_help (tbuf_t *b, const mu_metric_def_t *d)
{
  static const char *const kinds[] = { "counter", "gauge", "histogram" };
  tb_printf (b, "# HELP %s ", d->name);
  for (const char *p = d->help; *p; p++)
    {
      if (*p == '\\')
        tb_printf (b, "\\\\");
      else
        tb_printf (b, "%c", *p);
    }
  tb_printf (b, "\n# TYPE %s %s\n", d->name, kinds[d->kind]);
}

/* `{label="v"` (open: the caller adds le= or closes), or "" unlabelled. */
static void
open_labels (tbuf_t *b, const mu_metric_def_t *d, const series_t *s)
{
  if (d->label == NULL)
    return;
  char esc[4 * MU_METRIC_LABEL_MAX];
  mu_metrics_escape_label (s->label, esc, sizeof esc);
  tb_printf (b, "{%s=\"%s\"", d->label, esc);
}

static void
render_family (tbuf_t *b, const family_t *f)
{
  const mu_metric_def_t *d = f->def;
  char num[64];
  render_help (b, d);
  for (size_t k = 0; k < MU_METRIC_SERIES_MAX; k++)
    {
      const series_t *s = &f->s[k];
      if (!s->used)
        continue;
      if (d->kind != MU_METRIC_HISTOGRAM)
        {
          tb_printf (b, "%s", d->name);
          open_labels (b, d, s);
          tb_printf (b, "%s %s\n", d->label ? "}" : "",
                     fmt_num (s->value, num, sizeof num));
          continue;
        }
      uint64_t cum = 0;
      for (size_t i = 0; i <= f->nbounds; i++)
        {
          cum += i < f->nbounds ? s->buckets[i] : 0;
          tb_printf (b, "%s_bucket", d->name);
          open_labels (b, d, s);
          tb_printf (b, "%sle=\"%s\"} %llu\n", d->label ? "," : "{",
                     i < f->nbounds ? fmt_num (f->bounds[i], num, sizeof num)
                                    : "+Inf",
                     (unsigned long long)(i < f->nbounds ? cum : s->count));
        }
      tb_printf (b, "%s_sum", d->name);
      open_labels (b, d, s);
      tb_printf (b, "%s %s\n", d->label ? "}" : "",
                 fmt_num (s->sum, num, sizeof num));
      tb_printf (b, "%s_count", d->name);
      open_labels (b, d, s);
      tb_printf (b, "%s %llu\n", d->label ? "}" : "",
                 (unsigned long long)s->count);
    }
}

int
mu_metrics_render (const mu_metrics_t *m, char **out, size_t *len)
{
  *out = NULL;
  *len = 0;
  tbuf_t b = { .p = malloc (4096), .cap = 4096 };
  if (b.p == NULL)
    return -ENOMEM;
  b.p[0] = '\0';
  for (size_t i = 0; m != NULL && i < m->n; i++)
    render_family (&b, &m->f[i]);
  if (b.oom)
    {
      free (b.p);
      return -ENOMEM;
    }
  *out = b.p;
  *len = b.len;
  return 0;
}
