/*
 * commit.c — the two-phase commit state machine (rules C1-C9 in commit.h).
 *
 * DESIGN.  An attempt is an array of `world` shard records indexed by rank,
 * allocated by begin; a rank has acked when its record has a file name.
 * So an ack is O(1) (plus copying two short strings), and the missing count
 * is kept as acks arrive; only a timeout or a loss walks the array, to name
 * the missing ranks.  When the last shard arrives the array already is the
 * manifest's shard list sorted by rank: the manifest is built around it
 * (roles copied from begin, or derived from the shards with one sort) and
 * checked with mu_manifest_check, so a set of acks that cannot form a
 * valid checkpoint (two ranks naming the same file, role ranks that do not
 * add up, PS shards that do not tile the buckets) aborts here instead of
 * producing a MANIFEST that every restore would reject.
 *
 * Every event validates its input completely before changing anything, and
 * allocates (copies of an ack's strings) before the state changes, so a
 * failed event leaves the machine as it was.  The attempt's memory is
 * released when it ends, except that a WRITING attempt keeps it until
 * _written, because the caller may be encoding the manifest on another
 * thread (C8).
 */
#include "checkpoint/commit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

typedef unsigned long long ull;

struct mu_ckpt_commit
{
  char *job;
  mu_ckpt_state_t state;
  uint64_t epoch;     /* newest epoch known */
  uint64_t step;      /* step of the attempt (in flight or last) */
  uint64_t att_epoch; /* epoch of the attempt */
  uint64_t world;
  uint64_t missing;
  uint64_t deadline; /* absolute; 0 = none */
  bool has_committed;
  uint64_t committed_step;

  mu_shard_info_t *shards; /* world records, by rank */
  mu_role_world_t *roles;  /* copied from begin, or derived */
  size_t nroles;
  uint64_t nbuckets;
  mu_ckpt_manifest_t man; /* WRITING: built around shards and roles */

  char reason[512];
};

/* ---------------------------------------------------------------- helpers */

static void
roles_free (mu_role_world_t *roles, size_t n)
{
  for (size_t i = 0; roles && i < n; i++)
    free (roles[i].name);
  free (roles);
}

static void
attempt_free (mu_ckpt_commit_t *c)
{
  for (uint64_t i = 0; c->shards && i < c->world; i++)
    mu_shard_info_clear (&c->shards[i]);
  free (c->shards);
  c->shards = NULL;
  roles_free (c->roles, c->nroles);
  c->roles = NULL;
  c->nroles = 0;
  free (c->man.job);
  memset (&c->man, 0, sizeof c->man);
  c->missing = 0;
  c->deadline = 0;
}

static bool
in_flight (const mu_ckpt_commit_t *c)
{
  return c->state == MU_CKPT_COLLECTING || c->state == MU_CKPT_WRITING;
}

static void
fill (mu_ckpt_commit_t *c, mu_ckpt_action_t a, mu_ckpt_decision_t *d)
{
  if (!d)
    return;
  memset (d, 0, sizeof *d);
  d->action = a;
  if (!c)
    return;
  d->step = c->step;
  d->epoch = c->att_epoch;
  d->deadline_ms = c->state == MU_CKPT_COLLECTING ? c->deadline : 0;
  if (a == MU_CKPT_D_WRITE_MANIFEST)
    d->manifest = &c->man;
}

static int
abort_attempt (mu_ckpt_commit_t *c, int status, mu_ckpt_decision_t *d)
{
  attempt_free (c);
  c->state = MU_CKPT_ABORTED;
  fill (c, MU_CKPT_D_ABORTED, d);
  d->status = status < 0 ? status : MUSTER_ECANCELED;
  d->reason = c->reason;
  return 0;
}

/* Append to c->reason the unacked ranks in [lo, hi) as "3, 7, 10-15",
 * stopping with ", ..." when the buffer runs short; returns how many. */
static uint64_t
list_missing (mu_ckpt_commit_t *c, uint64_t lo, uint64_t hi, size_t *len)
{
  size_t cap = sizeof c->reason - 48; /* room for the tail */
  uint64_t count = 0;
  bool full = false;
  for (uint64_t r = lo; r < hi && r < c->world;)
    {
      if (c->shards[r].file)
        {
          r++;
          continue;
        }
      uint64_t e = r;
      while (e + 1 < hi && e + 1 < c->world && !c->shards[e + 1].file)
        e++;
      count += e - r + 1;
      if (!full)
        {
          char item[48];
          if (e == r)
            snprintf (item, sizeof item, "%s%llu", count > 1 ? ", " : "",
                      (ull)r);
          else
            snprintf (item, sizeof item, "%s%llu-%llu",
                      count > e - r + 1 ? ", " : "", (ull)r, (ull)e);
          size_t k = strlen (item);
          if (*len + k < cap)
            {
              memcpy (c->reason + *len, item, k + 1);
              *len += k;
            }
          else
            {
              snprintf (c->reason + *len, sizeof c->reason - *len, ", ...");
              *len += strlen (c->reason + *len);
              full = true;
            }
        }
      r = e + 1;
    }
  return count;
}

/* "rank 3" or "ranks 3, 7" at the start of c->reason after `prefix`;
 * returns the count and the length written. */
static uint64_t
reason_ranks (mu_ckpt_commit_t *c, const char *prefix, uint64_t lo, uint64_t hi,
              size_t *len)
{
  /* Count first to choose "rank" or "ranks". */
  uint64_t n = 0;
  for (uint64_t r = lo; r < hi && r < c->world; r++)
    n += c->shards[r].file == NULL;
  bool plural = n > 1;
  int k = snprintf (c->reason, sizeof c->reason, "%s%s ", prefix,
                    plural ? "ranks" : "rank");
  *len = k > 0 ? (size_t)k : 0;
  list_missing (c, lo, hi, len);
  return n;
}

/* ------------------------------------------------------------- lifecycle */

int
mu_ckpt_commit_new (const char *job, mu_ckpt_commit_t **out)
{
  if (!out || !mu_ckpt_job_ok (job))
    return MUSTER_EINVAL;
  mu_ckpt_commit_t *c = calloc (1, sizeof *c);
  if (!c)
    return -ENOMEM;
  if (!(c->job = strdup (job)))
    {
      free (c);
      return -ENOMEM;
    }
  c->state = MU_CKPT_IDLE;
  *out = c;
  return 0;
}

void
mu_ckpt_commit_destroy (mu_ckpt_commit_t **c_p)
{
  if (!c_p || !*c_p)
    return;
  mu_ckpt_commit_t *c = *c_p;
  attempt_free (c);
  free (c->job);
  free (c);
  *c_p = NULL;
}

/* ----------------------------------------------------------------- events */

int
mu_ckpt_commit_begin (mu_ckpt_commit_t *c, uint64_t now_ms,
                      const mu_ckpt_begin_t *b, mu_ckpt_decision_t *d)
{
  fill (c, MU_CKPT_D_NONE, d);
  if (!c || !b || !d)
    return MUSTER_EINVAL;
  if (in_flight (c))
    return MUSTER_EEXIST;
  if (c->has_committed && b->step == c->committed_step)
    return MUSTER_EEXIST;
  if (b->epoch < c->epoch)
    return MUSTER_ESTALE_EPOCH;
  if (b->world == 0 || b->world > MU_PROTO_MAX_LIST || (b->nroles && !b->roles)
      || b->nroles > MU_PROTO_MAX_LIST)
    return MUSTER_EINVAL;
  uint64_t sum = 0;
  for (size_t i = 0; i < b->nroles; i++)
    {
      if (!b->roles[i].name || !*b->roles[i].name)
        return MUSTER_EINVAL;
      sum += b->roles[i].world; /* each <= world checked next */
      if (b->roles[i].world > b->world || sum > b->world)
        return MUSTER_EINVAL;
    }
  if (b->nroles && sum != b->world)
    return MUSTER_EINVAL;

  mu_shard_info_t *shards = calloc (b->world, sizeof *shards);
  mu_role_world_t *roles = b->nroles ? calloc (b->nroles, sizeof *roles) : NULL;
  char *job = strdup (c->job);
  bool ok = shards && job && (!b->nroles || roles);
  for (size_t i = 0; ok && i < b->nroles; i++)
    {
      roles[i] = b->roles[i];
      ok = (roles[i].name = strdup (b->roles[i].name)) != NULL;
    }
  if (!ok)
    {
      free (shards);
      roles_free (roles, b->nroles);
      free (job);
      return -ENOMEM;
    }

  attempt_free (c); /* nothing is in flight; clears a finished attempt */
  c->shards = shards;
  c->roles = roles;
  c->nroles = b->nroles;
  c->man.job = job;
  c->nbuckets = b->nbuckets;
  c->world = b->world;
  c->missing = b->world;
  c->step = b->step;
  c->att_epoch = b->epoch;
  c->epoch = b->epoch;
  c->deadline = b->timeout_ms ? now_ms + b->timeout_ms : 0;
  if (c->deadline == 0 && b->timeout_ms)
    c->deadline = 1; /* now_ms + timeout wrapped to 0: fire at once */
  c->state = MU_CKPT_COLLECTING;
  c->reason[0] = '\0';
  fill (c, MU_CKPT_D_REQUEST, d);
  return 0;
}

static bool
same_shard (const mu_shard_info_t *a, const mu_shard_info_t *b)
{
  return strcmp (a->file, b->file) == 0 && strcmp (a->role, b->role) == 0
         && a->size == b->size && a->crc32c == b->crc32c
         && a->role_rank == b->role_rank && a->rank == b->rank
         && a->bucket_first == b->bucket_first
         && a->bucket_count == b->bucket_count;
}

typedef struct role_group
{
  const char *name;
  uint64_t first; /* lowest rank naming it */
  uint64_t count;
} role_group_t;

static int
cmp_name_rank (const void *a, const void *b)
{
  const role_group_t *x = a, *y = b;
  int k = strcmp (x->name, y->name);
  if (k)
    return k;
  return (x->first > y->first) - (x->first < y->first);
}

static int
cmp_first_rank (const void *a, const void *b)
{
  const role_group_t *x = a, *y = b;
  return (x->first > y->first) - (x->first < y->first);
}

/* Roles from the shards: one per distinct name, in the order of their
 * lowest rank, world = shards naming it, nodes 0 (not known here).  One
 * sort by (name, rank) groups them; a second orders the groups. */
static int
derive_roles (mu_ckpt_commit_t *c)
{
  role_group_t *g = malloc (c->world * sizeof *g);
  if (!g)
    return -ENOMEM;
  for (uint64_t r = 0; r < c->world; r++)
    g[r] = (role_group_t){ c->shards[r].role, r, 1 };
  qsort (g, c->world, sizeof *g, cmp_name_rank);
  size_t nr = 0;
  for (uint64_t i = 0; i < c->world; i++)
    if (nr > 0 && strcmp (g[i].name, g[nr - 1].name) == 0)
      g[nr - 1].count++;
    else
      g[nr++] = g[i];
  qsort (g, nr, sizeof *g, cmp_first_rank);
  mu_role_world_t *roles = calloc (nr, sizeof *roles);
  int rc = roles ? 0 : -ENOMEM;
  for (size_t i = 0; rc == 0 && i < nr; i++)
    {
      roles[i].world = g[i].count;
      if (!(roles[i].name = strdup (g[i].name)))
        rc = -ENOMEM;
    }
  free (g);
  if (rc)
    {
      roles_free (roles, nr);
      return rc;
    }
  c->roles = roles;
  c->nroles = nr;
  return 0;
}

/* All shards are in: build the manifest and check it. */
static int
assemble (mu_ckpt_commit_t *c, mu_ckpt_decision_t *d)
{
  if (c->nroles == 0)
    {
      int rc = derive_roles (c);
      if (rc)
        return rc; /* -ENOMEM: the caller sees it; the ack stays recorded */
    }
  c->man.step = c->step;
  c->man.epoch = c->att_epoch;
  c->man.world = c->world;
  c->man.created_us = 0;
  c->man.nbuckets = c->nbuckets;
  c->man.roles.v = c->roles;
  c->man.roles.n = c->nroles;
  c->man.shards.v = c->shards;
  c->man.shards.n = c->world;
  char why[300];
  int rc = mu_manifest_check (&c->man, why, sizeof why);
  if (rc == -ENOMEM)
    return rc;
  if (rc)
    {
      snprintf (c->reason, sizeof c->reason,
                "the shards do not form a valid checkpoint: %s", why);
      return abort_attempt (c, MUSTER_EPROTO, d);
    }
  c->state = MU_CKPT_WRITING;
  fill (c, MU_CKPT_D_WRITE_MANIFEST, d);
  return 0;
}

int
mu_ckpt_commit_ack (mu_ckpt_commit_t *c, uint64_t now_ms,
                    const mu_ckpt_saved_t *s, mu_ckpt_decision_t *d)
{
  (void)now_ms; /* acks carry no timing; kept for a uniform event API */
  fill (c, MU_CKPT_D_NONE, d);
  if (!c || !s || !d)
    return MUSTER_EINVAL;
  if (!s->job || strcmp (s->job, c->job) != 0)
    return MUSTER_ENOTFOUND;
  if (s->epoch < c->epoch)
    return MUSTER_ESTALE_EPOCH;
  if (!in_flight (c) || s->step != c->step || s->epoch != c->att_epoch)
    return MUSTER_ENOTFOUND;
  if (s->rank >= c->world)
    return MUSTER_EINVAL;
  const mu_shard_info_t *sh = s->shard;
  if (s->status == 0
      && (!sh || sh->rank != s->rank || !mu_shard_name_ok (sh->file)
          || !sh->role || !*sh->role))
    return MUSTER_EPROTO;

  mu_shard_info_t *slot = &c->shards[s->rank];
  if (c->state == MU_CKPT_WRITING || slot->file)
    {
      /* C3: the rank already acked (in WRITING every rank has). */
      if (s->status == 0 && same_shard (slot, sh))
        return 0;
      return MUSTER_EEXIST;
    }
  if (s->status < 0)
    {
      int k = snprintf (c->reason, sizeof c->reason,
                        "rank %llu could not save its shard: %s", (ull)s->rank,
                        muster_strerror ((int)s->status));
      if (s->error && s->error[0] && k > 0 && (size_t)k < sizeof c->reason)
        {
          /* The member's own words (untrusted): bounded, one line. */
          snprintf (c->reason + k, sizeof c->reason - (size_t)k, " (%.200s)",
                    s->error);
          for (char *p = c->reason + k; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
              *p = '?';
        }
      return abort_attempt (c, (int)s->status, d);
    }
  if (s->status > 0)
    return MUSTER_EPROTO;
  int rc = mu_shard_info_copy (slot, sh);
  if (rc)
    return rc;
  if (--c->missing > 0)
    {
      fill (c, MU_CKPT_D_NONE, d);
      return 0;
    }
  rc = assemble (c, d);
  if (rc)
    {
      /* Out of memory building the manifest: undo this ack so that the
       * machine is as before and a retransmitted ack can complete it. */
      mu_shard_info_clear (slot);
      c->missing++;
      fill (c, MU_CKPT_D_NONE, d);
    }
  return rc;
}

int
mu_ckpt_commit_written (mu_ckpt_commit_t *c, uint64_t now_ms, int status,
                        mu_ckpt_decision_t *d)
{
  (void)now_ms;
  fill (c, MU_CKPT_D_NONE, d);
  if (!c || !d)
    return MUSTER_EINVAL;
  if (c->state != MU_CKPT_WRITING)
    return MUSTER_ENOTFOUND;
  if (status < 0)
    {
      snprintf (c->reason, sizeof c->reason, "writing the MANIFEST failed: %s",
                muster_strerror (status));
      return abort_attempt (c, status, d);
    }
  attempt_free (c);
  c->state = MU_CKPT_COMMITTED;
  c->has_committed = true;
  c->committed_step = c->step;
  fill (c, MU_CKPT_D_COMMITTED, d);
  return 0;
}

int
mu_ckpt_commit_tick (mu_ckpt_commit_t *c, uint64_t now_ms,
                     mu_ckpt_decision_t *d)
{
  fill (c, MU_CKPT_D_NONE, d);
  if (!c || !d)
    return MUSTER_EINVAL;
  if (c->state != MU_CKPT_COLLECTING || c->deadline == 0
      || now_ms < c->deadline)
    return 0;
  size_t len = 0;
  uint64_t n = reason_ranks (c, "timed out waiting for ", 0, c->world, &len);
  snprintf (c->reason + len, sizeof c->reason - len, " (%llu of %llu missing)",
            (ull)n, (ull)c->world);
  return abort_attempt (c, MUSTER_ETIMEDOUT, d);
}

int
mu_ckpt_commit_lost (mu_ckpt_commit_t *c, uint64_t now_ms, uint64_t first_rank,
                     uint64_t count, mu_ckpt_decision_t *d)
{
  (void)now_ms;
  fill (c, MU_CKPT_D_NONE, d);
  if (!c || !d)
    return MUSTER_EINVAL;
  if (c->state != MU_CKPT_COLLECTING || first_rank >= c->world || count == 0)
    return 0;
  uint64_t hi = count > c->world - first_rank ? c->world : first_rank + count;
  uint64_t unacked = 0;
  for (uint64_t r = first_rank; r < hi; r++)
    unacked += c->shards[r].file == NULL;
  if (unacked == 0)
    return 0; /* C6: their shards are durable already */
  size_t len = 0;
  uint64_t n = reason_ranks (c, "", first_rank, hi, &len);
  snprintf (c->reason + len, sizeof c->reason - len,
            " %s lost before saving %s shard%s", n > 1 ? "were" : "was",
            n > 1 ? "their" : "its", n > 1 ? "s" : "");
  return abort_attempt (c, MUSTER_EPEERLOST, d);
}

int
mu_ckpt_commit_new_epoch (mu_ckpt_commit_t *c, uint64_t now_ms, uint64_t epoch,
                          mu_ckpt_decision_t *d)
{
  (void)now_ms;
  fill (c, MU_CKPT_D_NONE, d);
  if (!c || !d)
    return MUSTER_EINVAL;
  if (epoch < c->epoch)
    return MUSTER_ESTALE_EPOCH;
  if (epoch == c->epoch)
    return 0;
  c->epoch = epoch;
  if (c->state != MU_CKPT_COLLECTING)
    return 0;
  snprintf (c->reason, sizeof c->reason,
            "epoch %llu began while waiting for shards of epoch %llu "
            "(%llu of %llu missing)",
            (ull)epoch, (ull)c->att_epoch, (ull)c->missing, (ull)c->world);
  return abort_attempt (c, MUSTER_EMEMBERSHIP, d);
}

int
mu_ckpt_commit_cancel (mu_ckpt_commit_t *c, uint64_t now_ms, int status,
                       const char *why, mu_ckpt_decision_t *d)
{
  (void)now_ms;
  fill (c, MU_CKPT_D_NONE, d);
  if (!c || !d)
    return MUSTER_EINVAL;
  if (c->state != MU_CKPT_COLLECTING)
    return 0;
  snprintf (c->reason, sizeof c->reason, "%s", why ? why : "cancelled");
  return abort_attempt (c, status < 0 ? status : MUSTER_ECANCELED, d);
}

/* ---------------------------------------------------------------- queries */

mu_ckpt_state_t
mu_ckpt_commit_state (const mu_ckpt_commit_t *c)
{
  return c ? c->state : MU_CKPT_IDLE;
}

const char *
mu_ckpt_state_name (mu_ckpt_state_t s)
{
  switch (s)
    {
    case MU_CKPT_IDLE:
      return "idle";
    case MU_CKPT_COLLECTING:
      return "collecting";
    case MU_CKPT_WRITING:
      return "writing";
    case MU_CKPT_COMMITTED:
      return "committed";
    case MU_CKPT_ABORTED:
      return "aborted";
    }
  return "?";
}

uint64_t
mu_ckpt_commit_step (const mu_ckpt_commit_t *c)
{
  return c ? c->step : 0;
}

uint64_t
mu_ckpt_commit_epoch (const mu_ckpt_commit_t *c)
{
  return c ? c->epoch : 0;
}

uint64_t
mu_ckpt_commit_missing (const mu_ckpt_commit_t *c)
{
  return c && c->state == MU_CKPT_COLLECTING ? c->missing : 0;
}

bool
mu_ckpt_commit_acked (const mu_ckpt_commit_t *c, uint64_t rank)
{
  return c && in_flight (c) && rank < c->world && c->shards[rank].file;
}

bool
mu_ckpt_commit_last (const mu_ckpt_commit_t *c, uint64_t *step)
{
  if (!c || !c->has_committed)
    return false;
  if (step)
    *step = c->committed_step;
  return true;
}

/* -------------------------------------------------------------- retention */

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

int
mu_ckpt_retention (const mu_ckpt_step_t *steps, size_t n, size_t keep,
                   const uint64_t *protect, size_t nprotect, uint64_t *del,
                   size_t *ndel)
{
  if (!ndel || (n && (!steps || !del)) || (nprotect && !protect))
    return MUSTER_EINVAL;
  *ndel = 0;
  if (keep == 0)
    keep = 1;
  /* The keep-th newest complete step, found by `keep` descending passes
   * (O(keep * n), no allocation): every complete step >= it stays. */
  bool any = false;
  uint64_t cutoff = 0, newest = 0;
  size_t found = 0;
  while (found < keep)
    {
      bool got = false;
      uint64_t best = 0;
      for (size_t i = 0; i < n; i++)
        if (steps[i].complete && (found == 0 || steps[i].step < cutoff)
            && (!got || steps[i].step > best))
          {
            best = steps[i].step;
            got = true;
          }
      if (!got)
        break;
      if (found == 0)
        newest = best;
      cutoff = best;
      any = true;
      found++;
    }
  if (!any)
    return 0; /* nothing complete: nothing may go */
  if (found < keep)
    cutoff = 0; /* fewer than `keep` complete: keep every one */
  for (size_t i = 0; i < n; i++)
    {
      uint64_t s = steps[i].step;
      if (s >= newest)
        continue;
      bool prot = false;
      for (size_t j = 0; j < nprotect && !prot; j++)
        prot = protect[j] == s;
      if (prot)
        continue;
      if (steps[i].complete && s >= cutoff)
        continue;
      del[(*ndel)++] = s;
    }
  qsort (del, *ndel, sizeof *del, cmp_u64);
  return 0;
}

int
mu_ckpt_commit_retention (const mu_ckpt_commit_t *c,
                          const mu_ckpt_step_t *steps, size_t n, size_t keep,
                          uint64_t *del, size_t *ndel)
{
  if (!c)
    return MUSTER_EINVAL;
  uint64_t protect[2];
  size_t np = 0;
  if (in_flight (c))
    protect[np++] = c->step;
  if (c->has_committed)
    protect[np++] = c->committed_step;
  return mu_ckpt_retention (steps, n, keep, protect, np, del, ndel);
}
