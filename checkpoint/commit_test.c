/*
 * commit_test.c — the two-phase-commit state machine.
 *
 * One test per transition and rule of commit.h (C1-C9): begin, acks in any
 * order up to WRITE_MANIFEST, the MANIFEST written or failed, failed acks,
 * stale / duplicate / conflicting / malformed acks, deadlines, lost
 * members, new epochs, cancel; the assembled manifest (sorted shards,
 * roles copied or derived, PS buckets) and its refusal when the shards
 * cannot form a checkpoint; retention.  Ends with a random event sequence
 * checked against invariants, and a 100,000-rank attempt.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "checkpoint/commit.h"

#define JOB "job-1"

/* --- helpers */

static mu_ckpt_commit_t *
mk (void)
{
  mu_ckpt_commit_t *c = NULL;
  assert_int_equal (mu_ckpt_commit_new (JOB, &c), 0);
  assert_non_null (c);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_IDLE);
  return c;
}

static mu_ckpt_decision_t
begin (mu_ckpt_commit_t *c, uint64_t now, uint64_t step, uint64_t epoch,
       uint64_t world, uint64_t timeout)
{
  mu_ckpt_begin_t b = { step, epoch, world, timeout, NULL, 0, 0 };
  mu_ckpt_decision_t d;
  assert_int_equal (mu_ckpt_commit_begin (c, now, &b, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_REQUEST);
  assert_int_equal (d.step, step);
  assert_int_equal (d.epoch, epoch);
  assert_int_equal (d.deadline_ms, timeout ? now + timeout : 0);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_COLLECTING);
  assert_int_equal (mu_ckpt_commit_missing (c), world);
  return d;
}

/* A ckpt.saved from `rank`; the strings live in static buffers (one ack
 * at a time is all the machine ever reads). */
typedef struct ack
{
  mu_ckpt_saved_t s;
  mu_shard_info_t sh;
  char file[64];
} ack_t;

static ack_t *
ack_of (ack_t *a, uint64_t step, uint64_t epoch, uint64_t rank, int status)
{
  memset (a, 0, sizeof *a);
  snprintf (a->file, sizeof a->file, "rank-%05llu.bin",
            (unsigned long long)rank);
  a->sh.role = "worker";
  a->sh.rank = rank;
  a->sh.role_rank = rank;
  a->sh.file = a->file;
  a->sh.size = 1000 + rank;
  a->sh.crc32c = 0xabc00000u + rank;
  a->s.job = JOB;
  a->s.epoch = epoch;
  a->s.step = step;
  a->s.rank = rank;
  a->s.status = status;
  a->s.shard = status == 0 ? &a->sh : NULL;
  return a;
}

static mu_ckpt_decision_t
ack (mu_ckpt_commit_t *c, uint64_t now, uint64_t step, uint64_t epoch,
     uint64_t rank)
{
  ack_t a;
  mu_ckpt_decision_t d;
  assert_int_equal (
      mu_ckpt_commit_ack (c, now, &ack_of (&a, step, epoch, rank, 0)->s, &d),
      0);
  return d;
}

static void
expect_abort (mu_ckpt_decision_t d, int status, const char *reason)
{
  assert_int_equal (d.action, MU_CKPT_D_ABORTED);
  assert_int_equal (d.status, status);
  assert_non_null (d.reason);
  if (reason && strcmp (d.reason, reason) != 0)
    fail_msg ("reason '%s', expected '%s'", d.reason, reason);
  assert_int_equal (d.deadline_ms, 0);
  assert_null (d.manifest);
}

/* --- lifecycle and the happy path */

static void
test_new_destroy (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = NULL;
  assert_int_equal (mu_ckpt_commit_new ("..", &c), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_new ("a/b", &c), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_new (NULL, &c), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_new (JOB, NULL), MUSTER_EINVAL);
  assert_null (c);
  mu_ckpt_commit_destroy (NULL);
  mu_ckpt_commit_destroy (&c);
  c = mk ();
  assert_false (mu_ckpt_commit_last (c, NULL));
  mu_ckpt_commit_destroy (&c);
  assert_null (c);
  /* Destroy mid-attempt frees everything (valgrind checks). */
  c = mk ();
  begin (c, 0, 10, 1, 4, 1000);
  ack (c, 1, 10, 1, 2);
  mu_ckpt_commit_destroy (&c);
  c = mk ();
  begin (c, 0, 10, 1, 1, 1000);
  mu_ckpt_decision_t d = ack (c, 1, 10, 1, 0);
  assert_int_equal (d.action, MU_CKPT_D_WRITE_MANIFEST);
  mu_ckpt_commit_destroy (&c);
}

static void
test_commit_path (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  begin (c, 1000, 500, 2, 8, 30000);
  /* Acks in a scrambled order. */
  uint64_t order[] = { 5, 0, 7, 3, 1, 6, 2 };
  for (size_t i = 0; i < 7; i++)
    {
      mu_ckpt_decision_t d = ack (c, 1100 + i, 500, 2, order[i]);
      assert_int_equal (d.action, MU_CKPT_D_NONE);
      assert_int_equal (d.deadline_ms, 31000);
      assert_true (mu_ckpt_commit_acked (c, order[i]));
      assert_int_equal (mu_ckpt_commit_missing (c), 8 - 1 - i);
    }
  assert_false (mu_ckpt_commit_acked (c, 4));
  mu_ckpt_decision_t d = ack (c, 1200, 500, 2, 4);
  assert_int_equal (d.action, MU_CKPT_D_WRITE_MANIFEST);
  assert_int_equal (d.step, 500);
  assert_int_equal (d.epoch, 2);
  assert_int_equal (d.deadline_ms, 0);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_WRITING);
  assert_int_equal (mu_ckpt_commit_missing (c), 0);
  mu_ckpt_manifest_t *m = d.manifest;
  assert_non_null (m);
  assert_string_equal (m->job, JOB);
  assert_int_equal (m->step, 500);
  assert_int_equal (m->epoch, 2);
  assert_int_equal (m->world, 8);
  assert_int_equal (m->nbuckets, 0);
  assert_int_equal (m->shards.n, 8);
  for (uint64_t r = 0; r < 8; r++)
    {
      char f[64];
      snprintf (f, sizeof f, "rank-%05llu.bin", (unsigned long long)r);
      assert_int_equal (m->shards.v[r].rank, r);
      assert_string_equal (m->shards.v[r].file, f);
      assert_int_equal (m->shards.v[r].size, 1000 + r);
      assert_int_equal (m->shards.v[r].crc32c, 0xabc00000u + r);
    }
  /* Roles derived from the shards. */
  assert_int_equal (m->roles.n, 1);
  assert_string_equal (m->roles.v[0].name, "worker");
  assert_int_equal (m->roles.v[0].world, 8);
  char err[200];
  assert_int_equal (mu_manifest_check (m, err, sizeof err), 0);
  m->created_us = 123; /* the caller stamps the time (C8) */

  /* While WRITING: a duplicate ack is fine, a conflicting one refused;
   * there is no timer; tick / lost / new epoch / cancel change nothing;
   * begin is refused. */
  ack_t a;
  assert_int_equal (
      mu_ckpt_commit_ack (c, 1300, &ack_of (&a, 500, 2, 3, 0)->s, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  a.sh.size = 1;
  assert_int_equal (mu_ckpt_commit_ack (c, 1300, &a.s, &d), MUSTER_EEXIST);
  assert_int_equal (mu_ckpt_commit_tick (c, 999999, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_lost (c, 1300, 0, 8, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_new_epoch (c, 1300, 3, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_cancel (c, 1300, 0, "no", &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_WRITING);
  mu_ckpt_begin_t b = { 600, 3, 8, 1000, NULL, 0, 0 };
  assert_int_equal (mu_ckpt_commit_begin (c, 1300, &b, &d), MUSTER_EEXIST);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (d.step, 500); /* C9: current attempt */
  /* Acks of the old epoch are stale now. */
  assert_int_equal (
      mu_ckpt_commit_ack (c, 1300, &ack_of (&a, 500, 2, 3, 0)->s, &d),
      MUSTER_ESTALE_EPOCH);
  assert_int_equal (m->created_us, 123); /* untouched through all that */

  assert_int_equal (mu_ckpt_commit_written (c, 1400, 0, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_COMMITTED);
  assert_int_equal (d.step, 500);
  assert_int_equal (d.status, 0);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_COMMITTED);
  uint64_t last = 0;
  assert_true (mu_ckpt_commit_last (c, &last));
  assert_int_equal (last, 500);
  /* The epoch moved to 3 while writing. */
  assert_int_equal (mu_ckpt_commit_epoch (c), 3);
  /* Written twice: nothing is being written. */
  assert_int_equal (mu_ckpt_commit_written (c, 1500, 0, &d), MUSTER_ENOTFOUND);
  /* C1: the committed step again is refused, the next one is not. */
  b.step = 500;
  assert_int_equal (mu_ckpt_commit_begin (c, 1500, &b, &d), MUSTER_EEXIST);
  begin (c, 1500, 600, 3, 8, 1000);
  mu_ckpt_commit_destroy (&c);
}

static void
test_manifest_write_fails (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  begin (c, 0, 7, 1, 2, 0);
  ack (c, 1, 7, 1, 1);
  mu_ckpt_decision_t d = ack (c, 2, 7, 1, 0);
  assert_int_equal (d.action, MU_CKPT_D_WRITE_MANIFEST);
  assert_int_equal (mu_ckpt_commit_written (c, 3, -ENOSPC, &d), 0);
  expect_abort (d, -ENOSPC,
                "writing the MANIFEST failed: No space left on device");
  assert_int_equal (d.step, 7);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_ABORTED);
  assert_false (mu_ckpt_commit_last (c, NULL));
  /* The same step may be tried again. */
  begin (c, 4, 7, 1, 2, 0);
  mu_ckpt_commit_destroy (&c);
}

static void
test_failed_ack_aborts (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  begin (c, 0, 9, 4, 4, 5000);
  ack (c, 1, 9, 4, 0);
  ack_t a;
  mu_ckpt_decision_t d;
  assert_int_equal (
      mu_ckpt_commit_ack (c, 2, &ack_of (&a, 9, 4, 2, -EIO)->s, &d), 0);
  expect_abort (d, -EIO, "rank 2 could not save its shard: Input/output error");
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_ABORTED);
  assert_int_equal (mu_ckpt_commit_missing (c), 0);
  assert_false (mu_ckpt_commit_acked (c, 0));
  /* Late acks of the aborted attempt: not in flight. */
  assert_int_equal (mu_ckpt_commit_ack (c, 3, &ack_of (&a, 9, 4, 1, 0)->s, &d),
                    MUSTER_ENOTFOUND);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  /* A muster code as the status. */
  begin (c, 10, 10, 4, 4, 5000);
  assert_int_equal (mu_ckpt_commit_ack (
                        c, 11, &ack_of (&a, 10, 4, 3, MUSTER_ECANCELED)->s, &d),
                    0);
  expect_abort (d, MUSTER_ECANCELED, NULL);
  assert_non_null (strstr (d.reason, "rank 3"));
  /* The member's error text (what failed, where) follows, one line. */
  begin (c, 20, 11, 4, 4, 5000);
  ack_of (&a, 11, 4, 1, -ENOSPC);
  a.s.error = "ENOSPC on /ck/j/step-11/rank-000001.shard";
  assert_int_equal (mu_ckpt_commit_ack (c, 21, &a.s, &d), 0);
  expect_abort (d, -ENOSPC, "rank 1 could not save its shard: No space left "
                            "on device (ENOSPC on "
                            "/ck/j/step-11/rank-000001.shard)");
  begin (c, 30, 12, 4, 4, 5000);
  ack_of (&a, 12, 4, 0, -EROFS);
  char evil[600];
  memset (evil, 'x', sizeof evil - 1);
  evil[sizeof evil - 1] = '\0';
  evil[3] = '\n';
  a.s.error = evil;
  assert_int_equal (mu_ckpt_commit_ack (c, 31, &a.s, &d), 0);
  expect_abort (d, -EROFS, NULL);
  assert_null (strchr (d.reason, '\n'));
  assert_non_null (strstr (d.reason, "(xxx?xxx"));
  assert_true (strlen (d.reason) < 300); /* cut at 200 bytes */
  mu_ckpt_commit_destroy (&c);
}

/* --- acks that are refused (C2, C3) */

static void
test_stale_and_bad_acks (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  ack_t a;
  mu_ckpt_decision_t d;
  /* Nothing in flight. */
  assert_int_equal (mu_ckpt_commit_ack (c, 0, &ack_of (&a, 1, 1, 0, 0)->s, &d),
                    MUSTER_ENOTFOUND);
  begin (c, 0, 100, 5, 4, 1000);

  ack_of (&a, 100, 4, 0, 0); /* older epoch */
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_ESTALE_EPOCH);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (d.deadline_ms, 1000); /* C9 */
  ack_of (&a, 100, 6, 0, 0);              /* an epoch this attempt is not */
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_ENOTFOUND);
  ack_of (&a, 99, 5, 0, 0); /* another step */
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_ENOTFOUND);
  ack_of (&a, 100, 5, 0, 0);
  a.s.job = "job-2";
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_ENOTFOUND);
  a.s.job = NULL;
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_ENOTFOUND);
  ack_of (&a, 100, 5, 4, 0); /* rank >= world */
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_EINVAL);
  ack_of (&a, 100, 5, 1, 0);
  a.s.shard = NULL; /* status 0 without a shard */
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_EPROTO);
  ack_of (&a, 100, 5, 1, 0);
  a.sh.rank = 2; /* shard of another rank */
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_EPROTO);
  ack_of (&a, 100, 5, 1, 0);
  a.sh.file = "../../etc/passwd";
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_EPROTO);
  ack_of (&a, 100, 5, 1, 0);
  a.sh.file = "MANIFEST";
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_EPROTO);
  ack_of (&a, 100, 5, 1, 0);
  a.sh.role = "";
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_EPROTO);
  ack_of (&a, 100, 5, 1, 1); /* positive status */
  a.s.shard = &a.sh;
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), MUSTER_EPROTO);
  assert_int_equal (mu_ckpt_commit_ack (NULL, 1, &a.s, &d), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_ack (c, 1, NULL, &d), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, NULL), MUSTER_EINVAL);
  /* None of that changed anything. */
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_COLLECTING);
  assert_int_equal (mu_ckpt_commit_missing (c), 4);

  /* Duplicates (C3). */
  d = ack (c, 2, 100, 5, 1);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  d = ack (c, 3, 100, 5, 1);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_missing (c), 3);
  ack_of (&a, 100, 5, 1, 0);
  a.sh.crc32c ^= 1;
  assert_int_equal (mu_ckpt_commit_ack (c, 4, &a.s, &d), MUSTER_EEXIST);
  /* A failure after a success for the same rank is a conflict too. */
  ack_of (&a, 100, 5, 1, -EIO);
  assert_int_equal (mu_ckpt_commit_ack (c, 4, &a.s, &d), MUSTER_EEXIST);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_COLLECTING);

  /* After a new epoch the old one is stale, for acks and for begin. */
  assert_int_equal (mu_ckpt_commit_new_epoch (c, 5, 6, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_ABORTED);
  ack_of (&a, 100, 5, 2, 0);
  assert_int_equal (mu_ckpt_commit_ack (c, 6, &a.s, &d), MUSTER_ESTALE_EPOCH);
  mu_ckpt_begin_t b = { 101, 5, 4, 0, NULL, 0, 0 };
  assert_int_equal (mu_ckpt_commit_begin (c, 6, &b, &d), MUSTER_ESTALE_EPOCH);
  mu_ckpt_commit_destroy (&c);
}

static void
test_begin_rules (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  mu_ckpt_decision_t d;
  mu_ckpt_begin_t b = { 1, 1, 0, 0, NULL, 0, 0 };
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, &d), MUSTER_EINVAL);
  b.world = (uint64_t)MU_PROTO_MAX_LIST + 1;
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, &d), MUSTER_EINVAL);
  b.world = 4;
  mu_role_world_t roles[2] = { { "worker", 3, 1 }, { "ps", 2, 1 } };
  b.roles = roles;
  b.nroles = 2; /* 5 != 4 */
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, &d), MUSTER_EINVAL);
  roles[1].world = 0; /* 3 != 4 */
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, &d), MUSTER_EINVAL);
  roles[1].world = 1;
  roles[1].name = "";
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, &d), MUSTER_EINVAL);
  roles[1].name = "ps";
  b.roles = NULL;
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, &d), MUSTER_EINVAL);
  b.roles = roles;
  assert_int_equal (mu_ckpt_commit_begin (NULL, 0, &b, &d), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_begin (c, 0, NULL, &d), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, NULL), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_IDLE);
  assert_int_equal (mu_ckpt_commit_begin (c, 0, &b, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_REQUEST);
  /* C1: one at a time. */
  b.step = 2;
  assert_int_equal (mu_ckpt_commit_begin (c, 1, &b, &d), MUSTER_EEXIST);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (d.step, 1);
  assert_int_equal (mu_ckpt_commit_step (c), 1);
  /* The roles given are the manifest's (copied: change ours now). */
  ack_t a;
  for (uint64_t r = 0; r < 4; r++)
    {
      ack_of (&a, 1, 1, r, 0);
      a.sh.role = r < 3 ? "worker" : "ps";
      a.sh.role_rank = r < 3 ? r : 0;
      assert_int_equal (mu_ckpt_commit_ack (c, 2, &a.s, &d), 0);
    }
  roles[0].name = "changed";
  assert_int_equal (d.action, MU_CKPT_D_WRITE_MANIFEST);
  assert_int_equal (d.manifest->roles.n, 2);
  assert_string_equal (d.manifest->roles.v[0].name, "worker");
  assert_int_equal (d.manifest->roles.v[0].nodes, 1);
  assert_string_equal (d.manifest->roles.v[1].name, "ps");
  mu_ckpt_commit_destroy (&c);
}

/* --- deadline, loss, epoch, cancel (C5-C7) */

static void
test_deadline (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  begin (c, 1000, 50, 1, 8, 500);
  for (uint64_t r = 0; r < 8; r++)
    if (r != 3 && r != 7)
      ack (c, 1100, 50, 1, r);
  mu_ckpt_decision_t d;
  assert_int_equal (mu_ckpt_commit_tick (c, 1499, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (d.deadline_ms, 1500);
  assert_int_equal (mu_ckpt_commit_tick (c, 1500, &d), 0);
  expect_abort (d, MUSTER_ETIMEDOUT,
                "timed out waiting for ranks 3, 7 (2 of 8 missing)");
  assert_int_equal (mu_ckpt_commit_tick (c, 1600, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);

  begin (c, 2000, 51, 1, 8, 10);
  ack (c, 2001, 51, 1, 0);
  ack (c, 2001, 51, 1, 4);
  assert_int_equal (mu_ckpt_commit_tick (c, 5000, &d), 0);
  expect_abort (d, MUSTER_ETIMEDOUT,
                "timed out waiting for ranks 1-3, 5-7 (6 of 8 missing)");

  begin (c, 3000, 52, 1, 3, 10);
  ack (c, 3001, 52, 1, 0);
  ack (c, 3001, 52, 1, 2);
  assert_int_equal (mu_ckpt_commit_tick (c, 3010, &d), 0);
  expect_abort (d, MUSTER_ETIMEDOUT,
                "timed out waiting for rank 1 (1 of 3 missing)");

  /* Many missing: the list is cut, the count is exact. */
  begin (c, 4000, 53, 1, 100000, 10);
  for (uint64_t r = 0; r < 100000; r += 2)
    ack (c, 4001, 53, 1, r);
  assert_int_equal (mu_ckpt_commit_tick (c, 4010, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_ABORTED);
  assert_true (strlen (d.reason) < 512);
  assert_non_null (strstr (d.reason, "timed out waiting for ranks 1, 3, 5"));
  assert_non_null (strstr (d.reason, ", ... (50000 of 100000 missing)"));

  /* No timeout: never fires. */
  begin (c, 5000, 54, 1, 2, 0);
  assert_int_equal (mu_ckpt_commit_tick (c, UINT64_MAX, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_COLLECTING);
  assert_int_equal (mu_ckpt_commit_tick (NULL, 0, &d), MUSTER_EINVAL);
  mu_ckpt_commit_destroy (&c);
}

static void
test_lost (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  mu_ckpt_decision_t d;
  begin (c, 0, 20, 1, 8, 1000);
  ack (c, 1, 20, 1, 4);
  ack (c, 1, 20, 1, 5);
  /* A node whose ranks all saved already: the attempt goes on. */
  assert_int_equal (mu_ckpt_commit_lost (c, 2, 4, 2, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_COLLECTING);
  /* Out of range, or empty: nothing. */
  assert_int_equal (mu_ckpt_commit_lost (c, 2, 8, 4, &d), 0);
  assert_int_equal (mu_ckpt_commit_lost (c, 2, 0, 0, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  /* A node with unsaved ranks: abort, naming only those. */
  assert_int_equal (mu_ckpt_commit_lost (c, 3, 4, 4, &d), 0);
  expect_abort (d, MUSTER_EPEERLOST,
                "ranks 6-7 were lost before saving their shards");
  begin (c, 10, 21, 1, 8, 1000);
  assert_int_equal (mu_ckpt_commit_lost (c, 11, 5, UINT64_MAX, &d), 0);
  expect_abort (d, MUSTER_EPEERLOST,
                "ranks 5-7 were lost before saving their shards");
  begin (c, 20, 22, 1, 8, 1000);
  assert_int_equal (mu_ckpt_commit_lost (c, 21, 2, 1, &d), 0);
  expect_abort (d, MUSTER_EPEERLOST, "rank 2 was lost before saving its shard");
  /* Not in flight: nothing. */
  assert_int_equal (mu_ckpt_commit_lost (c, 22, 0, 8, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  mu_ckpt_commit_destroy (&c);
}

static void
test_new_epoch_and_cancel (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  mu_ckpt_decision_t d;
  /* Epochs move forward even with nothing in flight. */
  assert_int_equal (mu_ckpt_commit_new_epoch (c, 0, 3, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_epoch (c), 3);
  assert_int_equal (mu_ckpt_commit_new_epoch (c, 0, 2, &d),
                    MUSTER_ESTALE_EPOCH);
  begin (c, 10, 30, 3, 4, 1000);
  ack (c, 11, 30, 3, 0);
  assert_int_equal (mu_ckpt_commit_new_epoch (c, 12, 3, &d), 0); /* same */
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_new_epoch (c, 12, 4, &d), 0);
  expect_abort (d, MUSTER_EMEMBERSHIP,
                "epoch 4 began while waiting for shards of epoch 3 (3 of 4 "
                "missing)");
  assert_int_equal (d.epoch, 3); /* the aborted attempt's */

  begin (c, 20, 31, 4, 4, 1000);
  assert_int_equal (
      mu_ckpt_commit_cancel (c, 21, 0, "preempted: grace over", &d), 0);
  expect_abort (d, MUSTER_ECANCELED, "preempted: grace over");
  begin (c, 30, 32, 4, 4, 1000);
  assert_int_equal (mu_ckpt_commit_cancel (c, 31, -EPIPE, NULL, &d), 0);
  expect_abort (d, -EPIPE, "cancelled");
  /* Nothing in flight: nothing to cancel. */
  assert_int_equal (mu_ckpt_commit_cancel (c, 32, 0, NULL, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_NONE);
  assert_int_equal (mu_ckpt_commit_state (c), MU_CKPT_ABORTED);
  assert_string_equal (mu_ckpt_state_name (MU_CKPT_ABORTED), "aborted");
  assert_string_equal (mu_ckpt_state_name (MU_CKPT_WRITING), "writing");
  mu_ckpt_commit_destroy (&c);
}

/* --- the assembled manifest */

static void
test_invalid_assembly_aborts (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  mu_ckpt_decision_t d;
  ack_t a;
  begin (c, 0, 40, 1, 2, 1000);
  ack (c, 1, 40, 1, 0);
  ack_of (&a, 40, 1, 1, 0);
  strcpy (a.file, "rank-00000.bin"); /* same file as rank 0 */
  assert_int_equal (mu_ckpt_commit_ack (c, 2, &a.s, &d), 0);
  expect_abort (d, MUSTER_EPROTO, NULL);
  assert_non_null (strstr (d.reason, "do not form a valid checkpoint"));
  assert_non_null (strstr (d.reason, "listed twice"));

  /* PS buckets that leave a gap. */
  mu_ckpt_begin_t b = { 41, 1, 2, 1000, NULL, 0, 100 };
  assert_int_equal (mu_ckpt_commit_begin (c, 3, &b, &d), 0);
  for (uint64_t r = 0; r < 2; r++)
    {
      ack_of (&a, 41, 1, r, 0);
      a.sh.role = "ps";
      a.sh.role_rank = r;
      a.sh.bucket_first = r * 60;
      a.sh.bucket_count = 40;
      assert_int_equal (mu_ckpt_commit_ack (c, 4, &a.s, &d), 0);
    }
  expect_abort (d, MUSTER_EPROTO, NULL);
  assert_non_null (strstr (d.reason, "bucket 40"));

  /* PS buckets that tile. */
  assert_int_equal (mu_ckpt_commit_begin (c, 5, &b, &d), 0);
  for (uint64_t r = 0; r < 2; r++)
    {
      ack_of (&a, 41, 1, r, 0);
      a.sh.role = "ps";
      a.sh.role_rank = r;
      a.sh.bucket_first = r * 50;
      a.sh.bucket_count = 50;
      assert_int_equal (mu_ckpt_commit_ack (c, 6, &a.s, &d), 0);
    }
  assert_int_equal (d.action, MU_CKPT_D_WRITE_MANIFEST);
  assert_int_equal (d.manifest->nbuckets, 100);
  assert_int_equal (d.manifest->shards.v[1].bucket_first, 50);
  mu_ckpt_commit_destroy (&c);
}

static void
test_derived_roles (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  mu_ckpt_decision_t d;
  ack_t a;
  begin (c, 0, 60, 1, 7, 0);
  /* chief 0, worker 1-4, ps 5-6, acked backwards. */
  for (uint64_t r = 7; r-- > 0;)
    {
      ack_of (&a, 60, 1, r, 0);
      a.sh.role = r == 0 ? "chief" : r < 5 ? "worker" : "ps";
      a.sh.role_rank = r == 0 ? 0 : r < 5 ? r - 1 : r - 5;
      assert_int_equal (mu_ckpt_commit_ack (c, 1, &a.s, &d), 0);
    }
  assert_int_equal (d.action, MU_CKPT_D_WRITE_MANIFEST);
  const mu_ckpt_manifest_t *m = d.manifest;
  assert_int_equal (m->roles.n, 3);
  assert_string_equal (m->roles.v[0].name, "chief");
  assert_int_equal (m->roles.v[0].world, 1);
  assert_string_equal (m->roles.v[1].name, "worker");
  assert_int_equal (m->roles.v[1].world, 4);
  assert_string_equal (m->roles.v[2].name, "ps");
  assert_int_equal (m->roles.v[2].world, 2);
  assert_int_equal (m->roles.v[2].nodes, 0);
  assert_int_equal (mu_ckpt_commit_written (c, 2, 0, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_COMMITTED);
  mu_ckpt_commit_destroy (&c);
}

/* --- retention */

static void
test_retention (void **state)
{
  (void)state;
  mu_ckpt_step_t s[10];
  for (int i = 0; i < 10; i++)
    s[i] = (mu_ckpt_step_t){ (uint64_t)(i + 1) * 100, true };
  uint64_t del[10];
  size_t n = 0;
  for (size_t keep = 1; keep <= 12; keep++)
    {
      assert_int_equal (mu_ckpt_retention (s, 10, keep, NULL, 0, del, &n), 0);
      size_t want = keep >= 10 ? 0 : 10 - keep;
      assert_int_equal (n, want);
      for (size_t i = 0; i < n; i++)
        assert_int_equal (del[i], (i + 1) * 100); /* the oldest, ascending */
    }
  /* keep 0 counts as 1: the newest complete always stays. */
  assert_int_equal (mu_ckpt_retention (s, 10, 0, NULL, 0, del, &n), 0);
  assert_int_equal (n, 9);
  assert_int_equal (del[8], 900);

  /* Order of the input does not matter; partial steps older than the
   * newest complete go, newer ones stay; protected steps stay. */
  mu_ckpt_step_t mix[]
      = { { 700, false }, { 100, true },  { 900, false }, { 300, true },
          { 500, true },  { 200, false }, { 600, true },  { 400, true } };
  uint64_t prot[] = { 300 };
  assert_int_equal (mu_ckpt_retention (mix, 8, 2, prot, 1, del, &n), 0);
  /* complete: 100 300 400 500 600 -> keep 500, 600; 300 protected;
   * partial 200 goes, 700 and 900 (newer than 600) stay. */
  uint64_t want[] = { 100, 200, 400 };
  assert_int_equal (n, 3);
  for (size_t i = 0; i < n; i++)
    assert_int_equal (del[i], want[i]);

  /* Nothing complete: nothing goes, not even old partials. */
  mu_ckpt_step_t none[] = { { 1, false }, { 2, false } };
  assert_int_equal (mu_ckpt_retention (none, 2, 1, NULL, 0, del, &n), 0);
  assert_int_equal (n, 0);
  assert_int_equal (mu_ckpt_retention (NULL, 0, 1, NULL, 0, del, &n), 0);
  assert_int_equal (n, 0);
  assert_int_equal (mu_ckpt_retention (s, 10, 1, NULL, 0, NULL, &n),
                    MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_retention (s, 10, 1, NULL, 1, del, &n),
                    MUSTER_EINVAL);

  /* Through the machine: the step in flight and the last committed one
   * are protected. */
  mu_ckpt_commit_t *c = mk ();
  begin (c, 0, 300, 1, 1, 0);
  mu_ckpt_decision_t d = ack (c, 1, 300, 1, 0);
  assert_int_equal (mu_ckpt_commit_written (c, 2, 0, &d), 0);
  begin (c, 3, 150, 1, 1, 0); /* an odd in-flight step, older */
  mu_ckpt_step_t disk[] = {
    { 100, true }, { 150, false }, { 200, true }, { 300, true }, { 400, true }
  };
  assert_int_equal (mu_ckpt_commit_retention (c, disk, 5, 1, del, &n), 0);
  /* newest complete 400 stays; 300 (last committed) and 150 (in flight)
   * are protected; 100 and 200 go. */
  assert_int_equal (n, 2);
  assert_int_equal (del[0], 100);
  assert_int_equal (del[1], 200);
  assert_int_equal (mu_ckpt_commit_retention (NULL, disk, 5, 1, del, &n),
                    MUSTER_EINVAL);
  mu_ckpt_commit_destroy (&c);
}

/* --- random sequences against invariants */

static uint64_t
rnd (uint64_t *s)
{
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void
test_random_sequences (void **state)
{
  (void)state;
  uint64_t seed = 0x1234567;
#define RND() rnd (&seed)
  for (int run = 0; run < 200; run++)
    {
      mu_ckpt_commit_t *c = mk ();
      uint64_t now = 0, epoch = 1, step = 0, world = 0;
      bool acked[16];
      for (int ev = 0; ev < 300; ev++)
        {
          now += RND () % 50;
          mu_ckpt_decision_t d;
          mu_ckpt_state_t before = mu_ckpt_commit_state (c);
          int rc = 0;
          switch (RND () % 8)
            {
            case 0:
              {
                mu_ckpt_begin_t b
                    = { step + 1, epoch, 1 + RND () % 16, RND () % 400, NULL,
                        0,        0 };
                rc = mu_ckpt_commit_begin (c, now, &b, &d);
                if (before == MU_CKPT_COLLECTING || before == MU_CKPT_WRITING)
                  assert_int_equal (rc, MUSTER_EEXIST);
                else
                  {
                    assert_int_equal (rc, 0);
                    step++;
                    world = b.world;
                    memset (acked, 0, sizeof acked);
                  }
                break;
              }
            case 1:
            case 2:
            case 3:
              {
                ack_t a;
                uint64_t r = world ? RND () % (world + 1) : 0;
                int status = RND () % 20 == 0 ? -EIO : 0;
                uint64_t e = RND () % 10 == 0 ? epoch - 1 : epoch;
                rc = mu_ckpt_commit_ack (
                    c, now, &ack_of (&a, step, e, r, status)->s, &d);
                if (rc == 0 && before == MU_CKPT_COLLECTING && status == 0
                    && r < world)
                  acked[r] = true;
                break;
              }
            case 4:
              rc = mu_ckpt_commit_tick (c, now, &d);
              break;
            case 5:
              rc = mu_ckpt_commit_written (c, now, RND () % 4 ? 0 : -EIO, &d);
              if (before != MU_CKPT_WRITING)
                assert_int_equal (rc, MUSTER_ENOTFOUND);
              break;
            case 6:
              if (RND () % 4 == 0)
                epoch++;
              rc = mu_ckpt_commit_new_epoch (c, now, epoch, &d);
              assert_int_equal (rc, 0);
              break;
            case 7:
              {
                uint64_t first = RND () % 16, count = RND () % 4;
                rc = mu_ckpt_commit_lost (c, now, first, count, &d);
              }
              assert_int_equal (rc, 0);
              break;
            }
          mu_ckpt_state_t after = mu_ckpt_commit_state (c);
          /* A failed event changes nothing and decides nothing. */
          if (rc != 0)
            {
              assert_int_equal (after, before);
              assert_int_equal (d.action, MU_CKPT_D_NONE);
            }
          /* Transitions only along the protocol's edges. */
          switch (d.action)
            {
            case MU_CKPT_D_REQUEST:
              assert_int_equal (after, MU_CKPT_COLLECTING);
              break;
            case MU_CKPT_D_WRITE_MANIFEST:
              assert_int_equal (before, MU_CKPT_COLLECTING);
              assert_int_equal (after, MU_CKPT_WRITING);
              assert_int_equal (mu_manifest_check (d.manifest, NULL, 0), 0);
              assert_int_equal (d.manifest->world, world);
              for (uint64_t r = 0; r < world; r++)
                assert_true (acked[r]);
              break;
            case MU_CKPT_D_COMMITTED:
              assert_int_equal (before, MU_CKPT_WRITING);
              assert_int_equal (after, MU_CKPT_COMMITTED);
              break;
            case MU_CKPT_D_ABORTED:
              assert_true (before == MU_CKPT_COLLECTING
                           || before == MU_CKPT_WRITING);
              assert_int_equal (after, MU_CKPT_ABORTED);
              assert_true (d.status < 0);
              break;
            case MU_CKPT_D_NONE:
              if (rc == 0)
                assert_int_equal (after, before);
              break;
            }
          if (after == MU_CKPT_COLLECTING)
            {
              uint64_t n = 0;
              for (uint64_t r = 0; r < world; r++)
                {
                  n += !acked[r];
                  assert_int_equal (mu_ckpt_commit_acked (c, r), acked[r]);
                }
              assert_int_equal (mu_ckpt_commit_missing (c), n);
            }
        }
      mu_ckpt_commit_destroy (&c);
    }
#undef RND
}

static void
test_large_world (void **state)
{
  (void)state;
  mu_ckpt_commit_t *c = mk ();
  uint64_t world = 100000;
  begin (c, 0, 1, 1, world, 60000);
  mu_ckpt_decision_t d = { 0 };
  for (uint64_t r = world; r-- > 0;)
    d = ack (c, 1, 1, 1, r);
  assert_int_equal (d.action, MU_CKPT_D_WRITE_MANIFEST);
  assert_int_equal (d.manifest->shards.n, world);
  assert_int_equal (d.manifest->shards.v[world - 1].rank, world - 1);
  assert_int_equal (mu_ckpt_commit_written (c, 2, 0, &d), 0);
  assert_int_equal (d.action, MU_CKPT_D_COMMITTED);
  mu_ckpt_commit_destroy (&c);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_new_destroy),
    cmocka_unit_test (test_commit_path),
    cmocka_unit_test (test_manifest_write_fails),
    cmocka_unit_test (test_failed_ack_aborts),
    cmocka_unit_test (test_stale_and_bad_acks),
    cmocka_unit_test (test_begin_rules),
    cmocka_unit_test (test_deadline),
    cmocka_unit_test (test_lost),
    cmocka_unit_test (test_new_epoch_and_cancel),
    cmocka_unit_test (test_invalid_assembly_aborts),
    cmocka_unit_test (test_derived_roles),
    cmocka_unit_test (test_retention),
    cmocka_unit_test (test_random_sequences),
    cmocka_unit_test (test_large_world),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
