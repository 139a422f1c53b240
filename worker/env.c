/*
 * env.c — builds a worker's environment from a job.start message.
 *
 * Precedence is base environment < job spec env < muster's variables, and
 * the result never holds a key twice (getenv() would see the first, setenv()
 * change the first, and programs disagree about duplicates).  The build goes
 * from the highest precedence down: muster's variables are formatted first,
 * then the spec's and the base's entries are kept only if a hash set of the
 * keys taken so far does not already hold their key (the first of duplicate
 * keys within the spec or within the base wins, as with getenv()).  The
 * output lists them in the natural order: base, spec, muster.
 *
 * Which node the worker is on comes from start->nodes: the peer_node whose
 * first_rank <= rank < first_rank + nproc.  Its port_base + local_rank is the
 * worker's data-plane port (MUSTER_PEER_PORT), and in PS jobs each worker's
 * host:port is listed in TF_CONFIG in role-rank order (nodes of a role are
 * sorted by role_first_rank; a node holds nproc consecutive role ranks).
 * This file only reads the message structs; it needs no codec.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muster/error.h"
#include "worker/env.h"

extern char **environ;

/* ------------------------------------------------------- growable strings */

typedef struct mu_sbuf {
  char *p;
  size_t len, cap;
  bool failed;
} mu_sbuf_t;

static void
mu_sbuf_add (mu_sbuf_t *b, const char *s, size_t n)
{
  if (b->failed)
    return;
  if (b->len + n + 1 > b->cap)
    {
      size_t cap = b->cap ? b->cap : 256;
      while (cap < b->len + n + 1)
        cap *= 2;
      char *np = realloc (b->p, cap);
      if (!np)
        {
          b->failed = true;
          return;
        }
      b->p = np;
      b->cap = cap;
    }
  memcpy (b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void
mu_sbuf_str (mu_sbuf_t *b, const char *s)
{
  mu_sbuf_add (b, s, strlen (s));
}

static void
mu_sbuf_u64 (mu_sbuf_t *b, uint64_t v)
{
  char num[24];
  int n = snprintf (num, sizeof num, "%" PRIu64, v);
  mu_sbuf_add (b, num, (size_t) n);
}

/* The body of a JSON string literal (no quotes), escaped per RFC 8259;
 * bytes >= 0x80 pass through (UTF-8 is the caller's business). */
static void
mu_sbuf_json_raw (mu_sbuf_t *b, const char *s)
{
  for (const unsigned char *c = (const unsigned char *) s; *c; c++)
    {
      char esc[8];
      switch (*c)
        {
        case '"':
          mu_sbuf_add (b, "\\\"", 2);
          break;
        case '\\':
          mu_sbuf_add (b, "\\\\", 2);
          break;
        case '\b':
          mu_sbuf_add (b, "\\b", 2);
          break;
        case '\f':
          mu_sbuf_add (b, "\\f", 2);
          break;
        case '\n':
          mu_sbuf_add (b, "\\n", 2);
          break;
        case '\r':
          mu_sbuf_add (b, "\\r", 2);
          break;
        case '\t':
          mu_sbuf_add (b, "\\t", 2);
          break;
        default:
          if (*c < 0x20)
            {
              snprintf (esc, sizeof esc, "\\u%04x", *c);
              mu_sbuf_add (b, esc, 6);
            }
          else
            mu_sbuf_add (b, (const char *) c, 1);
        }
    }
}

static void
mu_sbuf_json (mu_sbuf_t *b, const char *s)
{
  mu_sbuf_add (b, "\"", 1);
  mu_sbuf_json_raw (b, s);
  mu_sbuf_add (b, "\"", 1);
}

/* "host:port" as a JSON string, with an IPv6 literal bracketed
 * ("[::1]:port") so the port stays unambiguous. */
static void
mu_sbuf_json_hostport (mu_sbuf_t *b, const char *host, uint64_t port)
{
  bool v6 = strchr (host, ':') != NULL && host[0] != '[';
  mu_sbuf_add (b, v6 ? "\"[" : "\"", v6 ? 2 : 1);
  mu_sbuf_json_raw (b, host);
  mu_sbuf_add (b, v6 ? "]:" : ":", v6 ? 2 : 1);
  mu_sbuf_u64 (b, port);
  mu_sbuf_add (b, "\"", 1);
}

/* --------------------------------------------------------- variable lists */

typedef struct mu_envv {
  char **v;
  size_t n, cap;
} mu_envv_t;

static int
mu_envv_push (mu_envv_t *e, char *s)
{
  if (!s)
    return -ENOMEM;
  if (e->n == e->cap)
    {
      size_t cap = e->cap ? e->cap * 2 : 64;
      char **nv = realloc (e->v, cap * sizeof *nv);
      if (!nv)
        {
          free (s);
          return -ENOMEM;
        }
      e->v = nv;
      e->cap = cap;
    }
  e->v[e->n++] = s;
  return 0;
}

/* Append the NULL that ends an environment array (not counted in n). */
static int
mu_envv_terminate (mu_envv_t *e)
{
  if (e->n == e->cap)
    {
      char **nv = realloc (e->v, (e->cap + 1) * sizeof *nv);
      if (!nv)
        return -ENOMEM;
      e->v = nv;
      e->cap++;
    }
  e->v[e->n] = NULL;
  return 0;
}

static int
mu_envv_setf (mu_envv_t *e, const char *key, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  char *val = NULL;
  int n = vasprintf (&val, fmt, ap);
  va_end (ap);
  if (n < 0)
    return -ENOMEM;
  char *kv = NULL;
  n = asprintf (&kv, "%s=%s", key, val);
  free (val);
  return mu_envv_push (e, n < 0 ? NULL : kv);
}

static int
mu_envv_u64 (mu_envv_t *e, const char *key, uint64_t v)
{
  return mu_envv_setf (e, key, "%" PRIu64, v);
}

static int
mu_envv_str (mu_envv_t *e, const char *key, const char *v)
{
  return mu_envv_setf (e, key, "%s", v);
}

static void
mu_envv_clear (mu_envv_t *e)
{
  for (size_t i = 0; i < e->n; i++)
    free (e->v[i]);
  free (e->v);
  e->v = NULL;
  e->n = e->cap = 0;
}

/* ------------------------------------------------------------ key hashset */

typedef struct mu_keyset {
  const char **key; /* points into "KEY=..." strings */
  size_t *len;
  size_t mask;
} mu_keyset_t;

static size_t
mu_key_len (const char *kv)
{
  const char *eq = strchr (kv, '=');
  return eq ? (size_t) (eq - kv) : strlen (kv);
}

static uint64_t
mu_key_hash (const char *k, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char) k[i]) * 1099511628211ull;
  return h;
}

static int
mu_keyset_init (mu_keyset_t *s, size_t n)
{
  size_t cap = 16;
  while (cap < 2 * n + 2)
    cap *= 2;
  s->key = calloc (cap, sizeof *s->key);
  s->len = calloc (cap, sizeof *s->len);
  s->mask = cap - 1;
  if (!s->key || !s->len)
    {
      free (s->key);
      free (s->len);
      return -ENOMEM;
    }
  return 0;
}

/* Insert the key k[0..n); false if it was already there. */
static bool
mu_keyset_add (mu_keyset_t *s, const char *k, size_t n)
{
  size_t i = (size_t) mu_key_hash (k, n) & s->mask;
  while (s->key[i])
    {
      if (s->len[i] == n && memcmp (s->key[i], k, n) == 0)
        return false;
      i = (i + 1) & s->mask;
    }
  s->key[i] = k;
  s->len[i] = n;
  return true;
}

static void
mu_keyset_free (mu_keyset_t *s)
{
  free (s->key);
  free (s->len);
}

/* ---------------------------------------------------------- the messages */

static bool
mu_is_ps_role (const char *name)
{
  return name && strcmp (name, "ps") == 0;
}

static bool
mu_is_scheduler_role (const char *name)
{
  return name && strcmp (name, "scheduler") == 0;
}

static const mu_peer_node_t *
mu_env_find_node (const mu_start_t *st, uint64_t rank)
{
  for (size_t i = 0; i < st->nodes.n; i++)
    {
      const mu_peer_node_t *nd = &st->nodes.v[i];
      if (rank >= nd->first_rank && rank - nd->first_rank < nd->nproc)
        return nd;
    }
  return NULL;
}

static const mu_role_world_t *
mu_env_find_role (const mu_start_t *st, const char *name)
{
  for (size_t i = 0; i < st->roles.n; i++)
    if (st->roles.v[i].name && strcmp (st->roles.v[i].name, name) == 0)
      return &st->roles.v[i];
  return NULL;
}

static bool
mu_env_is_ps_job (const mu_start_t *st)
{
  for (size_t i = 0; i < st->roles.n; i++)
    if (mu_is_ps_role (st->roles.v[i].name))
      return true;
  if (st->spec)
    for (size_t i = 0; i < st->spec->roles.n; i++)
      if (mu_is_ps_role (st->spec->roles.v[i].name))
        return true;
  return false;
}

/* TF_CONFIG's value: every worker of every role (start->roles order, roles
 * without workers left out) as host:port in role-rank order, and this
 * worker's task. */
static char *
mu_env_tf_config (const mu_start_t *st, const mu_assign_t *a)
{
  mu_sbuf_t b = { 0 };
  const mu_peer_node_t **sel = calloc (st->nodes.n + 1, sizeof *sel);
  if (!sel)
    return NULL;
  mu_sbuf_str (&b, "{\"cluster\":{");
  bool first_role = true;
  for (size_t r = 0; r < st->roles.n; r++)
    {
      const char *role = st->roles.v[r].name;
      if (!role)
        continue;
      size_t m = 0;
      for (size_t i = 0; i < st->nodes.n; i++)
        {
          const mu_peer_node_t *nd = &st->nodes.v[i];
          if (!nd->role || strcmp (nd->role, role) != 0 || nd->nproc == 0)
            continue;
          /* insertion sort by role_first_rank */
          size_t j = m++;
          while (j > 0 && sel[j - 1]->role_first_rank > nd->role_first_rank)
            {
              sel[j] = sel[j - 1];
              j--;
            }
          sel[j] = nd;
        }
      if (m == 0)
        continue;
      if (!first_role)
        mu_sbuf_add (&b, ",", 1);
      first_role = false;
      mu_sbuf_json (&b, role);
      mu_sbuf_str (&b, ":[");
      for (size_t i = 0; i < m; i++)
        for (uint64_t k = 0; k < sel[i]->nproc; k++)
          {
            if (i > 0 || k > 0)
              mu_sbuf_add (&b, ",", 1);
            mu_sbuf_json_hostport (&b, sel[i]->host ? sel[i]->host : "",
                                   sel[i]->port_base + k);
          }
      mu_sbuf_add (&b, "]", 1);
    }
  mu_sbuf_str (&b, "},\"task\":{\"type\":");
  mu_sbuf_json (&b, a->role);
  mu_sbuf_str (&b, ",\"index\":");
  mu_sbuf_u64 (&b, a->role_rank);
  mu_sbuf_str (&b, "}}");
  free (sel);
  if (b.failed)
    {
      free (b.p);
      return NULL;
    }
  return b.p;
}

/* Everything muster sets, in a fixed order. */
static int
mu_env_muster_vars (const mu_start_t *st, const mu_assign_t *a,
                    const mu_peer_node_t *nd, const mu_role_world_t *rw,
                    const mu_env_extra_t *x, mu_envv_t *e)
{
  int r = 0;
  uint64_t peer_port
      = x && x->peer_port ? x->peer_port : nd->port_base + a->local_rank;
  const char *node_id = x && x->node_id ? x->node_id : nd->node_id;

#define U64(k, v)                                                              \
  if (r == 0)                                                                  \
  r = mu_envv_u64 (e, k, v)
#define STR(k, v)                                                              \
  if (r == 0)                                                                  \
  r = mu_envv_str (e, k, v)
  /* torchrun's */
  U64 ("RANK", a->rank);
  U64 ("LOCAL_RANK", a->local_rank);
  U64 ("WORLD_SIZE", st->world);
  U64 ("LOCAL_WORLD_SIZE", nd->nproc);
  U64 ("GROUP_RANK", st->node_rank);
  U64 ("GROUP_WORLD_SIZE", st->nnodes);
  STR ("ROLE_NAME", a->role);
  U64 ("ROLE_RANK", a->role_rank);
  U64 ("ROLE_WORLD_SIZE", rw->world);
  STR ("MASTER_ADDR", st->master_addr);
  U64 ("MASTER_PORT", st->master_port);
  U64 ("TORCHELASTIC_RESTART_COUNT", st->restart_count);
  U64 ("TORCHELASTIC_MAX_RESTARTS", st->max_restarts);
  STR ("TORCHELASTIC_RUN_ID", st->job);
  STR ("TORCHELASTIC_USE_AGENT_STORE", "False");
  /* muster's */
  STR ("MUSTER_JOB_ID", st->job);
  STR ("MUSTER_ROLE", a->role);
  U64 ("MUSTER_RANK", a->rank);
  U64 ("MUSTER_LOCAL_RANK", a->local_rank);
  U64 ("MUSTER_WORLD_SIZE", st->world);
  U64 ("MUSTER_ROLE_RANK", a->role_rank);
  U64 ("MUSTER_ROLE_WORLD_SIZE", rw->world);
  U64 ("MUSTER_NODE_RANK", st->node_rank);
  U64 ("MUSTER_NNODES", st->nnodes);
  U64 ("MUSTER_EPOCH", st->epoch);
  U64 ("MUSTER_RESTART_COUNT", st->restart_count);
  if (node_id)
    STR ("MUSTER_NODE_ID", node_id);
  if (x && x->agent_endpoint)
    STR ("MUSTER_AGENT_ENDPOINT", x->agent_endpoint);
  U64 ("MUSTER_PEER_PORT", peer_port);
  if (st->spec && st->spec->ckpt_dir)
    STR ("MUSTER_CKPT_DIR", st->spec->ckpt_dir);
  if (st->spec && st->spec->nbuckets)
    U64 ("MUSTER_NBUCKETS", st->spec->nbuckets);
  if (st->restore_dir)
    {
      STR ("MUSTER_RESTORE_DIR", st->restore_dir);
      U64 ("MUSTER_RESTORE_STEP", st->restore_step);
    }

  /* parameter-server jobs */
  if (r == 0 && mu_env_is_ps_job (st))
    {
      char *tf = mu_env_tf_config (st, a);
      if (!tf)
        return -ENOMEM;
      r = mu_envv_str (e, "TF_CONFIG", tf);
      free (tf);
      uint64_t nserver = 0, nworker = 0;
      for (size_t i = 0; i < st->roles.n; i++)
        {
          const char *name = st->roles.v[i].name;
          if (mu_is_ps_role (name))
            nserver += st->roles.v[i].world;
          else if (!mu_is_scheduler_role (name))
            nworker += st->roles.v[i].world;
        }
      const char *dmlc_role = mu_is_ps_role (a->role)          ? "server"
                              : mu_is_scheduler_role (a->role) ? "scheduler"
                                                               : "worker";
      STR ("DMLC_ROLE", dmlc_role);
      STR ("DMLC_PS_ROOT_URI", st->master_addr);
      U64 ("DMLC_PS_ROOT_PORT", st->master_port);
      U64 ("DMLC_NUM_SERVER", nserver);
      U64 ("DMLC_NUM_WORKER", nworker);
      STR ("DMLC_NODE_HOST", nd->host ? nd->host : "");
    }
#undef U64
#undef STR
  return r;
}

int
mu_env_build (const mu_start_t *start, size_t assign_idx,
              const mu_env_extra_t *x, char ***envp_out)
{
  if (!start || !envp_out)
    return MUSTER_EINVAL;
  *envp_out = NULL;
  if (assign_idx >= start->assign.n || !start->job || !start->master_addr)
    return MUSTER_EINVAL;
  const mu_assign_t *a = &start->assign.v[assign_idx];
  if (!a->role)
    return MUSTER_EINVAL;
  const mu_peer_node_t *nd = mu_env_find_node (start, a->rank);
  const mu_role_world_t *rw = mu_env_find_role (start, a->role);
  if (!nd || !rw)
    return MUSTER_EINVAL;
  const mu_strmap_t *spec_env = start->spec ? &start->spec->env : NULL;
  size_t nspec = spec_env ? spec_env->n : 0;
  for (size_t i = 0; i < nspec; i++)
    {
      const char *k = spec_env->keys[i];
      if (!k || !*k || strchr (k, '=') || !spec_env->vals[i])
        return MUSTER_EINVAL;
    }
  char *const *base = x && x->base_env ? x->base_env : environ;
  size_t nbase = 0;
  while (base && base[nbase])
    nbase++;

  mu_envv_t mine = { 0 }, spec = { 0 }, out = { 0 };
  mu_keyset_t keys = { 0 };
  bool *keep_base = NULL;
  int r = mu_env_muster_vars (start, a, nd, rw, x, &mine);
  if (r == 0)
    r = mu_keyset_init (&keys, mine.n + nspec + nbase);
  if (r != 0)
    goto done;
  for (size_t i = 0; i < mine.n; i++)
    mu_keyset_add (&keys, mine.v[i], mu_key_len (mine.v[i]));
  for (size_t i = 0; i < nspec && r == 0; i++)
    {
      const char *k = spec_env->keys[i];
      if (!mu_keyset_add (&keys, k, strlen (k)))
        continue;
      r = mu_envv_str (&spec, k, spec_env->vals[i]);
    }
  keep_base = calloc (nbase + 1, sizeof *keep_base);
  if (r == 0 && !keep_base)
    r = -ENOMEM;
  for (size_t i = 0; i < nbase && r == 0; i++)
    {
      const char *eq = strchr (base[i], '=');
      if (!eq || eq == base[i])
        continue; /* malformed: no key */
      /* A join token is a secret of the launcher, never of the workers. */
      if (strncmp (base[i], "MUSTER_JOIN_TOKEN=", 18) == 0)
        continue;
      keep_base[i] = mu_keyset_add (&keys, base[i], (size_t) (eq - base[i]));
    }
  for (size_t i = 0; i < nbase && r == 0; i++)
    if (keep_base[i])
      r = mu_envv_push (&out, strdup (base[i]));
  for (size_t i = 0; i < spec.n && r == 0; i++)
    {
      char *kv = spec.v[i];
      spec.v[i] = NULL; /* out owns it now (push frees it on failure) */
      r = mu_envv_push (&out, kv);
    }
  for (size_t i = 0; i < mine.n && r == 0; i++)
    {
      char *kv = mine.v[i];
      mine.v[i] = NULL; /* out owns it now (push frees it on failure) */
      r = mu_envv_push (&out, kv);
    }
  if (r == 0)
    r = mu_envv_terminate (&out);

done:
  free (keep_base);
  mu_keyset_free (&keys);
  mu_envv_clear (&spec);
  mu_envv_clear (&mine);
  if (r != 0)
    {
      mu_envv_clear (&out);
      return r;
    }
  *envp_out = out.v;
  return 0;
}

void
mu_env_free (char ***envp_p)
{
  if (!envp_p || !*envp_p)
    return;
  for (char **e = *envp_p; *e; e++)
    free (*e);
  free (*envp_p);
  *envp_p = NULL;
}

const char *
mu_env_get (char *const *envp, const char *key)
{
  size_t n = strlen (key);
  for (; envp && *envp; envp++)
    if (strncmp (*envp, key, n) == 0 && (*envp)[n] == '=')
      return *envp + n + 1;
  return NULL;
}
