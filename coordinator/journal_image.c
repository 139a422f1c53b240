/*
 * journal_image.c — the journal's records (see journal_image.h): building
 * each kind from a job image, and the pure replay machine that applies
 * them to an image of the job table, plus its canonical JSON dump.
 *
 * The machine takes records and changes nothing but the image: no clock,
 * no I/O (the dump writes to the FILE it is given).  A record that does not
 * fit (unknown kind, missing field, a job that does not exist) is an error
 * naming the record, never silently skipped: replay equality depends on
 * every record meaning exactly one thing.
 */
#include "coordinator/journal_image.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/journal_codec.h"

#include <msgpack.h>

/* ----------------------------------------------------------- lifecycle */

int
mu_jimage_init (mu_jimage_t *img)
{
  img->seq = 0;
  img->jobs = mu_smap_new ();
  img->zone = msgpack_zone_new (MSGPACK_ZONE_CHUNK_SIZE);
  if (img->jobs == NULL || img->zone == NULL)
    {
      mu_smap_destroy (&img->jobs);
      if (img->zone != NULL)
        msgpack_zone_free (img->zone);
      img->zone = NULL;
      return -ENOMEM;
    }
  return 0;
}

static void
members_free (mu_jjob_t *jj)
{
  for (size_t i = 0; i < jj->nmembers; i++)
    {
      free (jj->members[i].node);
      free (jj->members[i].pub);
      free (jj->members[i].host);
    }
  free (jj->members);
  jj->members = NULL;
  jj->nmembers = 0;
}

static void
failure_clear (mu_jfailure_t *f)
{
  free (f->node);
  free (f->reason);
  memset (f, 0, sizeof *f);
}

void
mu_jjob_free (mu_jjob_t *jj)
{
  if (jj == NULL)
    return;
  mu_job_spec_free (&jj->spec);
  free (jj->owner);
  free (jj->reason);
  free (jj->epoch_reason);
  free (jj->ckpt_dir);
  members_free (jj);
  failure_clear (&jj->failure);
  free (jj);
}

void
mu_jimage_free (mu_jimage_t *img)
{
  if (img->zone != NULL)
    msgpack_zone_free (img->zone);
  img->zone = NULL;
  if (img->jobs == NULL)
    return;
  size_t pos = 0;
  void *val;
  while (mu_smap_next (img->jobs, &pos, NULL, &val))
    mu_jjob_free (val);
  mu_smap_destroy (&img->jobs);
}

/* ------------------------------------------------------------ encoding */

static void
enc_counters (mu_jenc_t *e, const mu_jjob_t *jj)
{
  mu_jenc_u64 (e, "restarts", jj->restarts);
  mu_jenc_u64 (e, "user_failures", jj->user_failures);
  mu_jenc_u64 (e, "infra_failures", jj->infra_failures);
  mu_jenc_str (e, "epoch_reason", jj->epoch_reason);
}

static void
enc_members (mu_jenc_t *e, const mu_jjob_t *jj, int with_exits)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init (&sb);
  msgpack_packer pk;
  msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
  int rc = msgpack_pack_array (&pk, jj->nmembers);
  for (size_t i = 0; rc == 0 && i < jj->nmembers; i++)
    {
      const mu_jmember_t *m = &jj->members[i];
      mu_jenc_t me;
      mu_jenc_init (&me);
      mu_jenc_str (&me, "node", m->node);
      mu_jenc_str (&me, "pub", m->pub ? m->pub : "");
      mu_jenc_str (&me, "host", m->host ? m->host : "");
      mu_jenc_u64 (&me, "port_base", m->port_base);
      mu_jenc_u64 (&me, "role", m->role);
      mu_jenc_u64 (&me, "node_rank", m->node_rank);
      mu_jenc_u64 (&me, "first_rank", m->first_rank);
      mu_jenc_u64 (&me, "role_first_rank", m->role_first_rank);
      mu_jenc_u64 (&me, "nproc", m->nproc);
      if (with_exits)
        mu_jenc_u64 (&me, "exited", m->exited);
      char *b;
      size_t l;
      rc = mu_jenc_finish (&me, &b, &l);
      if (rc == 0)
        {
          rc = msgpack_sbuffer_write (&sb, b, l);
          free (b);
        }
    }
  if (rc != 0)
    e->rc = -ENOMEM;
  mu_jenc_raw (e, "members", sb.data, sb.size);
  msgpack_sbuffer_destroy (&sb);
}

static void
enc_spec (mu_jenc_t *e, const mu_jjob_t *jj)
{
  char *b;
  size_t l;
  if (mu_jenc_spec (jj->spec, &b, &l) != 0)
    {
      e->rc = -ENOMEM;
      return;
    }
  mu_jenc_raw (e, "spec", b, l);
  free (b);
}

static void
enc_failure (mu_jenc_t *e, const mu_jfailure_t *f)
{
  if (!f->set)
    return;
  mu_jenc_t fe;
  mu_jenc_init (&fe);
  mu_jenc_i64 (&fe, "rank", f->rank);
  mu_jenc_str (&fe, "node", f->node);
  mu_jenc_i64 (&fe, "exit_code", f->exit_code);
  mu_jenc_i64 (&fe, "signal", f->signal);
  mu_jenc_str (&fe, "reason", f->reason);
  char *b;
  size_t l;
  if (mu_jenc_finish (&fe, &b, &l) != 0)
    {
      e->rc = -ENOMEM;
      return;
    }
  mu_jenc_raw (e, "failure", b, l);
  free (b);
}

static void
enc_owner (mu_jenc_t *e, const mu_jjob_t *jj)
{
  enc_spec (e, jj);
  mu_jenc_u64 (e, "uid", jj->uid);
  mu_jenc_u64 (e, "gid", jj->gid);
  mu_jenc_str (e, "owner", jj->owner ? jj->owner : "");
  mu_jenc_u64 (e, "submitted", (uint64_t)jj->submitted);
}

int
mu_jrec_created (const char *id, const mu_jjob_t *jj, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "created", id);
  enc_owner (&e, jj);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_state (const char *id, const char *state, const char *final,
               const char *reason, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "state", id);
  mu_jenc_str (&e, "state", state);
  mu_jenc_str (&e, "final", final);
  mu_jenc_str (&e, "reason", reason);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_recover (const char *id, const mu_jjob_t *jj, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "recover", id);
  enc_counters (&e, jj);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_epoch (const char *id, const mu_jjob_t *jj, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "epoch", id);
  mu_jenc_u64 (&e, "epoch", jj->epoch);
  mu_jenc_u64 (&e, "world", jj->world);
  enc_counters (&e, jj);
  enc_members (&e, jj, 0);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_exit (const char *id, const char *node, uint64_t rank, int ok,
              char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "exit", id);
  mu_jenc_str (&e, "node", node);
  mu_jenc_u64 (&e, "rank", rank);
  mu_jenc_u64 (&e, "ok", ok != 0);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_ckpt (const char *id, uint64_t step, const char *dir,
              uint64_t created_us, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "ckpt", id);
  mu_jenc_u64 (&e, "step", step);
  mu_jenc_str (&e, "dir", dir);
  mu_jenc_u64 (&e, "created_us", created_us);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_finished (const char *id, const mu_jjob_t *jj, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "finished", id);
  mu_jenc_str (&e, "state", jj->state);
  mu_jenc_i64 (&e, "exit_code", jj->exit_code);
  mu_jenc_str (&e, "reason", jj->reason);
  enc_counters (&e, jj);
  enc_failure (&e, &jj->failure);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_retired (const char *id, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "retired", id);
  return mu_jenc_finish (&e, buf, len);
}

int
mu_jrec_image (const char *id, const mu_jjob_t *jj, char **buf, size_t *len)
{
  mu_jenc_t e;
  mu_jenc_head (&e, "image", id);
  enc_owner (&e, jj);
  mu_jenc_str (&e, "state", jj->state);
  mu_jenc_str (&e, "final", jj->final[0] ? jj->final : NULL);
  mu_jenc_str (&e, "reason", jj->reason);
  mu_jenc_u64 (&e, "epoch", jj->epoch);
  mu_jenc_u64 (&e, "world", jj->world);
  enc_counters (&e, jj);
  mu_jenc_u64 (&e, "ok_exits", jj->ok_exits);
  enc_members (&e, jj, 1);
  if (jj->ckpt_dir != NULL)
    {
      mu_jenc_u64 (&e, "ckpt_step", jj->ckpt_step);
      mu_jenc_str (&e, "ckpt_dir", jj->ckpt_dir);
      mu_jenc_u64 (&e, "ckpt_created_us", jj->ckpt_created_us);
    }
  mu_jenc_i64 (&e, "exit_code", jj->exit_code);
  enc_failure (&e, &jj->failure);
  mu_jenc_u64 (&e, "finished", jj->finish_order != 0);
  return mu_jenc_finish (&e, buf, len);
}

/* ------------------------------------------------------------ decoding */

typedef struct dctx {
  const char *kind;
  const char *id;
  char *err;
  size_t errlen;
} dctx_t;

static int
bad (dctx_t *d, const char *what)
{
  snprintf (d->err, d->errlen, "journal record %s of job %s: %s", d->kind,
            d->id ? d->id : "?", what);
  return MUSTER_EPROTO;
}

static int
need_u64 (dctx_t *d, const msgpack_object *o, const char *k, uint64_t *out)
{
  char what[96];
  if (mu_jget_u64 (o, k, out) == 0)
    return 0;
  snprintf (what, sizeof what, "field %s missing or not an unsigned integer", k);
  return bad (d, what);
}

static int
opt_str (dctx_t *d, const msgpack_object *o, const char *k, char **slot)
{
  char *s;
  int rc = mu_jget_str (o, k, &s);
  if (rc < 0)
    {
      char what[96];
      snprintf (what, sizeof what, "field %s is not a string", k);
      return rc == -ENOMEM ? rc : bad (d, what);
    }
  free (*slot);
  *slot = s;
  return 0;
}

static int
set_name (dctx_t *d, const msgpack_object *o, const char *k, char *buf,
          size_t cap, int required)
{
  char *s = NULL;
  int rc = mu_jget_str (o, k, &s);
  if (rc == 1 && !required)
    {
      buf[0] = '\0';
      return 0;
    }
  if (rc != 0 || strlen (s) >= cap)
    {
      free (s);
      char what[96];
      snprintf (what, sizeof what, "field %s missing or not a state name", k);
      return bad (d, what);
    }
  mu_strlcpy (buf, s, cap);
  free (s);
  return 0;
}

static int
dec_counters (dctx_t *d, const msgpack_object *o, mu_jjob_t *jj)
{
  int rc = need_u64 (d, o, "restarts", &jj->restarts);
  if (rc == 0)
    rc = need_u64 (d, o, "user_failures", &jj->user_failures);
  if (rc == 0)
    rc = need_u64 (d, o, "infra_failures", &jj->infra_failures);
  if (rc == 0)
    rc = opt_str (d, o, "epoch_reason", &jj->epoch_reason);
  return rc;
}

static int
dec_members (dctx_t *d, const msgpack_object *o, mu_jjob_t *jj)
{
  members_free (jj);
  const msgpack_object *a = mu_jget (o, "members");
  if (a == NULL || a->type != MSGPACK_OBJECT_ARRAY)
    return bad (d, "field members missing or not an array");
  if (a->via.array.size == 0)
    return 0;
  jj->members = calloc (a->via.array.size, sizeof *jj->members);
  if (jj->members == NULL)
    return -ENOMEM;
  jj->nmembers = a->via.array.size;
  for (size_t i = 0; i < jj->nmembers; i++)
    {
      const msgpack_object *x = &a->via.array.ptr[i];
      mu_jmember_t *m = &jj->members[i];
      uint64_t role, rank, nproc, exited;
      if (mu_jget_str (x, "node", &m->node) != 0
          || mu_jget_str (x, "pub", &m->pub) != 0
          || mu_jget_str (x, "host", &m->host) != 0
          || mu_jget_u64 (x, "port_base", &m->port_base) != 0
          || mu_jget_u64 (x, "role", &role) != 0
          || mu_jget_u64 (x, "node_rank", &rank) != 0
          || mu_jget_u64 (x, "first_rank", &m->first_rank) != 0
          || mu_jget_u64 (x, "role_first_rank", &m->role_first_rank) != 0
          || mu_jget_u64 (x, "nproc", &nproc) != 0
          || mu_jget_u64 (x, "exited", &exited) < 0 || role > UINT32_MAX
          || rank > UINT32_MAX || nproc > UINT32_MAX || exited > nproc)
        return bad (d, "a member is missing a field or out of range");
      m->role = (uint32_t)role;
      m->node_rank = (uint32_t)rank;
      m->nproc = (uint32_t)nproc;
      m->exited = (uint32_t)exited;
    }
  return 0;
}

static int
dec_failure (dctx_t *d, const msgpack_object *o, mu_jfailure_t *f)
{
  failure_clear (f);
  const msgpack_object *x = mu_jget (o, "failure");
  if (x == NULL)
    return 0;
  if (mu_jget_i64 (x, "rank", &f->rank) != 0
      || mu_jget_str (x, "node", &f->node) < 0
      || mu_jget_i64 (x, "exit_code", &f->exit_code) != 0
      || mu_jget_i64 (x, "signal", &f->signal) != 0
      || mu_jget_str (x, "reason", &f->reason) < 0)
    return bad (d, "field failure is malformed");
  f->set = 1;
  return 0;
}

static int
dec_owner (dctx_t *d, const msgpack_object *o, mu_jjob_t *jj)
{
  uint64_t uid, gid, sub;
  int rc = mu_jdec_spec (mu_jget (o, "spec"), &jj->spec);
  if (rc != 0)
    return rc == -ENOMEM ? rc : bad (d, "field spec missing or malformed");
  if (strcmp (jj->spec->id, d->id) != 0)
    return bad (d, "the spec names another job");
  if ((rc = need_u64 (d, o, "uid", &uid)) != 0
      || (rc = need_u64 (d, o, "gid", &gid)) != 0
      || (rc = need_u64 (d, o, "submitted", &sub)) != 0
      || (rc = opt_str (d, o, "owner", &jj->owner)) != 0)
    return rc;
  if (uid > UINT32_MAX || gid > UINT32_MAX)
    return bad (d, "uid or gid out of range");
  jj->uid = (uint32_t)uid;
  jj->gid = (uint32_t)gid;
  jj->submitted = sub != 0;
  return 0;
}

static int
apply_image (dctx_t *d, const msgpack_object *o, mu_jjob_t *jj)
{
  uint64_t fin = 0;
  int rc = dec_owner (d, o, jj);
  if (rc == 0)
    rc = set_name (d, o, "state", jj->state, sizeof jj->state, 1);
  if (rc == 0)
    rc = set_name (d, o, "final", jj->final, sizeof jj->final, 0);
  if (rc == 0)
    rc = opt_str (d, o, "reason", &jj->reason);
  if (rc == 0)
    rc = need_u64 (d, o, "epoch", &jj->epoch);
  if (rc == 0)
    rc = need_u64 (d, o, "world", &jj->world);
  if (rc == 0)
    rc = dec_counters (d, o, jj);
  if (rc == 0)
    rc = need_u64 (d, o, "ok_exits", &jj->ok_exits);
  if (rc == 0)
    rc = dec_members (d, o, jj);
  if (rc == 0 && mu_jget (o, "ckpt_dir") != NULL)
    {
      rc = opt_str (d, o, "ckpt_dir", &jj->ckpt_dir);
      if (rc == 0)
        rc = need_u64 (d, o, "ckpt_step", &jj->ckpt_step);
      if (rc == 0)
        rc = need_u64 (d, o, "ckpt_created_us", &jj->ckpt_created_us);
    }
  if (rc == 0 && mu_jget_i64 (o, "exit_code", &jj->exit_code) != 0)
    rc = bad (d, "field exit_code missing");
  if (rc == 0)
    rc = dec_failure (d, o, &jj->failure);
  if (rc == 0)
    rc = need_u64 (d, o, "finished", &fin);
  jj->finish_order = fin;
  return rc;
}

/* Only a running epoch keeps its membership in the image. */
static void
set_state (mu_jjob_t *jj, const char *state)
{
  mu_strlcpy (jj->state, state, sizeof jj->state);
  if (strcmp (state, "running") != 0)
    members_free (jj);
  if (strcmp (state, "stopping") != 0)
    jj->final[0] = '\0';
}

static int
is_finished_state (const char *s)
{
  return strcmp (s, "succeeded") == 0 || strcmp (s, "failed") == 0
         || strcmp (s, "cancelled") == 0 || strcmp (s, "suspended") == 0;
}

static int
apply_obj (mu_jimage_t *img, dctx_t *d, const msgpack_object *o)
{
  mu_jjob_t *jj = mu_smap_get (img->jobs, d->id);
  const char *k = d->kind;
  int rc = 0;
  if (strcmp (k, "created") == 0 || strcmp (k, "image") == 0)
    {
      mu_jjob_t *nj = calloc (1, sizeof *nj);
      if (nj == NULL)
        return -ENOMEM;
      nj->exit_code = -1;
      mu_strlcpy (nj->state, "pending", sizeof nj->state);
      rc = k[0] == 'c' ? dec_owner (d, o, nj) : apply_image (d, o, nj);
      if (rc != 0)
        {
          mu_jjob_free (nj);
          return rc;
        }
      nj->order = ++img->seq;
      if (nj->finish_order != 0)
        nj->finish_order = ++img->seq;
      /* A job created under the id of a finished one replaces it. */
      mu_jjob_t *old = NULL;
      if (mu_smap_put (img->jobs, nj->spec->id, nj, (void **)&old) != 0)
        {
          mu_jjob_free (nj);
          return -ENOMEM;
        }
      mu_jjob_free (old);
      return 0;
    }
  if (jj == NULL)
    return bad (d, "no such job (a record before its job was created)");
  if (strcmp (k, "state") == 0)
    {
      char state[16], final[16];
      if ((rc = set_name (d, o, "state", state, sizeof state, 1)) != 0
          || (rc = set_name (d, o, "final", final, sizeof final, 0)) != 0)
        return rc;
      if (mu_jget (o, "reason") != NULL
          && (rc = opt_str (d, o, "reason", &jj->reason)) != 0)
        return rc;
      if (jj->finish_order != 0 && !is_finished_state (state))
        jj->finish_order = 0; /* resumed */
      set_state (jj, state);
      mu_strlcpy (jj->final, final, sizeof jj->final);
    }
  else if (strcmp (k, "recover") == 0)
    rc = dec_counters (d, o, jj);
  else if (strcmp (k, "epoch") == 0)
    {
      if ((rc = need_u64 (d, o, "epoch", &jj->epoch)) == 0
          && (rc = need_u64 (d, o, "world", &jj->world)) == 0
          && (rc = dec_counters (d, o, jj)) == 0)
        rc = dec_members (d, o, jj);
      jj->ok_exits = 0;
      failure_clear (&jj->failure);
      set_state (jj, "running");
    }
  else if (strcmp (k, "exit") == 0)
    {
      char *node = NULL;
      uint64_t rank, ok;
      if (mu_jget_str (o, "node", &node) != 0
          || mu_jget_u64 (o, "rank", &rank) != 0
          || mu_jget_u64 (o, "ok", &ok) != 0)
        {
          free (node);
          return bad (d, "fields node, rank and ok are needed");
        }
      for (size_t i = 0; i < jj->nmembers; i++)
        if (strcmp (jj->members[i].node, node) == 0
            && jj->members[i].exited < jj->members[i].nproc)
          {
            jj->members[i].exited++;
            break;
          }
      if (ok)
        jj->ok_exits++;
      free (node);
    }
  else if (strcmp (k, "ckpt") == 0)
    {
      if ((rc = need_u64 (d, o, "step", &jj->ckpt_step)) == 0
          && (rc = need_u64 (d, o, "created_us", &jj->ckpt_created_us)) == 0)
        rc = opt_str (d, o, "dir", &jj->ckpt_dir);
      if (rc == 0 && jj->ckpt_dir == NULL)
        rc = bad (d, "field dir missing");
    }
  else if (strcmp (k, "finished") == 0)
    {
      char state[16];
      if ((rc = set_name (d, o, "state", state, sizeof state, 1)) != 0)
        return rc;
      if (!is_finished_state (state))
        return bad (d, "state is not an end state");
      if (mu_jget_i64 (o, "exit_code", &jj->exit_code) != 0)
        return bad (d, "field exit_code missing");
      if ((rc = opt_str (d, o, "reason", &jj->reason)) != 0
          || (rc = dec_counters (d, o, jj)) != 0
          || (rc = dec_failure (d, o, &jj->failure)) != 0)
        return rc;
      set_state (jj, state);
      jj->finish_order = ++img->seq;
    }
  else if (strcmp (k, "retired") == 0)
    {
      mu_smap_del (img->jobs, d->id);
      mu_jjob_free (jj);
    }
  else
    return bad (d, "unknown record kind");
  return rc;
}

int
mu_jimage_apply (mu_jimage_t *img, const void *rec, size_t len, char *err,
                 size_t errlen)
{
  /* One zone for every record of a replay: cleared, not reallocated. */
  msgpack_zone *zone = img->zone;
  msgpack_object obj;
  size_t off = 0;
  char kind[32] = "?";
  char id[160] = "?";
  dctx_t d = { .kind = kind, .id = id, .err = err, .errlen = errlen };
  int rc;
  if (msgpack_unpack (rec, len, &off, zone, &obj) != MSGPACK_UNPACK_SUCCESS
      || off != len || obj.type != MSGPACK_OBJECT_MAP)
    {
      rc = bad (&d, "not one msgpack map");
      goto out;
    }
  uint64_t v;
  if (mu_jget_u64 (&obj, "v", &v) != 0)
    {
      rc = bad (&d, "no format version");
      goto out;
    }
  if (v != MU_JREC_VERSION)
    {
      snprintf (err, errlen, "journal record format version %" PRIu64
                "; this musterd reads version %d", v, MU_JREC_VERSION);
      rc = MUSTER_EVERSION;
      goto out;
    }
  char *t = NULL, *jid = NULL;
  if (mu_jget_str (&obj, "t", &t) != 0 || mu_jget_str (&obj, "id", &jid) != 0)
    {
      free (t);
      free (jid);
      rc = bad (&d, "no kind or job id");
      goto out;
    }
  mu_strlcpy (kind, t, sizeof kind);
  mu_strlcpy (id, jid, sizeof id);
  free (t);
  free (jid);
  rc = apply_obj (img, &d, &obj);
out:
  msgpack_zone_clear (zone);
  return rc;
}

/* ---------------------------------------------------------------- dump */

static void
json_str (FILE *f, const char *s)
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
      else if (*p < 0x20)
        fprintf (f, "\\u%04x", *p);
      else
        fputc (*p, f);
    }
  fputc ('"', f);
}

static void
dump_spec (FILE *f, const mu_job_spec_t *s)
{
  fputs ("{\"argv\":[", f);
  for (size_t i = 0; i < s->argv.n; i++)
    {
      if (i)
        fputc (',', f);
      json_str (f, s->argv.v[i]);
    }
  fputs ("],\"roles\":[", f);
  for (size_t i = 0; i < s->roles.n; i++)
    fprintf (f, "%s{\"name\":\"%s\",\"min\":%" PRIu64 ",\"max\":%" PRIu64
             ",\"nproc\":%" PRIu64 "}", i ? "," : "", s->roles.v[i].name,
             s->roles.v[i].min_nodes, s->roles.v[i].max_nodes,
             s->roles.v[i].nproc);
  fputs ("],\"ckpt_dir\":", f);
  json_str (f, s->ckpt_dir);
  fprintf (f, ",\"max_restarts\":%" PRIu64 ",\"elastic_mode\":", s->max_restarts);
  json_str (f, s->elastic_mode);
  fprintf (f, ",\"env\":%zu}", s->env.n);
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

void
mu_jimage_dump (const mu_jimage_t *img, FILE *f)
{
  size_t n = mu_smap_size (img->jobs), k = 0;
  const char **ids = calloc (n ? n : 1, sizeof *ids);
  if (ids == NULL)
    return;
  size_t pos = 0;
  const char *id;
  while (mu_smap_next (img->jobs, &pos, &id, NULL))
    ids[k++] = id;
  qsort (ids, k, sizeof *ids, cmp_str);
  fputs ("{\"jobs\":[\n", f);
  for (size_t i = 0; i < k; i++)
    {
      const mu_jjob_t *jj = mu_smap_get (img->jobs, ids[i]);
      fputs ("{\"id\":", f);
      json_str (f, ids[i]);
      fputs (",\"owner\":", f);
      json_str (f, jj->owner);
      fprintf (f, ",\"uid\":%u,\"gid\":%u,\"submitted\":%d,\"state\":\"%s\"",
               jj->uid, jj->gid, jj->submitted, jj->state);
      if (jj->final[0])
        fprintf (f, ",\"final\":\"%s\"", jj->final);
      fputs (",\"reason\":", f);
      json_str (f, jj->reason);
      fprintf (f, ",\"epoch\":%" PRIu64 ",\"world\":%" PRIu64
               ",\"restarts\":%" PRIu64 ",\"user_failures\":%" PRIu64
               ",\"infra_failures\":%" PRIu64 ",\"ok_exits\":%" PRIu64,
               jj->epoch, jj->world, jj->restarts, jj->user_failures,
               jj->infra_failures, jj->ok_exits);
      fputs (",\"epoch_reason\":", f);
      json_str (f, jj->epoch_reason);
      fputs (",\"members\":[", f);
      for (size_t m = 0; m < jj->nmembers; m++)
        {
          const mu_jmember_t *x = &jj->members[m];
          fprintf (f, "%s{\"node\":", m ? "," : "");
          json_str (f, x->node);
          fputs (",\"host\":", f);
          json_str (f, x->host);
          fprintf (f, ",\"port_base\":%" PRIu64 ",\"role\":%u,\"node_rank\":%u"
                   ",\"first_rank\":%" PRIu64 ",\"role_first_rank\":%" PRIu64
                   ",\"nproc\":%u,\"exited\":%u}", x->port_base, x->role,
                   x->node_rank, x->first_rank, x->role_first_rank, x->nproc,
                   x->exited);
        }
      fputs ("],\"ckpt\":", f);
      if (jj->ckpt_dir != NULL)
        {
          fprintf (f, "{\"step\":%" PRIu64 ",\"created_us\":%" PRIu64
                   ",\"dir\":", jj->ckpt_step, jj->ckpt_created_us);
          json_str (f, jj->ckpt_dir);
          fputc ('}', f);
        }
      else
        fputs ("null", f);
      fprintf (f, ",\"exit_code\":%" PRId64 ",\"failure\":", jj->exit_code);
      if (jj->failure.set)
        {
          fprintf (f, "{\"rank\":%" PRId64 ",\"exit_code\":%" PRId64
                   ",\"signal\":%" PRId64 ",\"node\":", jj->failure.rank,
                   jj->failure.exit_code, jj->failure.signal);
          json_str (f, jj->failure.node);
          fputs (",\"reason\":", f);
          json_str (f, jj->failure.reason);
          fputc ('}', f);
        }
      else
        fputs ("null", f);
      fputs (",\"spec\":", f);
      dump_spec (f, jj->spec);
      fprintf (f, "}%s\n", i + 1 < k ? "," : "");
    }
  fputs ("]}\n", f);
  free (ids);
}
