/*
 * lib_test_migrate.c — live bucket migration in libmuster, against the
 * fake agent: the plan is read from the epoch's KV store and checked,
 * owners are looked up, a move is reported, and the completing barrier
 * refuses a server that did not report its incoming moves, then releases.
 * A missing plan, a plan whose ranges do not tile the buckets, a value
 * that is not a plan and reports of moves that do not exist are refused.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <muster/error.h>
#include <muster/worker.h>

#include "common/proto.h"
#include "worker/lib/lib_test.h"

#define PLAN_KEY "muster.ps.plan"

/* Put a ps.plan of 3 servers over 12 buckets with two moves (one to role
 * rank 0, one lost) for `epoch`; broken: the ranges leave a gap. */
static void
put_plan (muster_worker_t *w, uint64_t epoch, int broken)
{
  mu_ps_server_t sv[3] = {
    { 0, 0, 4, "h0", 5000, 11 },
    { 1, broken ? 5 : 4, 4, "h1", 5001, 12 },
    { 2, 8, 4, "h2", 5002, 13 },
  };
  mu_ps_move_t mv[2] = {
    { 8, 2, -1, 2, "h9", 5009, 0, false },
    { 10, 2, -1, 2, "h9", 5009, 2, true },
  };
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_PS_PLAN;
  m.u.ps_plan.job = JOB;
  m.u.ps_plan.epoch = epoch;
  m.u.ps_plan.prev_epoch = epoch - 1;
  m.u.ps_plan.nbuckets = 12;
  m.u.ps_plan.servers.v = sv;
  m.u.ps_plan.servers.n = 3;
  m.u.ps_plan.moves.v = mv;
  m.u.ps_plan.moves.n = 2;
  char *buf = NULL;
  size_t len = 0;
  assert_int_equal (mu_msg_encode (&m, &buf, &len), 0);
  assert_int_equal (muster_worker_kv_put (w, PLAN_KEY, buf, len, 2000), 0);
  free (buf);
}

void
test_bucket_plan (void **state)
{
  fx_t *f = *state;
  muster_worker_t *w = open_rank (f, 1); /* the ps of the 2 x 1 gang */
  assert_string_equal (muster_worker_role (w), "ps");
  muster_bucket_plan_t *p = NULL;
  assert_int_equal (muster_worker_bucket_plan (w, 0, &p), MUSTER_ENOTFOUND);
  assert_null (p);

  put_plan (w, EPOCH, 0);
  assert_int_equal (muster_worker_bucket_plan (w, 1000, &p), 0);
  assert_int_equal (p->epoch, EPOCH);
  assert_int_equal (p->prev_epoch, EPOCH - 1);
  assert_int_equal (p->nbuckets, 12);
  assert_int_equal (p->nservers, 3);
  assert_string_equal (p->servers[1].host, "h1");
  assert_int_equal (p->servers[2].port, 5002);
  assert_int_equal (p->nmoves, 2);
  assert_int_equal (p->moves[0].from_rank, -1);
  assert_int_equal (p->moves[0].from_old_rank, 2);
  assert_string_equal (p->moves[0].from_host, "h9");
  assert_int_equal (p->moves[0].to_rank, 0);
  assert_int_equal (p->moves[0].lost, 0);
  assert_int_equal (p->moves[1].lost, 1);
  assert_int_equal (muster_bucket_plan_owner (p, 0), 0);
  assert_int_equal (muster_bucket_plan_owner (p, 4), 1);
  assert_int_equal (muster_bucket_plan_owner (p, 7), 1);
  assert_int_equal (muster_bucket_plan_owner (p, 11), 2);
  assert_int_equal (muster_bucket_plan_owner (p, 12), MUSTER_EINVAL);

  /* the barrier refuses a server whose incoming move is not reported */
  assert_int_equal (muster_worker_migration_done (w, p, 1000), MUSTER_ENOTFOUND);
  muster_req_t *req = NULL;
  assert_int_equal (muster_worker_migration_done_nb (w, p, 1000, &req),
                    MUSTER_ENOTFOUND);
  assert_null (req);
  assert_int_equal (muster_worker_bucket_moved (w, p, 2, 1000), MUSTER_EINVAL);
  assert_int_equal (muster_worker_bucket_moved (w, p, 0, 1000), 0);
  fa_set_barrier_n (f->fa, 1);
  assert_int_equal (muster_worker_migration_done_nb (w, p, 2000, &req), 0);
  assert_non_null (req);
  assert_int_equal (muster_req_wait (req, 3000, NULL, NULL), 0);
  muster_req_free (&req);
  assert_int_equal (muster_worker_migration_done (w, p, 2000), 0);
  muster_bucket_plan_free (&p);
  assert_null (p);
  muster_bucket_plan_free (&p); /* NULL is fine */

  /* a plan of another epoch cannot be reported against */
  put_plan (w, EPOCH + 1, 0);
  assert_int_equal (muster_worker_bucket_plan (w, 1000, &p), 0);
  assert_int_equal (muster_worker_bucket_moved (w, p, 0, 1000), MUSTER_EINVAL);
  assert_int_equal (muster_worker_migration_done (w, p, 1000), MUSTER_EINVAL);
  muster_bucket_plan_free (&p);

  /* ranges that do not tile, and a value that is no plan */
  put_plan (w, EPOCH, 1);
  assert_int_equal (muster_worker_bucket_plan (w, 1000, &p), MUSTER_EPROTO);
  assert_null (p);
  assert_int_equal (muster_worker_kv_put (w, PLAN_KEY, "x", 1, 1000), 0);
  assert_int_equal (muster_worker_bucket_plan (w, 1000, &p), MUSTER_EPROTO);
  assert_int_equal (muster_worker_bucket_plan (NULL, 0, &p), MUSTER_EINVAL);
  muster_worker_finalize (&w);
}
