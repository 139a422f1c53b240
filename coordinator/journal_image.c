/*
 * journal_image.c — the pure replay machine that applies the journal's
 * records (journal_image.h) to an image of the job table.  The records
 * are built in journal_records.c and the image printed in
 * journal_dump.c.
 *
 * The machine takes records and changes nothing but the image: no clock,
 * no I/O.  A record that does not fit (unknown kind, missing field, a job
 * that does not exist) is an error naming the record, never silently
 * skipped: replay equality depends on every record meaning exactly one
 * thing.
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

/* ------------------------------------------------------------ decoding */

typedef struct dctx
{
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
  snprintf (what, sizeof what, "field %s missing or not an unsigned integer",
            k);
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
      snprintf (err, errlen,
                "journal record format version %" PRIu64
                "; this musterd reads version %d",
                v, MU_JREC_VERSION);
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
