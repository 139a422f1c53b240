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
 * This file holds the field tables and the rules; the value readers and
 * the mapping walk are in job_spec_yaml_values.c.
 */
#include "common/job_spec_yaml_int.h"

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

/* ----------------------------------------------------------------- roles */

typedef struct role_ctx
{
  mu_role_spec_t *r;
  yaml_node_t *replicas_at, *name_at, *self;
  bool has_replicas;
} role_ctx_t;

static const char *const role_fields[] = { "name",  "replicas", "nproc",
                                           "slots", "labels",   "command",
                                           "env",   NULL };

/* "N" or "MIN:MAX" */
static void
get_replicas (ctx_t *c, const yaml_node_t *n, const char *path,
              mu_role_spec_t *r)
{
  const char *s = mu_yaml_scalar (c, n, path, "N or MIN:MAX");
  if (s == NULL)
    return;
  unsigned long long a, b;
  char tail;
  if (sscanf (s, "%llu:%llu%c", &a, &b, &tail) == 2 && s[0] >= '0'
      && s[0] <= '9' && strchr (s, '-') == NULL && strchr (s, '+') == NULL
      && strchr (s, ' ') == NULL)
    ;
  else if (sscanf (s, "%llu%c", &a, &tail) == 1 && s[0] >= '0' && s[0] <= '9'
           && strspn (s, "0123456789") == strlen (s))
    b = a;
  else
    {
      mu_yaml_error (c, n, path, "expected N or MIN:MAX, got \"%s\"", s);
      return;
    }
  if (a > b)
    {
      mu_yaml_error (c, n, path, "min %llu is greater than max %llu", a, b);
      return;
    }
  if (b == 0)
    {
      mu_yaml_error (c, n, path, "max must be at least 1");
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
      if (mu_yaml_str (c, v, path, &r->name) == 0)
        rc->name_at = v;
      break;
    case 1:
      rc->has_replicas = true;
      rc->replicas_at = v;
      get_replicas (c, v, path, r);
      break;
    case 2:
      if (mu_yaml_u64 (c, v, path, &r->nproc) == 0 && r->nproc == 0)
        mu_yaml_error (c, v, path, "must be at least 1");
      break;
    case 3:
      if (mu_yaml_u64 (c, v, path, &r->slots) == 0 && r->slots == 0)
        mu_yaml_error (c, v, path, "must be at least 1");
      break;
    case 4:
      mu_yaml_labels (c, v, path, &r->labels);
      break;
    case 5:
      mu_yaml_argv (c, v, path, &r->argv);
      break;
    case 6:
      mu_yaml_env (c, v, path, &r->env);
      break;
    }
}

/* ------------------------------------------------------------ sections */

static const char *const restart_fields[]
    = { "policy", "max_restarts", "infra_restarts", NULL };
static const char *const elastic_fields[]
    = { "mode", "last_call", "join_timeout", NULL };
static const char *const ckpt_fields[]
    = { "dir", "every", "every_steps", "keep", "timeout", NULL };
static const char *const auto_fields[]
    = { "min", "max", "target", "cooldown", NULL };

static void
restart_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
               const char *path)
{
  (void)k;
  mu_job_spec_t *s = obj;
  static const char *const pol[] = { "never", "on-failure", NULL };
  if (f == 0)
    mu_yaml_choice (c, v, path, pol, &s->restart_policy);
  else if (f == 1)
    mu_yaml_u64 (c, v, path, &s->max_restarts);
  else
    mu_yaml_u64 (c, v, path, &s->infra_restarts);
}

static void
elastic_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
               const char *path)
{
  (void)k;
  mu_job_spec_t *s = obj;
  static const char *const modes[] = { "restart", "in-place", NULL };
  if (f == 0)
    mu_yaml_choice (c, v, path, modes, &s->elastic_mode);
  else if (f == 1)
    mu_yaml_dur (c, v, path, &s->last_call_ms);
  else
    mu_yaml_dur (c, v, path, &s->join_timeout_ms);
}

static void
ckpt_field (ctx_t *c, void *obj, int f, yaml_node_t *k, yaml_node_t *v,
            const char *path)
{
  (void)k;
  mu_job_spec_t *s = obj;
  switch (f)
    {
    case 0:
      mu_yaml_str (c, v, path, &s->ckpt_dir);
      break;
    case 1:
      mu_yaml_dur (c, v, path, &s->ckpt_every_ms);
      break;
    case 2:
      mu_yaml_u64 (c, v, path, &s->ckpt_every_steps);
      break;
    case 3:
      if (mu_yaml_u64 (c, v, path, &s->ckpt_keep) == 0 && s->ckpt_keep == 0)
        mu_yaml_error (c, v, path, "must be at least 1");
      break;
    case 4:
      mu_yaml_dur (c, v, path, &s->ckpt_timeout_ms);
      break;
    }
}

typedef struct auto_ctx
{
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
    case 0:
      mu_yaml_u64 (c, v, path, &s->autoscale_min);
      break;
    case 1:
      mu_yaml_u64 (c, v, path, &s->autoscale_max);
      break;
    case 2:
      if (mu_yaml_u64 (c, v, path, &s->autoscale_target) == 0
          && s->autoscale_target == 0)
        mu_yaml_error (c, v, path, "must be at least 1 (load per replica)");
      break;
    case 3:
      mu_yaml_dur (c, v, path, &s->autoscale_cooldown_ms);
      break;
    }
}

/* ------------------------------------------------------------- top level */

static const char *const top_fields[] = { "name",
                                          "tenant",
                                          "priority",
                                          "kind",
                                          "command",
                                          "env",
                                          "cwd",
                                          "roles",
                                          "restart",
                                          "elastic",
                                          "checkpoint",
                                          "autoscale",
                                          "grace",
                                          "progress_timeout",
                                          "outage_window",
                                          "nbuckets",
                                          "spares",
                                          "mpi",
                                          NULL };

typedef struct top_ctx
{
  mu_job_spec_t *s;
  yaml_node_t *roles_at, *auto_at, *name_at, *kind_at, *spares_at;
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
      if (mu_yaml_str (c, v, path, &s->name) == 0)
        {
          t->name_at = v;
          size_t l = strlen (s->name);
          if (l > 63
              || strspn (s->name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                  "klmnopqrstuvwxyz0123456789._-")
                     != l)
            mu_yaml_error (c, v, path,
                           "\"%s\": use at most 63 of A-Z a-z 0-9 . _ -",
                           s->name);
        }
      break;
    case 1:
      mu_yaml_str (c, v, path, &s->tenant);
      break;
    case 2:
      mu_yaml_i64 (c, v, path, &s->priority);
      break;
    case 3:
      if (mu_yaml_choice (c, v, path, kinds, &s->kind) == 0)
        t->kind_at = v;
      break;
    case 4:
      mu_yaml_argv (c, v, path, &s->argv);
      break;
    case 5:
      mu_yaml_env (c, v, path, &s->env);
      break;
    case 6:
      mu_yaml_str (c, v, path, &s->cwd);
      break;
    case 7:
      {
        t->roles_at = v;
        t->has_roles = true;
        if (v->type != YAML_SEQUENCE_NODE)
          {
            mu_yaml_error (c, v, path, "expected a list of roles, got %s",
                           mu_yaml_kind_name (v));
            break;
          }
        size_t cnt = (size_t)(v->data.sequence.items.top
                              - v->data.sequence.items.start);
        if (cnt == 0 || cnt > 16)
          {
            mu_yaml_error (c, v, path, "give 1 to 16 roles, not %zu", cnt);
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
            yaml_node_t *x = mu_yaml_node (c, v->data.sequence.items.start[i]);
            char sub[64];
            snprintf (sub, sizeof sub, "roles[%zu]", i);
            role_ctx_t rc = { .r = &s->roles.v[i], .self = x };
            s->roles.v[i].nproc = 1;
            s->roles.v[i].min_nodes = s->roles.v[i].max_nodes = 1;
            if (x)
              mu_yaml_walk_map (c, x, sub, role_fields, role_field, &rc);
            t->role_nodes[i] = x;
            t->role_replicas[i] = rc.has_replicas;
          }
        break;
      }
    case 8:
      mu_yaml_walk_map (c, v, path, restart_fields, restart_field, s);
      break;
    case 9:
      mu_yaml_walk_map (c, v, path, elastic_fields, elastic_field, s);
      break;
    case 10:
      mu_yaml_walk_map (c, v, path, ckpt_fields, ckpt_field, s);
      break;
    case 11:
      {
        auto_ctx_t a = { s, v };
        t->auto_at = k;
        mu_yaml_walk_map (c, v, path, auto_fields, auto_field, &a);
        break;
      }
    case 12:
      mu_yaml_dur (c, v, path, &s->grace_ms);
      break;
    case 13:
      mu_yaml_dur (c, v, path, &s->progress_timeout_ms);
      break;
    case 14:
      mu_yaml_dur (c, v, path, &s->outage_ms);
      break;
    case 15:
      mu_yaml_u64 (c, v, path, &s->nbuckets);
      break;
    case 16:
      if (mu_yaml_u64 (c, v, path, &s->spares) == 0 && s->spares > 1)
        mu_yaml_error (c, v, path,
                       "expected 0 or 1 (spare processes per node), got %llu",
                       (unsigned long long)s->spares);
      t->spares_at = v;
      break;
    case 17:
      mu_yaml_bool (c, v, path, &s->mpi);
      break;
    }
}

/* Rules across fields, after the walk. */
static void
cross_check (ctx_t *c, top_ctx_t *t, const yaml_node_t *root)
{
  mu_job_spec_t *s = t->s;
  if (s->name == NULL && t->name_at == NULL)
    mu_yaml_error (c, root, "name", "missing (the job's name: its id)");
  if (!t->has_roles)
    mu_yaml_error (c, root, "roles",
                   "missing (a list of roles, e.g. - name: worker)");
  for (size_t i = 0; i < s->roles.n; i++)
    {
      mu_role_spec_t *r = &s->roles.v[i];
      const yaml_node_t *at = t->role_nodes[i] ? t->role_nodes[i] : root;
      char sub[64];
      snprintf (sub, sizeof sub, "roles[%zu]", i);
      if (r->name == NULL)
        {
          if (s->roles.n > 1)
            mu_yaml_error (c, at, sub,
                           "no name (roles of a job with several need one)");
          else
            r->name = mu_yaml_dup (c, "worker");
        }
      for (size_t j = 0; j < i && r->name; j++)
        if (s->roles.v[j].name && strcmp (s->roles.v[j].name, r->name) == 0)
          {
            char nm[80];
            snprintf (nm, sizeof nm, "roles[%zu].name", i);
            mu_yaml_error (c, at, nm,
                           "\"%s\" is already the name of roles[%zu]", r->name,
                           j);
          }
      if (r->argv.n == 0 && s->argv.n == 0)
        mu_yaml_error (c, at, sub,
                       "no command (give command here or at the top)");
    }
  bool service = s->kind && strcmp (s->kind, "service") == 0;
  if (t->auto_at && !service)
    mu_yaml_error (c, t->auto_at, "autoscale",
                   "only a service job autoscales (kind: service)");
  if (t->auto_at && service)
    {
      if (s->autoscale_target == 0)
        mu_yaml_error (c, t->auto_at, "autoscale.target",
                       "missing (load per replica "
                       "to aim at)");
      if (s->autoscale_max && s->autoscale_min > s->autoscale_max)
        mu_yaml_error (c, t->auto_at, "autoscale",
                       "min %" PRIu64 " is greater than max %" PRIu64,
                       s->autoscale_min, s->autoscale_max);
      if (s->roles.n != 1)
        mu_yaml_error (c, t->auto_at, "autoscale",
                       "a service that autoscales has one role");
      else if ((s->autoscale_max && s->autoscale_max > s->roles.v[0].max_nodes)
               || (s->autoscale_min
                   && s->autoscale_min < s->roles.v[0].min_nodes))
        mu_yaml_error (c, t->auto_at, "autoscale",
                       "min..max must lie within roles[0].replicas "
                       "(%" PRIu64 ":%" PRIu64 ")",
                       s->roles.v[0].min_nodes, s->roles.v[0].max_nodes);
    }
  bool in_place = s->elastic_mode && strcmp (s->elastic_mode, "in-place") == 0;
  if (t->spares_at && s->spares > 0 && !in_place)
    mu_yaml_error (c, t->spares_at, "spares",
                   "spare processes need elastic.mode in-place (a restart "
                   "starts every process anew)");
  if (s->mpi && in_place)
    mu_yaml_error (c, root, "mpi",
                   "an MPI world cannot change in place (use elastic.mode "
                   "restart)");
  if (s->restart_policy && strcmp (s->restart_policy, "never") == 0
      && s->max_restarts)
    mu_yaml_error (c, root, "restart",
                   "policy never with max_restarts %" PRIu64
                   " (drop one of them)",
                   s->max_restarts);
  /* the job's argv: its own command, else its first role's */
  if (s->argv.n == 0 && s->roles.n > 0 && s->roles.v[0].argv.n > 0)
    {
      mu_strlist_t *a = &s->roles.v[0].argv;
      s->argv.v = calloc (a->n, sizeof *s->argv.v);
      if (s->argv.v == NULL)
        c->oom = 1;
      for (size_t i = 0; s->argv.v && i < a->n; i++)
        s->argv.v[s->argv.n++] = mu_yaml_dup (c, a->v[i]);
    }
  if (s->name && s->id == NULL)
    s->id = mu_yaml_dup (c, s->name);
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
                                 ? &p.problem_mark
                                 : &p.context_mark;
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
      snprintf (c.err, c.errlen,
                "%s:1:1: empty: a job spec needs at least name "
                "and roles",
                c.fname);
      rc = MUSTER_EINVAL;
    }
  else
    {
      top_ctx_t t = { .s = s };
      mu_yaml_walk_map (&c, root, "", top_fields, top_field, &t);
      if (root->type == YAML_MAPPING_NODE)
        cross_check (&c, &t, root);
      if (c.oom)
        rc = -ENOMEM;
      else if (c.nerr)
        {
          if (c.nerr > MU_SPEC_MAX_ERRORS && c.used + 40 < c.errlen)
            snprintf (c.err + c.used, c.errlen - c.used,
                      "\n%s: and %d more errors", c.fname,
                      c.nerr - MU_SPEC_MAX_ERRORS);
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
              snprintf (err, errlen, "%s: larger than 4 MiB: not a job spec",
                        path);
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
    rc = mu_job_spec_yaml_parse (
        buf, len, strcmp (path, "-") == 0 ? "<stdin>" : path, out, err, errlen);
  free (buf);
  return rc;
}
