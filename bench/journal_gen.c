/*
 * journal_gen.c — writes a long job history into a coordinator's journal,
 * for bench/failover.py.
 *
 *   journal_gen --state-dir DIR --jobs N [--keep K]
 *
 * Each of N jobs ("hist-000001", ...) gets the records a real one leaves:
 * created, rendezvous, an epoch of one node, two worker exits, a
 * checkpoint, finished; all but the last K (default 64, musterd's
 * retention) are retired again, as musterd's pruning does.  The records go
 * in front of whatever the live segment of DIR/journal already holds (a
 * musterd killed with SIGKILL a moment ago: its running job's records stay
 * last), so the next musterd started on DIR replays the whole history in
 * one segment — a worst case, since a live musterd compacts every
 * MU_JOURNAL_COMPACT_RECORDS records.  Group commit: one fsync at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/journal.h"
#include "coordinator/journal.h"
#include "coordinator/journal_image.h"

typedef struct saved
{
  char **rec;
  size_t *len;
  size_t n, cap;
} saved_t;

static int
keep (void *arg, mu_journal_src_t src, const void *p, size_t len)
{
  saved_t *s = arg;
  if (src != MU_JOURNAL_FROM_SEGMENT)
    return 0;
  if (s->n == s->cap)
    {
      s->cap = s->cap ? 2 * s->cap : 64;
      s->rec = realloc (s->rec, s->cap * sizeof *s->rec);
      s->len = realloc (s->len, s->cap * sizeof *s->len);
      if (s->rec == NULL || s->len == NULL)
        return -ENOMEM;
    }
  s->rec[s->n] = malloc (len);
  if (s->rec[s->n] == NULL)
    return -ENOMEM;
  memcpy (s->rec[s->n], p, len);
  s->len[s->n++] = len;
  return 0;
}

static int
put (mu_journal_t *j, int rc, char *buf, size_t len)
{
  if (rc == 0)
    rc = mu_journal_append (j, buf, len, NULL);
  free (buf);
  return rc;
}

/* Build (expr fills b and l), then append: two steps, as the order in
 * which function arguments are evaluated is not fixed. */
#define PUT(expr) (rc_ = (expr), put (j, rc_, b, l))

static int
history (mu_journal_t *j, unsigned long n, unsigned long keep_last)
{
  mu_role_spec_t role = {
    .name = (char *)"worker", .min_nodes = 1, .max_nodes = 1, .nproc = 2
  };
  char *argv[] = { (char *)"/usr/bin/python3", (char *)"train.py",
                   (char *)"--epochs", (char *)"90" };
  int rc = 0, rc_;
  for (unsigned long i = 1; rc == 0 && i <= n; i++)
    {
      char id[32], node[32], dir[96];
      snprintf (id, sizeof id, "hist-%06lu", i);
      snprintf (node, sizeof node, "node-%03lu", i % 500);
      snprintf (dir, sizeof dir, "/ckpt/%s/step-00000000000000001000", id);
      mu_job_spec_t spec;
      memset (&spec, 0, sizeof spec);
      spec.id = id;
      spec.roles.v = &role;
      spec.roles.n = 1;
      spec.argv.v = argv;
      spec.argv.n = 4;
      spec.ckpt_dir = (char *)"/ckpt";
      spec.max_restarts = 3;
      mu_jmember_t m = { .node = node,
                         .pub = (char *)"",
                         .host = (char *)"10.0.0.1",
                         .port_base = 30000,
                         .nproc = 2 };
      mu_jjob_t v;
      memset (&v, 0, sizeof v);
      v.spec = &spec;
      v.owner = (char *)"alice";
      v.uid = v.gid = 1000;
      v.epoch = 1;
      v.world = 2;
      v.members = &m;
      v.nmembers = 1;
      v.exit_code = 0;
      v.reason = (char *)"all 2 workers exited 0";
      strcpy (v.state, "succeeded");
      char *b = NULL;
      size_t l = 0;
      rc = PUT (mu_jrec_created (id, &v, &b, &l));
      if (rc == 0)
        rc = PUT (mu_jrec_state (id, "rendezvous", NULL, NULL, &b, &l));
      if (rc == 0)
        rc = PUT (mu_jrec_epoch (id, &v, &b, &l));
      if (rc == 0)
        rc = PUT (mu_jrec_ckpt (id, 1000, dir, 1, &b, &l));
      for (int r = 0; rc == 0 && r < 2; r++)
        rc = PUT (mu_jrec_exit (id, node, (uint64_t)r, 1, &b, &l));
      if (rc == 0)
        rc = PUT (mu_jrec_finished (id, &v, &b, &l));
      if (rc == 0 && i + keep_last <= n)
        rc = PUT (mu_jrec_retired (id, &b, &l));
    }
  return rc;
}

int
main (int argc, char **argv)
{
  const char *state = NULL;
  unsigned long jobs = 10000, keep_last = 64;
  for (int i = 1; i < argc; i++)
    if (strcmp (argv[i], "--state-dir") == 0 && i + 1 < argc)
      state = argv[++i];
    else if (strcmp (argv[i], "--jobs") == 0 && i + 1 < argc)
      jobs = strtoul (argv[++i], NULL, 10);
    else if (strcmp (argv[i], "--keep") == 0 && i + 1 < argc)
      keep_last = strtoul (argv[++i], NULL, 10);
    else
      {
        fprintf (stderr, "usage: journal_gen --state-dir DIR [--jobs N] "
                         "[--keep K]\n");
        return 2;
      }
  if (state == NULL)
    {
      fprintf (stderr, "journal_gen: --state-dir DIR is required\n");
      return 2;
    }
  char dir[4096], err[1024] = "";
  snprintf (dir, sizeof dir, "%s/journal", state);
  /* What the live segment holds now, kept to go last. */
  saved_t s = { 0 };
  mu_journal_t *j = NULL;
  mu_journal_info_t info;
  mu_journal_opts_t ro = { .dir = dir, .read_only = 1 };
  int rc = access (dir, F_OK) == 0
               ? mu_journal_open (&ro, keep, &s, &j, &info, err, sizeof err)
               : 0;
  mu_journal_close (&j);
  char aside[4300] = "";
  if (rc == 0 && s.n > 0)
    {
      /* Set aside until the new segment is complete. */
      char seg[4200];
      snprintf (seg, sizeof seg, "%s/journal-%llu", dir,
                (unsigned long long)info.seq);
      snprintf (aside, sizeof aside, "%s.aside", seg);
      if (rename (seg, aside) != 0)
        rc = -errno;
    }
  mu_journal_opts_t o
      = { .dir = dir, .group_commit = 1, .group_max = 1u << 30 };
  if (rc == 0)
    rc = mu_journal_open (&o, NULL, NULL, &j, NULL, err, sizeof err);
  if (rc == 0)
    rc = history (j, jobs, keep_last);
  for (size_t i = 0; rc == 0 && i < s.n; i++)
    rc = mu_journal_append (j, s.rec[i], s.len[i], NULL);
  if (rc == 0)
    rc = mu_journal_commit (j);
  uint64_t bytes = j ? mu_journal_segment_bytes (j) : 0;
  uint64_t records = j ? mu_journal_segment_records (j) : 0;
  mu_journal_close (&j);
  if (rc == 0 && aside[0] != '\0')
    unlink (aside);
  for (size_t i = 0; i < s.n; i++)
    free (s.rec[i]);
  free (s.rec);
  free (s.len);
  if (rc != 0)
    {
      fprintf (stderr, "journal_gen: %s: %s\n", dir,
               err[0] ? err : muster_strerror (rc));
      return 1;
    }
  printf ("journal_gen: %lu jobs' history + %zu live record(s): %llu records, "
          "%.1f MiB in %s\n",
          jobs, s.n, (unsigned long long)records, (double)bytes / (1 << 20),
          dir);
  return 0;
}
