/*
 * job_spec_yaml.c — the job spec file parser of job_spec_yaml.h.
 *
 * DESIGN.  libyaml loads the file into a node tree that keeps every node's
 * position; a walk over that tree checks each mapping's keys against the
 * table of its fields (unknown keys are errors, with the closest known
 * name when one is near), converts each value by its field's type, and
 * fills a mu_job_spec_t allocated the way the codec's own decoder
 * allocates one, so mu_job_spec_free() releases it.  Errors do not stop
 * the walk: every one is recorded with its position and path, so a user
 * fixes a file in one round.  Cross-field rules (a command for every role,
 * unique role names, autoscaling only for services, min <= max) are
 * checked after the walk, against the nodes that carried the values.
 */
#include "common/job_spec_yaml.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include <muster/error.h>

#include "common/util.h"

typedef struct ctx {
  yaml_document_t *doc;
  const char *fname;
  char *err;
  size_t errlen, used;
  int nerr;
  int oom;
} ctx_t;

static void
errorf (ctx_t *c, const yaml_node_t *at, const char *path, const char *fmt, ...)
{
  c->nerr++;
  if (c->nerr > MU_SPEC_MAX_ERRORS || c->used >= c->errlen)
    return;
  char msg[400];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  int n = snprintf (c->err + c->used, c->errlen - c->used, "%s%s:%lu:%lu: %s%s%s",
                    c->used ? "\n" : "", c->fname,
                    at ? (unsigned long)at->start_mark.line + 1 : 1ul,
                    at ? (unsigned long)at->start_mark.column + 1 : 1ul,
                    path && *path ? path : "", path && *path ? ": " : "", msg);
  if (n > 0)
    c->used += (size_t)n;
  if (c->used >= c->errlen)
    c->used = c->errlen - 1;
}

static const char *
kind_name (const yaml_node_t *n)
{
  switch (n->type)
    {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static yaml_node_t *
node (ctx_t *c, int id)
{
  return yaml_document_get_node (c->doc, id);
}

/* Scalar text of n (NUL-terminated by libyaml), or NULL with an error. */
static const char *
scalar (ctx_t *c, const yaml_node_t *n, const char *path, const char *want)
{
  if (n->type != YAML_SCALAR_NODE)
    {
      errorf (c, n, path, "expected %s, got %s", want, kind_name (n));
      return NULL;
    }
  return (const char *)n->data.scalar.value;
}

static char *
dup (ctx_t *c, const char *s)
{
  char *d = strdup (s);
  if (d == NULL)
    c->oom = 1;
  return d;
}

static int
get_str (ctx_t *c, const yaml_node_t *n, const char *path, char **out)
{
  const char *s = scalar (c, n, path, "a string");
  if (s == NULL)
    return -1;
  if (*s == '\0')
    {
      errorf (c, n, path, "must not be empty");
      return -1;
    }
  free (*out);
  *out = dup (c, s);
  return 0;
}

static int
get_u64 (ctx_t *c, const yaml_node_t *n, const char *path, uint64_t *out)
{
  const char *s = scalar (c, n, path, "a non-negative integer");
  if (s == NULL)
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull (s, &end, 10);
  if (*s < '0' || *s > '9' || *end != '\0' || errno != 0)
    {
      errorf (c, n, path, "expected a non-negative integer, got \"%s\"", s);
      return -1;
    }
  *out = v;
  return 0;
}

static int
get_i64 (ctx_t *c, const yaml_node_t *n, const char *path, int64_t *out)
{
  const char *s = scalar (c, n, path, "an integer");
  if (s == NULL)
    return -1;
  char *end;
  errno = 0;
  long long v = strtoll (s, &end, 10);
  if (*s == '\0' || end == s || *end != '\0' || errno != 0)
    {
      errorf (c, n, path, "expected an integer, got \"%s\"", s);
      return -1;
    }
  *out = v;
  return 0;
}

static int
get_dur (ctx_t *c, const yaml_node_t *n, const char *path, uint64_t *out)
{
  const char *s = scalar (c, n, path, "a duration");
  if (s == NULL)
    return -1;
  if (mu_parse_duration_ms (s, out) != 0)
    {
      errorf (c, n, path, "expected a duration (%s), got \"%s\"", MU_DURATION_FORMS, s);
      return -1;
    }
  return 0;
}

static int
get_choice (ctx_t *c, const yaml_node_t *n, const char *path,
            const char *const *choices, char **out)
{
  const char *s = scalar (c, n, path, "a string");
  if (s == NULL)
    return -1;
  char list[200] = "";
  size_t used = 0;
  for (size_t i = 0; choices[i]; i++)
    {
      if (strcmp (s, choices[i]) == 0)
        {
          free (*out);
          *out = dup (c, s);
          return 0;
        }
      used += (size_t)snprintf (list + used, used < sizeof list ? sizeof list - used : 0,
                                "%s%s", i ? ", " : "", choices[i]);
    }
  errorf (c, n, path, "expected one of %s, got \"%s\"", list, s);
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

/* Walk the pairs of mapping n: for each key, the index of its name in
 * fields (-1 unknown: reported), with duplicates reported.  fn is called
 * with the key index and the value node. */
typedef void (*field_fn) (ctx_t *c, void *obj, int field, yaml_node_t *key,
                          yaml_node_t *val, const char *path);

static void
walk_map (ctx_t *c, const yaml_node_t *n, const char *path, const char *const *fields,
          field_fn fn, void *obj)
{
  if (n->type != YAML_MAPPING_NODE)
    {
      errorf (c, n, path, "expected a mapping of fields, got %s", kind_name (n));
      return;
    }
  const yaml_node_pair_t *p;
  size_t nf = 0;
  while (fields[nf])
    nf++;
  uint64_t seen = 0;
  for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
    {
      yaml_node_t *k = node (c, p->key), *v = node (c, p->value);
      if (k == NULL || v == NULL)
        continue;
      const char *name = scalar (c, k, path, "a field name");
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
            errorf (c, k, sub, "unknown field (did you mean %s?)", fields[bi]);
          else
            errorf (c, k, sub, "unknown field");
          continue;
        }
      if (seen & (1ull << f))
        {
          errorf (c, k, sub, "given twice");
          continue;
        }
      seen |= 1ull << f;
      fn (c, obj, f, k, v, sub);
    }
}

/* A command: a list of strings, or one string run by /bin/sh -c. */
static void
get_argv (ctx_t *c, const yaml_node_t *n, const char *path, mu_strlist_t *out)
{
  if (n->type == YAML_SCALAR_NODE)
    {
      const char *s = (const char *)n->data.scalar.value;
      if (*s == '\0')
        {
          errorf (c, n, path, "must not be empty");
          return;
        }
      out->v = calloc (3, sizeof *out->v);
      if (out->v == NULL)
        {
          c->oom = 1;
          return;
        }
      out->v[0] = dup (c, "/bin/sh");
      out->v[1] = dup (c, "-c");
      out->v[2] = dup (c, s);
      out->n = 3;
      return;
    }
  if (n->type != YAML_SEQUENCE_NODE)
    {
      errorf (c, n, path, "expected a list of strings or a string, got %s",
              kind_name (n));
      return;
    }
  size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  if (cnt == 0)
    {
      errorf (c, n, path, "must not be empty");
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
      yaml_node_t *x = node (c, n->data.sequence.items.start[i]);
      char sub[256];
      snprintf (sub, sizeof sub, "%s[%zu]", path, i);
      const char *s = x ? scalar (c, x, sub, "a string") : NULL;
      if (s)
        out->v[out->n++] = dup (c, s);
    }
}

/* env: a mapping of names to scalar values. */
static void
get_env (ctx_t *c, const yaml_node_t *n, const char *path, mu_strmap_t *out)
{
  if (n->type != YAML_MAPPING_NODE)
    {
      errorf (c, n, path, "expected a mapping NAME: value, got %s", kind_name (n));
      return;
    }
  size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
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
      yaml_node_t *k = node (c, p->key), *v = node (c, p->value);
      const char *ks = k ? scalar (c, k, path, "a variable name") : NULL;
      if (ks == NULL)
        continue;
      char sub[256];
      snprintf (sub, sizeof sub, "%s.%s", path, ks);
      bool bad = *ks == '\0' || strchr (ks, '=') != NULL;
      for (size_t j = 0; j < out->n && !bad; j++)
        if (strcmp (out->keys[j], ks) == 0)
          {
            errorf (c, k, sub, "given twice");
            bad = true;
            ks = NULL;
          }
      if (ks && bad)
        {
          errorf (c, k, sub, "not a variable name");
          continue;
        }
      if (ks == NULL)
        continue;
      const char *vs = v ? scalar (c, v, sub, "a string") : NULL;
      if (vs == NULL)
        continue;
      out->keys[out->n] = dup (c, ks);
      out->vals[out->n] = dup (c, vs);
      out->n++;
    }
}

/* labels: a mapping {key: value} or a list of "key=value". */
static void
get_labels (ctx_t *c, const yaml_node_t *n, const char *path, mu_strlist_t *out)
{
  size_t cnt;
  if (n->type == YAML_MAPPING_NODE)
    cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
  else if (n->type == YAML_SEQUENCE_NODE)
    cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  else
    {
      errorf (c, n, path, "expected a mapping (zone: a) or a list (- zone=a), "
              "got %s", kind_name (n));
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
          yaml_node_t *k = node (c, p->key), *v = node (c, p->value);
          const char *ks = k ? scalar (c, k, path, "a label name") : NULL;
          if (ks == NULL)
            continue;
          snprintf (sub, sizeof sub, "%s.%s", path, ks);
          const char *vs = v ? scalar (c, v, sub, "a label value") : NULL;
          if (vs == NULL)
            continue;
          if (*ks == '\0' || strchr (ks, '=') || strlen (ks) + strlen (vs) > 120)
            {
              errorf (c, k, sub, "not a label name");
              continue;
            }
          snprintf (kv, sizeof kv, "%s=%s", ks, vs);
        }
      else
        {
          yaml_node_t *x = node (c, n->data.sequence.items.start[i]);
          snprintf (sub, sizeof sub, "%s[%zu]", path, i);
          const char *s = x ? scalar (c, x, sub, "key=value") : NULL;
          if (s == NULL)
            continue;
          if (strchr (s, '=') == NULL || s[0] == '=' || strlen (s) > 120)
            {
              errorf (c, x, sub, "expected key=value, got \"%s\"", s);
              continue;
            }
          snprintf (kv, sizeof kv, "%s", s);
        }
      out->v[out->n++] = dup (c, kv);
    }
}

/* ----------------------------------------------------------------- roles */

typedef struct role_ctx {
  mu_role_spec_t *r;
  yaml_node_t *replicas_at, *name_at, *self;
  bool has_replicas;
} role_ctx_t;

static const char *const role_fields[] = { "name", "replicas", "nproc", "slots",
                                           "labels", "command", "env", NULL };

/* "N" or "MIN:MAX" */
static void
get_replicas (ctx_t *c, const yaml_node_t *n, const char *path, mu_role_spec_t *r)
{
  const char *s = scalar (c, n, path, "N or MIN:MAX");
  if (s == NULL)
    return;
  unsigned long long a, b;
  char tail;
  if (sscanf (s, "%llu:%llu%c", &a, &b, &tail) == 2 && s[0] >= '0' && s[0] <= '9'
      && strchr (s, '-') == NULL && strchr (s, '+') == NULL && strchr (s, ' ') == NULL)
    ;
  else if (sscanf (s, "%llu%c", &a, &tail) == 1 && s[0] >= '0' && s[0] <= '9'
           && strspn (s, "0123456789") == strlen (s))
    b = a;
  else
    {
      errorf (c, n, path, "expected N or MIN:MAX, got \"%s\"", s);
      return;
    }
  if (a > b)
    {
      errorf (c, n, path, "min %llu is greater than max %llu", a, b);
      return;
    }
  if (b == 0)
    {
      errorf (c, n, path, "max must be at least 1");
      return;
    }
  r->min_nodes = a;
  r->max_nodes = b;
}

static void
role_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
            const char *path)
{
  (void)k;
  role_ctx_t *rc = obj;
  mu_role_spec_t *r = rc->r;
  switch (f)
    {
    case 0:
      if (get_str (c, v, path, &r->name) == 0)
        rc->name_at = v;
      break;
    case 1:
      rc->has_replicas = true;
      rc->replicas_at = v;
      get_replicas (c, v, path, r);
      break;
    case 2:
      if (get_u64 (c, v, path, &r->nproc) == 0 && r->nproc == 0)
        errorf (c, v, path, "must be at least 1");
      break;
    case 3:
      if (get_u64 (c, v, path, &r->slots) == 0 && r->slots == 0)
        errorf (c, v, path, "must be at least 1");
      break;
    case 4:
      get_labels (c, v, path, &r->labels);
      break;
    case 5:
      get_argv (c, v, path, &r->argv);
      break;
    case 6:
      get_env (c, v, path, &r->env);
      break;
    }
}

/* ------------------------------------------------------------ sections */

static const char *const restart_fields[] = { "policy", "max_restarts",
                                              "infra_restarts", NULL };
static const char *const elastic_fields[] = { "mode", "last_call", "join_timeout",
                                              NULL };
static const char *const ckpt_fields[] = { "dir", "every", "every_steps", "keep",
                                           "timeout", NULL };
static const char *const auto_fields[] = { "min", "max", "target", "cooldown", NULL };

static void
restart_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
               const char *path)
{
  (void)k;
  mu_job_spec_t *s = obj;
  static const char *const pol[] = { "never", "on-failure", NULL };
  if (f == 0)
    get_choice (c, v, path, pol, &s->restart_policy);
  else if (f == 1)
    get_u64 (c, v, path, &s->max_restarts);
  else
    get_u64 (c, v, path, &s->infra_restarts);
}

static void
elastic_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
               const char *path)
{
  (void)k;
  mu_job_spec_t *s = obj;
  static const char *const modes[] = { "restart", "in-place", NULL };
  if (f == 0)
    get_choice (c, v, path, modes, &s->elastic_mode);
  else if (f == 1)
    get_dur (c, v, path, &s->last_call_ms);
  else
    get_dur (c, v, path, &s->join_timeout_ms);
}

static void
ckpt_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
            const char *path)
{
  (void)k;
  mu_job_spec_t *s = obj;
  switch (f)
    {
    case 0: get_str (c, v, path, &s->ckpt_dir); break;
    case 1: get_dur (c, v, path, &s->ckpt_every_ms); break;
    case 2: get_u64 (c, v, path, &s->ckpt_every_steps); break;
    case 3:
      if (get_u64 (c, v, path, &s->ckpt_keep) == 0 && s->ckpt_keep == 0)
        errorf (c, v, path, "must be at least 1");
      break;
    case 4: get_dur (c, v, path, &s->ckpt_timeout_ms); break;
    }
}

typedef struct auto_ctx {
  mu_job_spec_t *s;
  yaml_node_t *at;
} auto_ctx_t;

static void
auto_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
            const char *path)
{
  (void)k;
  mu_job_spec_t *s = ((auto_ctx_t *)obj)->s;
  switch (f)
    {
    case 0: get_u64 (c, v, path, &s->autoscale_min); break;
    case 1: get_u64 (c, v, path, &s->autoscale_max); break;
    case 2:
      if (get_u64 (c, v, path, &s->autoscale_target) == 0 && s->autoscale_target == 0)
        errorf (c, v, path, "must be at least 1 (load per replica)");
      break;
    case 3: get_dur (c, v, path, &s->autoscale_cooldown_ms); break;
    }
}

/* ------------------------------------------------------------- top level */

static const char *const top_fields[] = {
  "name", "tenant", "priority", "kind", "command", "env", "cwd", "roles",
  "restart", "elastic", "checkpoint", "autoscale", "grace", "progress_timeout",
  "outage_window", "nbuckets", NULL
};

typedef struct top_ctx {
  mu_job_spec_t *s;
  yaml_node_t *roles_at, *auto_at, *name_at, *kind_at;
  yaml_node_t *role_nodes[64];
  bool role_replicas[64];
  bool has_roles;
} top_ctx_t;

static void
top_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
           const char *path)
{
  top_ctx_t *t = obj;
  mu_job_spec_t *s = t->s;
  static const char *const kinds[] = { "gang", "ps", "service", NULL };
  switch (f)
    {
    case 0:
      if (get_str (c, v, path, &s->name) == 0)
        {
          t->name_at = v;
          size_t l = strlen (s->name);
          if (l > 63 || strspn (s->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                "klmnopqrstuvwxyz0123456789._-") != l)
            errorf (c, v, path, "\"%s\": use at most 63 of A-Z a-z 0-9 . _ -",
                    s->name);
        }
      break;
    case 1: get_str (c, v, path, &s->tenant); break;
    case 2: get_i64 (c, v, path, &s->priority); break;
    case 3:
      if (get_choice (c, v, path, kinds, &s->kind) == 0)
        t->kind_at = v;
      break;
    case 4: get_argv (c, v, path, &s->argv); break;
    case 5: get_env (c, v, path, &s->env); break;
    case 6: get_str (c, v, path, &s->cwd); break;
    case 7:
      {
        t->roles_at = v;
        t->has_roles = true;
        if (v->type != YAML_SEQUENCE_NODE)
          {
            errorf (c, v, path, "expected a list of roles, got %s", kind_name (v));
            break;
          }
        size_t cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        if (cnt == 0 || cnt > 16)
          {
            errorf (c, v, path, "give 1 to 16 roles, not %zu", cnt);
            break;
          }
        s->roles.v = calloc (cnt, sizeof *s->roles.v);
        if (s->roles.v == NULL)
          {
            c->oom = 1;
            break;
          }
        s->roles.n = cnt;
        for (size_t i = 0; i < cnt; i++)
          {
            yaml_node_t *x = node (c, v->data.sequence.items.start[i]);
            char sub[64];
            snprintf (sub, sizeof sub, "roles[%zu]", i);
            role_ctx_t rc = { .r = &s->roles.v[i], .self = x };
            s->roles.v[i].nproc = 1;
            s->roles.v[i].min_nodes = s->roles.v[i].max_nodes = 1;
            if (x)
              walk_map (c, x, sub, role_fields, role_field, &rc);
            t->role_nodes[i] = x;
            t->role_replicas[i] = rc.has_replicas;
          }
        break;
      }
    case 8: walk_map (c, v, path, restart_fields, restart_field, s); break;
    case 9: walk_map (c, v, path, elastic_fields, elastic_field, s); break;
    case 10: walk_map (c, v, path, ckpt_fields, ckpt_field, s); break;
    case 11:
      {
        auto_ctx_t a = { s, v };
        t->auto_at = k;
        walk_map (c, v, path, auto_fields, auto_field, &a);
        break;
      }
    case 12: get_dur (c, v, path, &s->grace_ms); break;
    case 13: get_dur (c, v, path, &s->progress_timeout_ms); break;
    case 14: get_dur (c, v, path, &s->outage_ms); break;
    case 15: get_u64 (c, v, path, &s->nbuckets); break;
    }
}

/* Rules across fields, after the walk. */
static void
cross_check (ctx_t *c, top_ctx_t *t, const yaml_node_t *root)
{
  mu_job_spec_t *s = t->s;
  if (s->name == NULL && t->name_at == NULL)
    errorf (c, root, "name", "missing (the job's name: its id)");
  if (!t->has_roles)
    errorf (c, root, "roles", "missing (a list of roles, e.g. - name: worker)");
  for (size_t i = 0; i < s->roles.n; i++)
    {
      mu_role_spec_t *r = &s->roles.v[i];
      const yaml_node_t *at = t->role_nodes[i] ? t->role_nodes[i] : root;
      char sub[64];
      snprintf (sub, sizeof sub, "roles[%zu]", i);
      if (r->name == NULL)
        {
          if (s->roles.n > 1)
            errorf (c, at, sub, "no name (roles of a job with several need one)");
          else
            r->name = dup (c, "worker");
        }
      for (size_t j = 0; j < i && r->name; j++)
        if (s->roles.v[j].name && strcmp (s->roles.v[j].name, r->name) == 0)
          {
            char nm[80];
            snprintf (nm, sizeof nm, "roles[%zu].name", i);
            errorf (c, at, nm, "\"%s\" is already the name of roles[%zu]", r->name, j);
          }
      if (r->argv.n == 0 && s->argv.n == 0)
        errorf (c, at, sub, "no command (give command here or at the top)");
    }
  bool service = s->kind && strcmp (s->kind, "service") == 0;
  if (t->auto_at && !service)
    errorf (c, t->auto_at, "autoscale", "only a service job autoscales (kind: service)");
  if (t->auto_at && service)
    {
      if (s->autoscale_target == 0)
        errorf (c, t->auto_at, "autoscale.target", "missing (load per replica "
                "to aim at)");
      if (s->autoscale_max && s->autoscale_min > s->autoscale_max)
        errorf (c, t->auto_at, "autoscale", "min %" PRIu64 " is greater than max %" PRIu64,
                s->autoscale_min, s->autoscale_max);
      if (s->roles.n != 1)
        errorf (c, t->auto_at, "autoscale", "a service that autoscales has one role");
      else if ((s->autoscale_max && s->autoscale_max > s->roles.v[0].max_nodes)
               || (s->autoscale_min && s->autoscale_min < s->roles.v[0].min_nodes))
        errorf (c, t->auto_at, "autoscale", "min..max must lie within roles[0].replicas "
                "(%" PRIu64 ":%" PRIu64 ")", s->roles.v[0].min_nodes,
                s->roles.v[0].max_nodes);
    }
  if (s->restart_policy && strcmp (s->restart_policy, "never") == 0 && s->max_restarts)
    errorf (c, root, "restart", "policy never with max_restarts %" PRIu64
            " (drop one of them)", s->max_restarts);
  /* the job's argv: its own command, else its first role's */
  if (s->argv.n == 0 && s->roles.n > 0 && s->roles.v[0].argv.n > 0)
    {
      mu_strlist_t *a = &s->roles.v[0].argv;
      s->argv.v = calloc (a->n, sizeof *s->argv.v);
      if (s->argv.v == NULL)
        c->oom = 1;
      for (size_t i = 0; s->argv.v && i < a->n; i++)
        s->argv.v[s->argv.n++] = dup (c, a->v[i]);
    }
  if (s->name && s->id == NULL)
    s->id = dup (c, s->name);
}

int
mu_job_spec_yaml_parse (const char *text, size_t len, const char *fname,
                        mu_job_spec_t **out, char *err, size_t errlen)
{
  *out = NULL;
  if (err && errlen)
    err[0] = '\0';
  ctx_t c = { .fname = fname ? fname : "spec", .err = err, .errlen = errlen };
  char dummy[2];
  if (err == NULL || errlen == 0)
    {
      c.err = dummy;
      c.errlen = sizeof dummy;
    }
  yaml_parser_t p;
  yaml_document_t doc;
  if (!yaml_parser_initialize (&p))
    return -ENOMEM;
  yaml_parser_set_input_string (&p, (const unsigned char *)text, len);
  if (!yaml_parser_load (&p, &doc))
    {
      const yaml_mark_t *m = p.problem_mark.line || p.problem_mark.column
                               ? &p.problem_mark : &p.context_mark;
      snprintf (c.err, c.errlen, "%s:%lu:%lu: not valid YAML: %s%s%s", c.fname,
                (unsigned long)m->line + 1, (unsigned long)m->column + 1,
                p.problem ? p.problem : "parse error", p.context ? " " : "",
                p.context ? p.context : "");
      yaml_parser_delete (&p);
      return MUSTER_EINVAL;
    }
  c.doc = &doc;
  yaml_node_t *root = yaml_document_get_root_node (&doc);
  mu_job_spec_t *s = calloc (1, sizeof *s);
  int rc = 0;
  if (s == NULL)
    rc = -ENOMEM;
  else if (root == NULL)
    {
      snprintf (c.err, c.errlen, "%s:1:1: empty: a job spec needs at least name "
                "and roles", c.fname);
      rc = MUSTER_EINVAL;
    }
  else
    {
      top_ctx_t t = { .s = s };
      walk_map (&c, root, "", top_fields, top_field, &t);
      if (root->type == YAML_MAPPING_NODE)
        cross_check (&c, &t, root);
      if (c.oom)
        rc = -ENOMEM;
      else if (c.nerr)
        {
          if (c.nerr > MU_SPEC_MAX_ERRORS && c.used + 40 < c.errlen)
            snprintf (c.err + c.used, c.errlen - c.used, "\n%s: and %d more errors",
                      c.fname, c.nerr - MU_SPEC_MAX_ERRORS);
          rc = MUSTER_EINVAL;
        }
    }
  yaml_document_delete (&doc);
  yaml_parser_delete (&p);
  if (rc != 0)
    {
      mu_job_spec_free (&s);
      return rc;
    }
  *out = s;
  return 0;
}

int
mu_job_spec_yaml_load (const char *path, mu_job_spec_t **out, char *err,
                       size_t errlen)
{
  *out = NULL;
  FILE *f = strcmp (path, "-") == 0 ? stdin : fopen (path, "r");
  if (f == NULL)
    {
      int e = errno;
      snprintf (err, errlen, "%s: %s", path, strerror (e));
      return e == ENOENT ? MUSTER_ENOTFOUND : -e;
    }
  size_t cap = 4096, len = 0;
  char *buf = malloc (cap);
  int rc = buf ? 0 : -ENOMEM;
  while (rc == 0)
    {
      if (len == cap)
        {
          if (cap >= (4u << 20))
            {
              snprintf (err, errlen, "%s: larger than 4 MiB: not a job spec", path);
              rc = MUSTER_ETOOBIG;
              break;
            }
          char *nb = realloc (buf, cap * 2);
          if (nb == NULL)
            {
              rc = -ENOMEM;
              break;
            }
          buf = nb;
          cap *= 2;
        }
      size_t n = fread (buf + len, 1, cap - len, f);
      len += n;
      if (n == 0)
        {
          if (ferror (f))
            {
              rc = -EIO;
              snprintf (err, errlen, "%s: read error", path);
            }
          break;
        }
    }
  if (f != stdin)
    fclose (f);
  if (rc == 0)
    rc = mu_job_spec_yaml_parse (buf, len, strcmp (path, "-") == 0 ? "<stdin>" : path,
                                 out, err, errlen);
  free (buf);
  return rc;
}
