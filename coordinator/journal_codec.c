/*
 * journal_codec.c — msgpack encoding of the journal's records (declared in
 * journal_image.h), and the field readers journal_image.c decodes them
 * with.
 *
 * Written by hand on purpose: the journal is an on-disk format with its own
 * version (MU_JREC_VERSION), and must not change meaning when the wire
 * schema does, so the job spec is packed here field by field under names
 * this file fixes.  Maps are written into a body buffer while their
 * entries are counted, then prefixed with the map header; nested maps are
 * finished the same way and copied in as raw bytes.
 */
#include "coordinator/journal_codec.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

/* ------------------------------------------------------------- writing */

int
mu_jenc_init (mu_jenc_t *e)
{
  msgpack_sbuffer_init (&e->body);
  msgpack_packer_init (&e->pk, &e->body, msgpack_sbuffer_write);
  e->n = 0;
  e->rc = 0;
  return 0;
}

void
mu_jenc_destroy (mu_jenc_t *e)
{
  msgpack_sbuffer_destroy (&e->body);
}

static void
key (mu_jenc_t *e, const char *k)
{
  size_t n = strlen (k);
  if (msgpack_pack_str (&e->pk, n) != 0
      || msgpack_pack_str_body (&e->pk, k, n) != 0)
    e->rc = -ENOMEM;
  e->n++;
}

void
mu_jenc_u64 (mu_jenc_t *e, const char *k, uint64_t v)
{
  key (e, k);
  if (msgpack_pack_uint64 (&e->pk, v) != 0)
    e->rc = -ENOMEM;
}

void
mu_jenc_i64 (mu_jenc_t *e, const char *k, int64_t v)
{
  key (e, k);
  if (msgpack_pack_int64 (&e->pk, v) != 0)
    e->rc = -ENOMEM;
}

static void
str_value (mu_jenc_t *e, const char *s)
{
  size_t n = strlen (s);
  if (msgpack_pack_str (&e->pk, n) != 0
      || msgpack_pack_str_body (&e->pk, s, n) != 0)
    e->rc = -ENOMEM;
}

void
mu_jenc_str (mu_jenc_t *e, const char *k, const char *s)
{
  if (s == NULL)
    return; /* absent = NULL */
  key (e, k);
  str_value (e, s);
}

/* Raw, already-encoded value (a finished nested map or array). */
void
mu_jenc_raw (mu_jenc_t *e, const char *k, const char *buf, size_t len)
{
  key (e, k);
  if (msgpack_sbuffer_write (&e->body, buf, len) != 0)
    e->rc = -ENOMEM;
}

int
mu_jenc_finish (mu_jenc_t *e, char **buf, size_t *len)
{
  *buf = NULL;
  *len = 0;
  if (e->rc != 0)
    {
      mu_jenc_destroy (e);
      return e->rc;
    }
  msgpack_sbuffer out;
  msgpack_sbuffer_init (&out);
  msgpack_packer pk;
  msgpack_packer_init (&pk, &out, msgpack_sbuffer_write);
  int rc
      = msgpack_pack_map (&pk, e->n) != 0
                || msgpack_sbuffer_write (&out, e->body.data, e->body.size) != 0
            ? -ENOMEM
            : 0;
  mu_jenc_destroy (e);
  if (rc != 0)
    {
      msgpack_sbuffer_destroy (&out);
      return rc;
    }
  *len = out.size;
  *buf = msgpack_sbuffer_release (&out);
  if (*buf == NULL && *len > 0)
    return -ENOMEM;
  return 0;
}

void
mu_jenc_head (mu_jenc_t *e, const char *kind, const char *id)
{
  mu_jenc_init (e);
  mu_jenc_u64 (e, "v", MU_JREC_VERSION);
  mu_jenc_str (e, "t", kind);
  mu_jenc_str (e, "id", id);
}

/* --------------------------------------------------------- the job spec */

typedef struct u64_field
{
  const char *name;
  size_t off;
} u64_field_t;

#define U64F(f)                                                                \
  {                                                                            \
#f, offsetof(mu_job_spec_t, f)                                             \
  }
static const u64_field_t spec_u64[] = { U64F (max_restarts),
                                        U64F (last_call_ms),
                                        U64F (join_timeout_ms),
                                        U64F (grace_ms),
                                        U64F (progress_timeout_ms),
                                        U64F (infra_restarts),
                                        U64F (cordon_failures),
                                        U64F (cordon_window_ms),
                                        U64F (cordon_ms),
                                        U64F (ckpt_every_ms),
                                        U64F (ckpt_every_steps),
                                        U64F (ckpt_keep),
                                        U64F (ckpt_timeout_ms),
                                        U64F (nbuckets),
                                        U64F (outage_ms),
                                        /* schedwire: the spec file's */
                                        U64F (autoscale_min),
                                        U64F (autoscale_max),
                                        U64F (autoscale_target),
                                        U64F (autoscale_cooldown_ms),
                                        U64F (spares) };
#define STRF(f)                                                                \
  {                                                                            \
#f, offsetof(mu_job_spec_t, f)                                             \
  }
static const u64_field_t spec_str[]
    = { STRF (cwd), STRF (elastic_mode), STRF (ckpt_dir),
        /* schedwire: the spec file's */
        STRF (name), STRF (tenant), STRF (kind), STRF (restart_policy) };
#define NELEM(a) (sizeof (a) / sizeof ((a)[0]))

int
mu_jenc_spec (const mu_job_spec_t *s, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_init (&e);
  mu_jenc_str (&e, "id", s->id);
  key (&e, "roles");
  msgpack_pack_array (&e.pk, s->roles.n);
  for (size_t i = 0; i < s->roles.n; i++)
    {
      const mu_role_spec_t *r = &s->roles.v[i];
      /* schedwire: slots, labels, and the role's own argv and env */
      msgpack_pack_map (&e.pk, 4 + (r->slots != 0) + (r->labels.n != 0)
                                   + (r->argv.n != 0) + (r->env.n != 0));
      str_value (&e, "name");
      str_value (&e, r->name);
      str_value (&e, "min_nodes");
      msgpack_pack_uint64 (&e.pk, r->min_nodes);
      str_value (&e, "max_nodes");
      msgpack_pack_uint64 (&e.pk, r->max_nodes);
      str_value (&e, "nproc");
      msgpack_pack_uint64 (&e.pk, r->nproc);
      if (r->slots != 0)
        {
          str_value (&e, "slots");
          msgpack_pack_uint64 (&e.pk, r->slots);
        }
      if (r->labels.n != 0)
        {
          str_value (&e, "labels");
          msgpack_pack_array (&e.pk, r->labels.n);
          for (size_t k = 0; k < r->labels.n; k++)
            str_value (&e, r->labels.v[k]);
        }
      if (r->argv.n != 0)
        {
          str_value (&e, "argv");
          msgpack_pack_array (&e.pk, r->argv.n);
          for (size_t k = 0; k < r->argv.n; k++)
            str_value (&e, r->argv.v[k]);
        }
      if (r->env.n != 0)
        {
          str_value (&e, "env");
          msgpack_pack_map (&e.pk, r->env.n);
          for (size_t k = 0; k < r->env.n; k++)
            {
              str_value (&e, r->env.keys[k]);
              str_value (&e, r->env.vals[k]);
            }
        }
    }
  key (&e, "argv");
  msgpack_pack_array (&e.pk, s->argv.n);
  for (size_t i = 0; i < s->argv.n; i++)
    str_value (&e, s->argv.v[i]);
  if (s->env.n > 0)
    {
      key (&e, "env");
      msgpack_pack_map (&e.pk, s->env.n);
      for (size_t i = 0; i < s->env.n; i++)
        {
          str_value (&e, s->env.keys[i]);
          str_value (&e, s->env.vals[i]);
        }
    }
  for (size_t i = 0; i < NELEM (spec_u64); i++)
    {
      uint64_t v = *(const uint64_t *)((const char *)s + spec_u64[i].off);
      if (v != 0)
        mu_jenc_u64 (&e, spec_u64[i].name, v);
    }
  for (size_t i = 0; i < NELEM (spec_str); i++)
    mu_jenc_str (&e, spec_str[i].name,
                 *(char *const *)((const char *)s + spec_str[i].off));
  if (s->resume)
    mu_jenc_u64 (&e, "resume", 1);
  if (s->mpi) /* mpi: muster run --mpi */
    mu_jenc_u64 (&e, "mpi", 1);
  if (s->priority != 0) /* schedwire */
    {
      key (&e, "priority");
      msgpack_pack_int64 (&e.pk, s->priority);
    }
  return mu_jenc_finish (&e, buf, len);
}

/* ------------------------------------------------------------- reading */

const msgpack_object *
mu_jget (const msgpack_object *map, const char *k)
{
  if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
    return NULL;
  size_t n = strlen (k);
  for (uint32_t i = 0; i < map->via.map.size; i++)
    {
      const msgpack_object *kk = &map->via.map.ptr[i].key;
      if (kk->type == MSGPACK_OBJECT_STR && kk->via.str.size == n
          && memcmp (kk->via.str.ptr, k, n) == 0)
        return &map->via.map.ptr[i].val;
    }
  return NULL;
}

int
mu_jget_u64 (const msgpack_object *map, const char *k, uint64_t *out)
{
  const msgpack_object *o = mu_jget (map, k);
  if (o == NULL)
    {
      *out = 0;
      return 1; /* absent */
    }
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return MUSTER_EPROTO;
  *out = o->via.u64;
  return 0;
}

int
mu_jget_i64 (const msgpack_object *map, const char *k, int64_t *out)
{
  const msgpack_object *o = mu_jget (map, k);
  *out = 0;
  if (o == NULL)
    return 1;
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
    *out = (int64_t)o->via.u64;
  else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    *out = o->via.i64;
  else
    return MUSTER_EPROTO;
  return 0;
}

static char *
dup_str (const msgpack_object *o)
{
  char *s = malloc (o->via.str.size + 1);
  if (s != NULL)
    {
      memcpy (s, o->via.str.ptr, o->via.str.size);
      s[o->via.str.size] = '\0';
    }
  return s;
}

int
mu_jget_str (const msgpack_object *map, const char *k, char **out)
{
  const msgpack_object *o = mu_jget (map, k);
  *out = NULL;
  if (o == NULL)
    return 1;
  if (o->type != MSGPACK_OBJECT_STR)
    return MUSTER_EPROTO;
  *out = dup_str (o);
  return *out ? 0 : -ENOMEM;
}

/* schedwire: an optional array of strings / map of strings (NULL: none). */
static int
dec_strlist (const msgpack_object *o, mu_strlist_t *out)
{
  if (o == NULL)
    return 0;
  if (o->type != MSGPACK_OBJECT_ARRAY)
    return MUSTER_EPROTO;
  if (o->via.array.size == 0)
    return 0;
  out->v = calloc (o->via.array.size, sizeof *out->v);
  if (out->v == NULL)
    return -ENOMEM;
  for (uint32_t i = 0; i < o->via.array.size; i++)
    {
      const msgpack_object *x = &o->via.array.ptr[i];
      if (x->type != MSGPACK_OBJECT_STR)
        return MUSTER_EPROTO;
      if ((out->v[out->n] = dup_str (x)) == NULL)
        return -ENOMEM;
      out->n++;
    }
  return 0;
}

static int
dec_strmap (const msgpack_object *o, mu_strmap_t *out)
{
  if (o == NULL)
    return 0;
  if (o->type != MSGPACK_OBJECT_MAP)
    return MUSTER_EPROTO;
  if (o->via.map.size == 0)
    return 0;
  out->keys = calloc (o->via.map.size, sizeof *out->keys);
  out->vals = calloc (o->via.map.size, sizeof *out->vals);
  if (out->keys == NULL || out->vals == NULL)
    return -ENOMEM;
  for (uint32_t i = 0; i < o->via.map.size; i++)
    {
      const msgpack_object_kv *kv = &o->via.map.ptr[i];
      if (kv->key.type != MSGPACK_OBJECT_STR
          || kv->val.type != MSGPACK_OBJECT_STR)
        return MUSTER_EPROTO;
      if ((out->keys[out->n] = dup_str (&kv->key)) == NULL)
        return -ENOMEM;
      if ((out->vals[out->n] = dup_str (&kv->val)) == NULL)
        {
          free (out->keys[out->n]);
          return -ENOMEM;
        }
      out->n++;
    }
  return 0;
}

int
mu_jdec_spec (const msgpack_object *o, mu_job_spec_t **out)
{
  *out = NULL;
  if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
    return MUSTER_EPROTO;
  mu_job_spec_t *s = calloc (1, sizeof *s);
  if (s == NULL)
    return -ENOMEM;
  int rc = mu_jget_str (o, "id", &s->id) == 0 ? 0 : MUSTER_EPROTO;
  const msgpack_object *roles = mu_jget (o, "roles");
  const msgpack_object *argv = mu_jget (o, "argv");
  const msgpack_object *env = mu_jget (o, "env");
  if (rc == 0
      && (roles == NULL || roles->type != MSGPACK_OBJECT_ARRAY
          || roles->via.array.size == 0 || argv == NULL
          || argv->type != MSGPACK_OBJECT_ARRAY
          || (env != NULL && env->type != MSGPACK_OBJECT_MAP)))
    rc = MUSTER_EPROTO;
  if (rc == 0)
    {
      s->roles.n = roles->via.array.size;
      s->roles.v = calloc (s->roles.n, sizeof *s->roles.v);
      s->argv.n = argv->via.array.size;
      s->argv.v = calloc (s->argv.n ? s->argv.n : 1, sizeof *s->argv.v);
      if (s->roles.v == NULL || s->argv.v == NULL)
        rc = -ENOMEM;
    }
  for (size_t i = 0; rc == 0 && i < s->roles.n; i++)
    {
      const msgpack_object *r = &roles->via.array.ptr[i];
      mu_role_spec_t *rs = &s->roles.v[i];
      if (mu_jget_str (r, "name", &rs->name) != 0
          || mu_jget_u64 (r, "min_nodes", &rs->min_nodes) < 0
          || mu_jget_u64 (r, "max_nodes", &rs->max_nodes) != 0
          || mu_jget_u64 (r, "nproc", &rs->nproc) != 0
          || mu_jget_u64 (r, "slots", &rs->slots) < 0)
        rc = MUSTER_EPROTO;
      if (rc == 0) /* schedwire: labels, the role's argv and env */
        rc = dec_strlist (mu_jget (r, "labels"), &rs->labels);
      if (rc == 0)
        rc = dec_strlist (mu_jget (r, "argv"), &rs->argv);
      if (rc == 0)
        rc = dec_strmap (mu_jget (r, "env"), &rs->env);
    }
  for (size_t i = 0; rc == 0 && i < s->argv.n; i++)
    {
      const msgpack_object *a = &argv->via.array.ptr[i];
      if (a->type != MSGPACK_OBJECT_STR)
        rc = MUSTER_EPROTO;
      else if ((s->argv.v[i] = dup_str (a)) == NULL)
        rc = -ENOMEM;
    }
  if (rc == 0 && env != NULL && env->via.map.size > 0)
    {
      s->env.n = env->via.map.size;
      s->env.keys = calloc (s->env.n, sizeof *s->env.keys);
      s->env.vals = calloc (s->env.n, sizeof *s->env.vals);
      if (s->env.keys == NULL || s->env.vals == NULL)
        rc = -ENOMEM;
      for (size_t i = 0; rc == 0 && i < s->env.n; i++)
        {
          const msgpack_object_kv *kv = &env->via.map.ptr[i];
          if (kv->key.type != MSGPACK_OBJECT_STR
              || kv->val.type != MSGPACK_OBJECT_STR)
            rc = MUSTER_EPROTO;
          else if ((s->env.keys[i] = dup_str (&kv->key)) == NULL
                   || (s->env.vals[i] = dup_str (&kv->val)) == NULL)
            rc = -ENOMEM;
        }
    }
  for (size_t i = 0; rc == 0 && i < NELEM (spec_u64); i++)
    if (mu_jget_u64 (o, spec_u64[i].name,
                     (uint64_t *)((char *)s + spec_u64[i].off))
        < 0)
      rc = MUSTER_EPROTO;
  for (size_t i = 0; rc == 0 && i < NELEM (spec_str); i++)
    if (mu_jget_str (o, spec_str[i].name,
                     (char **)((char *)s + spec_str[i].off))
        < 0)
      rc = MUSTER_EPROTO;
  uint64_t resume = 0;
  if (rc == 0 && mu_jget_u64 (o, "resume", &resume) < 0)
    rc = MUSTER_EPROTO;
  s->resume = resume != 0;
  uint64_t mpi = 0; /* mpi: muster run --mpi */
  if (rc == 0 && mu_jget_u64 (o, "mpi", &mpi) < 0)
    rc = MUSTER_EPROTO;
  s->mpi = mpi != 0;
  if (rc == 0 && mu_jget_i64 (o, "priority", &s->priority) < 0) /* schedwire */
    rc = MUSTER_EPROTO;
  if (rc != 0)
    {
      mu_job_spec_free (&s);
      return rc;
    }
  *out = s;
  return 0;
}
