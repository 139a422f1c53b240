/*
 * journal_records.c — building each kind of journal record (declared in
 * journal_image.h) from a job image, with journal_codec.c's writer.  Only
 * the fields a kind declares are written; empty strings are left out and
 * read back as absent.
 */
#include "coordinator/journal_image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/journal_codec.h"

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
