/*
 * rdzv_prop_test.c — property and scale tests of the rendezvous machine.
 *
 * The property test drives 2,000 random sequences (fixed seed, so a failure
 * reproduces) of join, leave, tick and open, over up to 64 sparse keys, through
 * machines with 1-3 random roles and random timers.  After every event it
 * checks that the machine agrees with a trivial model of who is present (and
 * that return codes and decisions follow from it); after every close, that
 * global, role and node ranks are gap-free, every role is within [min, max]
 * (short of max only by a timer or last_call 0), and the survivors of the
 * previous close are all there, in their old order, ahead of newcomers.  The
 * scale test forms two epochs of 100,000 nodes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "rendezvous/rdzv.h"

/* --- property test */

#define PK 64 /* keys */

static uint64_t
rnd (uint64_t *s) /* splitmix64 */
{
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint32_t
key_of (int i) /* sparse keys, including both ends of the range */
{
  if (i == 0)
    return 0;
  if (i == PK - 1)
    return UINT32_MAX;
  return (uint32_t)i * 2654435761u;
}

typedef struct model {
  int present[PK];
  uint32_t gen[PK], role[PK], nproc[PK];
  /* the previous close: key index and generation, in rank order */
  int prev_n, prev_i[PK];
  uint32_t prev_gen[PK];
  long closes;
} model_t;

static int
index_of (uint32_t key)
{
  for (int i = 0; i < PK; i++)
    if (key_of (i) == key)
      return i;
  return -1;
}

/* After every event: the machine agrees with the model about who is here. */
static void
check_event (const mu_rdzv_t *r, const model_t *md, mu_rdzv_decision_t d,
             const mu_rdzv_opts_t *o, uint64_t now)
{
  uint32_t in[MU_RDZV_MAX_ROLES] = { 0 }, waiting[MU_RDZV_MAX_ROLES] = { 0 };
  uint32_t nin = 0, nwait = 0;
  mu_rdzv_state_t st = mu_rdzv_state (r);
  assert_int_equal (d.epoch, mu_rdzv_epoch (r));
  if (st != MU_RDZV_OPEN)
    assert_int_equal (d.deadline_ms, 0);
  for (int i = 0; i < PK; i++) {
    int m = mu_rdzv_is_member (r, key_of (i));
    int w = mu_rdzv_is_waiting (r, key_of (i));
    assert_int_equal (m + w, md->present[i]);
    assert_false (st == MU_RDZV_IDLE && m);
    in[md->role[i]] += (uint32_t)m;
    waiting[md->role[i]] += (uint32_t)w;
    nin += (uint32_t)m;
    nwait += (uint32_t)w;
  }
  mu_rdzv_status_t p;
  mu_rdzv_get_progress (r, now, &p);
  assert_int_equal (p.joined, nin);
  assert_int_equal (p.waiting, nwait);
  int all_min = nin > 0, all_max = 1;
  for (size_t k = 0; k < o->nroles; k++) {
    assert_true (in[k] <= o->roles[k].max_nodes);
    if (st == MU_RDZV_OPEN && waiting[k] > 0)
      assert_int_equal (in[k], o->roles[k].max_nodes); /* nobody starves */
    all_min &= in[k] >= o->roles[k].min_nodes;
    all_max &= in[k] == o->roles[k].max_nodes;
  }
  if (st == MU_RDZV_OPEN) {
    assert_false (all_max);
    assert_int_equal (p.last_call_left >= 0, all_min);
    assert_int_equal (p.join_left >= 0, o->join_timeout_ms > 0);
    assert_int_equal (d.deadline_ms != 0, all_min || o->join_timeout_ms > 0);
  }
}

/* After a close: ranks are gap-free, counts in bounds, survivors in order. */
static void
check_closed (const mu_rdzv_t *r, model_t *md, const mu_rdzv_opts_t *o,
              int by_tick)
{
  size_t n;
  const mu_rdzv_member_t *m = mu_rdzv_members (r, &n);
  uint64_t first = 0, rfirst[MU_RDZV_MAX_ROLES] = { 0 };
  uint32_t cnt[MU_RDZV_MAX_ROLES] = { 0 };
  int seen[PK] = { 0 };
  assert_true (n > 0);
  for (size_t j = 0; j < n; j++) {
    int i = index_of (m[j].key);
    assert_true (i >= 0 && md->present[i] && !seen[i]);
    seen[i] = 1;
    assert_true (mu_rdzv_is_member (r, m[j].key));
    assert_int_equal (m[j].role, md->role[i]);
    assert_true (j == 0 || m[j - 1].role <= m[j].role);
    assert_int_equal (m[j].nproc, md->nproc[i]);
    assert_int_equal (m[j].node_rank, j);
    assert_int_equal (m[j].first_rank, first);
    assert_int_equal (m[j].role_first_rank, rfirst[m[j].role]);
    first += m[j].nproc;
    rfirst[m[j].role] += m[j].nproc;
    cnt[m[j].role]++;
  }
  assert_int_equal (mu_rdzv_world (r), first);
  int all_max = 1;
  for (uint32_t k = 0; k < o->nroles; k++) {
    uint32_t nodes;
    assert_int_equal (mu_rdzv_role_world (r, k, &nodes), rfirst[k]);
    assert_int_equal (nodes, cnt[k]);
    assert_in_range (cnt[k], o->roles[k].min_nodes, o->roles[k].max_nodes);
    all_max &= cnt[k] == o->roles[k].max_nodes;
  }
  /* Short of max only by last call or join timeout (a tick), or lc 0. */
  if (!all_max && !by_tick)
    assert_int_equal (o->last_call_ms, 0);
  /* Survivors of the previous close are all here, in their old order
   * within each role, ahead of every newcomer of their role. */
  size_t pos = 0;
  for (int j = 0; j < md->prev_n; j++) {
    int i = md->prev_i[j];
    if (!md->present[i] || md->gen[i] != md->prev_gen[j])
      continue;
    assert_true (seen[i] == 1);
    while (pos < n && m[pos].key != key_of (i))
      pos++;
    assert_true (pos < n); /* not found after the previous survivor */
  }
  uint32_t survivors_done[MU_RDZV_MAX_ROLES] = { 0 };
  for (size_t j = 0; j < n; j++) {
    int i = index_of (m[j].key), survivor = 0;
    for (int q = 0; q < md->prev_n; q++)
      if (md->prev_i[q] == i && md->prev_gen[q] == md->gen[i])
        survivor = 1;
    if (survivor)
      assert_false (survivors_done[m[j].role]);
    else
      survivors_done[m[j].role] = 1;
  }
  md->prev_n = (int)n;
  for (size_t j = 0; j < n; j++) {
    md->prev_i[j] = index_of (m[j].key);
    md->prev_gen[j] = md->gen[md->prev_i[j]];
  }
  md->closes++;
}

static void
run_sequence (uint64_t *s, model_t *md)
{
  mu_rdzv_role_t ro[3];
  size_t nroles = 1 + rnd (s) % 3;
  for (size_t k = 0; k < nroles; k++) {
    snprintf (ro[k].name, sizeof ro[k].name, "role%zu", k);
    ro[k].min_nodes = (uint32_t)(rnd (s) % 4);
    ro[k].max_nodes = ro[k].min_nodes + (uint32_t)(rnd (s) % 4);
    if (ro[k].max_nodes == 0)
      ro[k].max_nodes = 1;
    ro[k].nproc = 1 + (uint32_t)(rnd (s) % 3);
  }
  mu_rdzv_opts_t o = { ro, nroles, rnd (s) % 4 ? rnd (s) % 60 : 0,
                       rnd (s) % 4 ? 20 + rnd (s) % 200 : 0 };
  mu_rdzv_t *r = NULL;
  assert_int_equal (mu_rdzv_new (&o, &r), 0);
  memset (md, 0, offsetof (model_t, closes));
  uint64_t now = rnd (s) % 1000;
  mu_rdzv_decision_t d = { MU_RDZV_D_NONE, 0, 0 };
  int steps = 50 + (int)(rnd (s) % 150);
  for (int step = 0; step < steps; step++) {
    now += rnd (s) % 4 ? rnd (s) % 15 : 0;
    int op = (int)(rnd (s) % 100), i = (int)(rnd (s) % PK), rc, by_tick = 0;
    int urgent = d.action == MU_RDZV_D_FAILED || d.action == MU_RDZV_D_RESIZE
                 || d.action == MU_RDZV_D_MEMBER_LEFT
                 || d.action == MU_RDZV_D_BELOW_MIN;
    mu_rdzv_state_t before = mu_rdzv_state (r);
    if (op < 8 || (urgent && rnd (s) % 2)
        || (before == MU_RDZV_IDLE && op < 40)) {
      uint64_t e = mu_rdzv_epoch (r);
      assert_int_equal (mu_rdzv_open (r, now, &d), 0);
      assert_int_equal (d.epoch, e + 1);
    } else if (op < 55) {
      /* now and then a role that does not exist */
      uint32_t role = (uint32_t)(op == 54 ? nroles : rnd (s) % nroles);
      uint32_t np = (uint32_t)(rnd (s) % 4);
      rc = mu_rdzv_join (r, now, key_of (i), role, np, &d);
      if (role >= nroles)
        assert_int_equal (rc, MUSTER_EINVAL);
      else if (md->present[i])
        assert_int_equal (rc, MUSTER_EEXIST);
      else {
        assert_int_equal (rc, 0);
        md->present[i] = 1;
        md->gen[i]++;
        md->role[i] = role;
        md->nproc[i] = np ? np : ro[role].nproc;
        if (before == MU_RDZV_CLOSED)
          assert_true (d.action == MU_RDZV_D_RESIZE
                       || d.action == MU_RDZV_D_NONE);
      }
    } else if (op < 75) {
      int was_member = mu_rdzv_is_member (r, key_of (i));
      rc = mu_rdzv_leave (r, now, key_of (i), &d);
      assert_int_equal (rc, md->present[i] ? 0 : MUSTER_ENOTFOUND);
      md->present[i] = 0;
      if (rc == 0 && before == MU_RDZV_CLOSED && was_member) {
        uint32_t left = 0;
        for (int q = 0; q < PK; q++)
          left += md->role[q] == md->role[i]
                  && mu_rdzv_is_member (r, key_of (q));
        assert_int_equal (d.action, left < ro[md->role[i]].min_nodes
                                        ? MU_RDZV_D_BELOW_MIN
                                        : MU_RDZV_D_MEMBER_LEFT);
      } else if (rc == 0) {
        assert_true (d.action == MU_RDZV_D_NONE);
      }
    } else {
      uint64_t dl = d.deadline_ms;
      if (dl != 0 && rnd (s) % 2 && dl > now)
        now = dl;
      assert_int_equal (mu_rdzv_tick (r, now, &d), 0);
      if (dl != 0 && now < dl)
        assert_true (d.action == MU_RDZV_D_NONE && d.deadline_ms == dl);
      by_tick = 1;
    }
    check_event (r, md, d, &o, now);
    if (d.action == MU_RDZV_D_CLOSED) {
      assert_int_equal (mu_rdzv_state (r), MU_RDZV_CLOSED);
      check_closed (r, md, &o, by_tick);
    }
  }
  mu_rdzv_destroy (&r);
}

static void
test_property_random_sequences (void **state)
{
  (void)state;
  uint64_t seed = 0x6d7573746572ull; /* "muster" */
  model_t md;
  md.closes = 0;
  for (int seq = 0; seq < 2000; seq++)
    run_sequence (&seed, &md);
  assert_true (md.closes > 2000); /* the runs really do form rounds */
}

/* --- scale */

static uint32_t
scale_key (uint32_t i) /* odd multiplier: distinct, scattered keys */
{
  return i * 2654435761u;
}

static void
test_scale_100k (void **state)
{
  (void)state;
  enum { N = 100000 };
  mu_rdzv_role_t ro[] = { { "w", 1, N, 8 } };
  mu_rdzv_opts_t o = { ro, 1, 60000, 0 };
  mu_rdzv_t *r = NULL;
  mu_rdzv_decision_t d;
  assert_int_equal (mu_rdzv_new (&o, &r), 0);
  assert_int_equal (mu_rdzv_open (r, 0, &d), 0);
  for (uint32_t i = 0; i < N; i++)
    if (mu_rdzv_join (r, 1, scale_key (i), 0, 0, &d) != 0)
      fail_msg ("join %u failed", i);
  assert_int_equal (d.action, MU_RDZV_D_CLOSED); /* at max */
  size_t n;
  const mu_rdzv_member_t *m = mu_rdzv_members (r, &n);
  assert_int_equal (n, N);
  for (uint32_t i = 0; i < N; i++)
    if (m[i].key != scale_key (i) || m[i].node_rank != i
        || m[i].first_rank != 8ull * i || m[i].role_first_rank != 8ull * i)
      fail_msg ("epoch 1 member %u wrong", i);
  assert_int_equal (mu_rdzv_world (r), 8ull * N);

  /* Half leave; the survivors and N/2 newcomers form the next epoch. */
  for (uint32_t i = 0; i < N; i += 2)
    if (mu_rdzv_leave (r, 2, scale_key (i), &d) != 0)
      fail_msg ("leave %u failed", i);
  assert_int_equal (d.action, MU_RDZV_D_MEMBER_LEFT);
  assert_int_equal (mu_rdzv_open (r, 3, &d), 0);
  for (uint32_t i = N; i < N + N / 2; i++)
    if (mu_rdzv_join (r, 4, scale_key (i), 0, 0, &d) != 0)
      fail_msg ("join %u failed", i);
  assert_int_equal (d.action, MU_RDZV_D_CLOSED);
  assert_int_equal (d.epoch, 2);
  m = mu_rdzv_members (r, &n);
  assert_int_equal (n, N);
  for (uint32_t j = 0; j < N; j++) {
    uint32_t want = j < N / 2 ? 2 * j + 1 : j + N / 2;
    if (m[j].key != scale_key (want) || m[j].first_rank != 8ull * j)
      fail_msg ("epoch 2 member %u wrong", j);
  }
  assert_false (mu_rdzv_is_member (r, scale_key (0)));
  assert_true (mu_rdzv_is_member (r, scale_key (N)));
  mu_rdzv_destroy (&r);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_property_random_sequences),
    cmocka_unit_test (test_scale_100k),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
