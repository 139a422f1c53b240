/*
 * job_spec_yaml_values.c — reading the values of a job spec file: scalars
 * of each type (strings, integers, durations, choices), commands, env and
 * label maps, and the walk over a mapping that checks its keys against a
 * table of fields (unknown ones reported with the closest known name).
 * Every reader records its error with the node's position and the field's
 * path and lets the walk go on (job_spec_yaml_int.h).
 */
#include "common/job_spec_yaml_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void
mu_yaml_error (ctx_t *c, const yaml_node_t *at, const char *path,
               const char *fmt, ...)
{
  c->nerr++;
  if (c->nerr > MU_SPEC_MAX_ERRORS || c->used >= c->errlen)
    return;
  char msg[400];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  int n = snprintf (c->err + c->used, c->errlen - c->used,
                    "%s%s:%lu:%lu: %s%s%s", c->used ? "\n" : "", c->fname,
                    at ? (unsigned long)at->start_mark.line + 1 : 1ul,
                    at ? (unsigned long)at->start_mark.column + 1 : 1ul,
                    path && *path ? path : "", path && *path ? ": " : "", msg);
  if (n > 0)
    c->used += (size_t)n;
  if (c->used >= c->errlen)
    c->used = c->errlen - 1;
}

const char *
mu_yaml_kind_name (const yaml_node_t *n)
{
  switch (n->type)
    {
    case YAML_SCALAR_NODE:
      return "a scalar";
    case YAML_SEQUENCE_NODE:
      return "a list";
    case YAML_MAPPING_NODE:
      return "a mapping";
    default:
      return "nothing";
    }
}

yaml_node_t *
mu_yaml_node (ctx_t *c, int id)
{
  return yaml_document_get_node (c->doc, id);
}

/* Scalar text of n (NUL-terminated by libyaml), or NULL with an error. */
const char *
mu_yaml_scalar (ctx_t *c, const yaml_node_t *n, const char *path,
                const char *want)
{
  if (n->type != YAML_SCALAR_NODE)
    {
      mu_yaml_error (c, n, path, "expected %s, got %s", want,
                     mu_yaml_kind_name (n));
      return NULL;
    }
  return (const char *)n->data.scalar.value;
}

char *
mu_yaml_dup (ctx_t *c, const char *s)
{
  char *d = strdup (s);
  if (d == NULL)
    c->oom = 1;
  return d;
}

int
mu_yaml_str (ctx_t *c, const yaml_node_t *n, const char *path, char **out)
{
  const char *s = mu_yaml_scalar (c, n, path, "a string");
  if (s == NULL)
    return -1;
  if (*s == '\0')
    {
      mu_yaml_error (c, n, path, "must not be empty");
      return -1;
    }
  free (*out);
  *out = mu_yaml_dup (c, s);
  return 0;
}

int
mu_yaml_u64 (ctx_t *c, const yaml_node_t *n, const char *path, uint64_t *out)
{
  const char *s = mu_yaml_scalar (c, n, path, "a non-negative integer");
  if (s == NULL)
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull (s, &end, 10);
  if (*s < '0' || *s > '9' || *end != '\0' || errno != 0)
    {
      mu_yaml_error (c, n, path, "expected a non-negative integer, got \"%s\"",
                     s);
      return -1;
    }
  *out = v;
  return 0;
}

int
mu_yaml_bool (ctx_t *c, const yaml_node_t *n, const char *path, bool *out)
{
  const char *s = mu_yaml_scalar (c, n, path, "true or false");
  if (s == NULL)
    return -1;
  /* YAML 1.2's core schema: true/false only (no yes/no/on/off surprises). */
  if (strcmp (s, "true") == 0 || strcmp (s, "True") == 0
      || strcmp (s, "TRUE") == 0)
    *out = true;
  else if (strcmp (s, "false") == 0 || strcmp (s, "False") == 0
           || strcmp (s, "FALSE") == 0)
    *out = false;
  else
    {
      mu_yaml_error (c, n, path, "expected true or false, got \"%s\"", s);
      return -1;
    }
  return 0;
}

int
mu_yaml_i64 (ctx_t *c, const yaml_node_t *n, const char *path, int64_t *out)
{
  const char *s = mu_yaml_scalar (c, n, path, "an integer");
  if (s == NULL)
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (*s == '\0' || end == s || *end != '\0' || errno != 0)
    {
      mu_yaml_error (c, n, path, "expected an integer, got \"%s\"", s);
      return -1;
    }
  *out = v;
  return 0;
}

int
mu_yaml_dur (ctx_t *c, const yaml_node_t *n, const char *path, uint64_t *out)
{
  const char *s = mu_yaml_scalar (c, n, path, "a duration");
  if (s == NULL)
    return -1;
  if (mu_parse_duration_ms (s, out) != 0)
    {
      mu_yaml_error (c, n, path, "expected a duration (%s), got \"%s\"",
                     MU_DURATION_FORMS, s);
      return -1;
    }
  return 0;
}

int
mu_yaml_choice (ctx_t *c, const yaml_node_t *n, const char *path,
                const char *const *choices, char **out)
{
  const char *s = mu_yaml_scalar (c, n, path, "a string");
  if (s == NULL)
    return -1;
  char list[200] = "";
  size_t used = 0;
  for (size_t i = 0; choices[i]; i++)
    {
      if (strcmp (s, choices[i]) == 0)
        {
          free (*out);
          *out = mu_yaml_dup (c, s);
          return 0;
        }
      used += (size_t)snprintf (list + used,
                                used < sizeof list ? sizeof list - used : 0,
                                "%s%s", i ? ", " : "", choices[i]);
    }
  mu_yaml_error (c, n, path, "expected one of %s, got \"%s\"", list, s);
  return -1;
}

/* Levenshtein distance, for did-you-mean. */
static size_t
distance (const char *a, const char *b)
{
  size_t la = strlen (a), lb = strlen (b);
  if (la > 40 || lb > 40)
    return 99;
  size_t d[41][41];
  for (size_t i = 0; i <= la; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++)
      {
        size_t x = d[i - 1][j] + 1, y = d[i][j - 1] + 1;
        size_t z = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
        d[i][j] = x < y ? (x < z ? x : z) : (y < z ? y : z);
      }
  return d[la][lb];
}

void
mu_yaml_walk_map (ctx_t *c, const yaml_node_t *n, const char *path,
                  const char *const *fields, field_fn fn, void *obj)
{
  if (n->type != YAML_MAPPING_NODE)
    {
      mu_yaml_error (c, n, path, "expected a mapping of fields, got %s",
                     mu_yaml_kind_name (n));
      return;
    }
  const yaml_node_pair_t *p;
  size_t nf = 0;
  while (fields[nf])
    nf++;
  uint64_t seen = 0;
  for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
      yaml_node_t *k = mu_yaml_node (c, p->key),
                  *v = mu_yaml_node (c, p->value);
      if (k == NULL || v == NULL)
        continue;
      const char *name = mu_yaml_scalar (c, k, path, "a field name");
      if (name == NULL)
        continue;
      char sub[256];
      snprintf (sub, sizeof sub, "%s%s%s", path, *path ? "." : "", name);
      int f = -1;
      for (size_t i = 0; i < nf; i++)
        if (strcmp (fields[i], name) == 0)
          f = (int)i;
      if (f < 0)
        {
          size_t best = 3, bi = 0;
          for (size_t i = 0; i < nf; i++)
            {
              size_t d = distance (name, fields[i]);
              if (d < best)
                {
                  best = d;
                  bi = i;
                }
            }
          if (best < 3)
            mu_yaml_error (c, k, sub, "unknown field (did you mean %s?)",
                           fields[bi]);
          else
            mu_yaml_error (c, k, sub, "unknown field");
          continue;
        }
      if (seen & (1ull << f))
        {
          mu_yaml_error (c, k, sub, "given twice");
          continue;
        }
      seen |= 1ull << f;
      fn (c, obj, f, k, v, sub);
    }
}

/* A command: a list of strings, or one string run by /bin/sh -c. */
void
mu_yaml_argv (ctx_t *c, const yaml_node_t *n, const char *path,
              mu_strlist_t *out)
{
  if (n->type == YAML_SCALAR_NODE)
    {
      const char *s = (const char *)n->data.scalar.value;
      if (*s == '\0')
        {
          mu_yaml_error (c, n, path, "must not be empty");
          return;
        }
      out->v = calloc (3, sizeof *out->v);
      if (out->v == NULL)
        {
          c->oom = 1;
          return;
        }
      out->v[0] = mu_yaml_dup (c, "/bin/sh");
      out->v[1] = mu_yaml_dup (c, "-c");
      out->v[2] = mu_yaml_dup (c, s);
      out->n = 3;
      return;
    }
  if (n->type != YAML_SEQUENCE_NODE)
    {
      mu_yaml_error (c, n, path,
                     "expected a list of strings or a string, got %s",
                     mu_yaml_kind_name (n));
      return;
    }
  size_t cnt
      = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (cnt == 0)
    {
      mu_yaml_error (c, n, path, "must not be empty");
      return;
    }
  out->v = calloc (cnt, sizeof *out->v);
  if (out->v == NULL)
    {
      c->oom = 1;
      return;
    }
  for (size_t i = 0; i < cnt; i++)
    {
      yaml_node_t *x = mu_yaml_node (c, n->data.sequence.items.start[i]);
      char sub[256];
      snprintf (sub, sizeof sub, "%s[%zu]", path, i);
      const char *s = x ? mu_yaml_scalar (c, x, sub, "a string") : NULL;
      if (s)
        out->v[out->n++] = mu_yaml_dup (c, s);
    }
}

/* env: a mapping of names to scalar values. */
void
mu_yaml_env (ctx_t *c, const yaml_node_t *n, const char *path, mu_strmap_t *out)
{
  if (n->type != YAML_MAPPING_NODE)
    {
      mu_yaml_error (c, n, path, "expected a mapping NAME: value, got %s",
                     mu_yaml_kind_name (n));
      return;
    }
  size_t cnt
      = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  if (cnt == 0)
    return;
  out->keys = calloc (cnt, sizeof *out->keys);
  out->vals = calloc (cnt, sizeof *out->vals);
  if (!out->keys || !out->vals)
    {
      c->oom = 1;
      return;
    }
  for (size_t i = 0; i < cnt; i++)
    {
      const yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
      yaml_node_t *k = mu_yaml_node (c, p->key),
                  *v = mu_yaml_node (c, p->value);
      const char *ks
          = k ? mu_yaml_scalar (c, k, path, "a variable name") : NULL;
      if (ks == NULL)
        continue;
      char sub[256];
      snprintf (sub, sizeof sub, "%s.%s", path, ks);
      bool bad = *ks == '\0' || strchr (ks, '=') != NULL;
      for (size_t j = 0; j < out->n && !bad; j++)
        if (strcmp (out->keys[j], ks) == 0)
          {
            mu_yaml_error (c, k, sub, "given twice");
            bad = true;
            ks = NULL;
          }
      if (ks && bad)
        {
          mu_yaml_error (c, k, sub, "not a variable name");
          continue;
        }
      if (ks == NULL)
        continue;
      const char *vs = v ? mu_yaml_scalar (c, v, sub, "a string") : NULL;
      if (vs == NULL)
        continue;
      out->keys[out->n] = mu_yaml_dup (c, ks);
      out->vals[out->n] = mu_yaml_dup (c, vs);
      out->n++;
    }
}

/* labels: a mapping {key: value} or a list of "key=value". */
void
mu_yaml_labels (ctx_t *c, const yaml_node_t *n, const char *path,
                mu_strlist_t *out)
{
  size_t cnt;
  if (n->type == YAML_MAPPING_NODE)
    cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  else if (n->type == YAML_SEQUENCE_NODE)
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  else
    {
      mu_yaml_error (c, n, path,
                     "expected a mapping (zone: a) or a list (- zone=a), "
                     "got %s",
                     mu_yaml_kind_name (n));
      return;
    }
  if (cnt == 0)
    return;
  out->v = calloc (cnt, sizeof *out->v);
  if (out->v == NULL)
    {
      c->oom = 1;
      return;
    }
  for (size_t i = 0; i < cnt; i++)
    {
      char sub[256], kv[512];
      if (n->type == YAML_MAPPING_NODE)
        {
          const yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
          yaml_node_t *k = mu_yaml_node (c, p->key),
                      *v = mu_yaml_node (c, p->value);
          const char *ks
              = k ? mu_yaml_scalar (c, k, path, "a label name") : NULL;
          if (ks == NULL)
            continue;
          snprintf (sub, sizeof sub, "%s.%s", path, ks);
          const char *vs
              = v ? mu_yaml_scalar (c, v, sub, "a label value") : NULL;
          if (vs == NULL)
            continue;
          if (*ks == '\0' || strchr (ks, '=')
              || strlen (ks) + strlen (vs) > 120)
            {
              mu_yaml_error (c, k, sub, "not a label name");
              continue;
            }
          snprintf (kv, sizeof kv, "%s=%s", ks, vs);
        }
      else
        {
          yaml_node_t *x = mu_yaml_node (c, n->data.sequence.items.start[i]);
          snprintf (sub, sizeof sub, "%s[%zu]", path, i);
          const char *s = x ? mu_yaml_scalar (c, x, sub, "key=value") : NULL;
          if (s == NULL)
            continue;
          if (strchr (s, '=') == NULL || s[0] == '=' || strlen (s) > 120)
            {
              mu_yaml_error (c, x, sub, "expected key=value, got \"%s\"", s);
              continue;
            }
          snprintf (kv, sizeof kv, "%s", s);
        }
      out->v[out->n++] = mu_yaml_dup (c, kv);
    }
}
