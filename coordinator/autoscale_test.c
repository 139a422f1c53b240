/*
 * autoscale_test.c — the service autoscaler (autoscale.h): one row per
 * rule (loads, time and replicas in; the decision out), then seeded random
 * load sequences checked against the rules' promises: bounds (A5), the
 * cooldown (A4), the direction of every move (A2, A3) and stability at a
 * steady load (A6).  MU_SEED replays a sequence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <muster/error.h>

#include "coordinator/autoscale.h"

typedef struct row {
  const char *name;
  uint32_t min, max;
  double target;
  uint64_t cooldown_ms, last_change_ms, now_ms;
  uint32_t current;
  double loads[4];
  size_t n;
  int want_rc;          /* 1 decision, 0 none, or an error */
  uint32_t want_target; /* when want_rc == 1 */
} row_t;

/* Rows start from BASE and override a field or two: that is the point. */
#pragma GCC diagnostic ignored "-Woverride-init"

/* 3 replicas aiming at 10 each, bounds 1..6, cooldown 1 s passed. */
#define BASE .min = 1, .max = 6, .target = 10, .cooldown_ms = 1000,         \
             .last_change_ms = 0, .now_ms = 5000, .current = 3

static const row_t rows[] = {
  { "A1 no load reported: nothing", BASE, .n = 0, .want_rc = 0 },
  { "A1 autoscaling off (target 0): nothing", BASE, .target = 0,
    .loads = { 90 }, .n = 1, .want_rc = 0 },
  { "A2 loaded above the band: up to ceil(L/T)", BASE,
    .loads = { 20, 20, 10 }, .n = 3, .want_rc = 1, .want_target = 5 },
  { "A2 one figure for the whole job counts the same", BASE,
    .loads = { 50 }, .n = 1, .want_rc = 1, .want_target = 5 },
  { "A3 idle below the band: down to ceil(L/T)", BASE,
    .loads = { 2, 3, 4 }, .n = 3, .want_rc = 1, .want_target = 1 },
  { "A3 hysteresis: 8 % under the target stays", BASE,
    .loads = { 9.2, 9.2, 9.2 }, .n = 3, .want_rc = 0 },
  { "A2 hysteresis: 8 % over the target stays", BASE,
    .loads = { 10.8, 10.8, 10.8 }, .n = 3, .want_rc = 0 },
  { "A4 within the cooldown: nothing", BASE, .last_change_ms = 4500,
    .loads = { 90 }, .n = 1, .want_rc = 0 },
  { "A5 up bounded by max", BASE, .loads = { 500 }, .n = 1, .want_rc = 1,
    .want_target = 6 },
  { "A5 down bounded by min", BASE, .min = 2, .loads = { 0 }, .n = 1,
    .want_rc = 1, .want_target = 2 },
  { "A5 at the bound already: nothing", BASE, .max = 3, .loads = { 500 },
    .n = 1, .want_rc = 0 },
  { "A7 a negative load", BASE, .loads = { 5, -1 }, .n = 2,
    .want_rc = MUSTER_EINVAL },
  { "A7 a NaN load", BASE, .loads = { NAN }, .n = 1,
    .want_rc = MUSTER_EINVAL },
  { "A7 an infinite load", BASE, .loads = { INFINITY }, .n = 1,
    .want_rc = MUSTER_EINVAL },
};

static void
test_rows (void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    {
      const row_t *r = &rows[i];
      mu_as_cfg_t cfg = { r->min, r->max, r->target, r->cooldown_ms };
      mu_as_t a;
      mu_as_init (&a, &cfg, r->last_change_ms);
      uint32_t t = 0;
      int rc = mu_as_decide (&a, r->now_ms, r->current, r->loads, r->n, &t);
      if (rc != r->want_rc || (rc == 1 && t != r->want_target))
        {
          print_error ("row '%s': rc %d target %u, want rc %d target %u\n",
                       r->name, rc, t, r->want_rc, r->want_target);
          fail ();
        }
      if (rc != 1)
        assert_int_equal (a.last_change_ms, r->last_change_ms);
    }
}

static void
test_bad_args (void **state)
{
  (void)state;
  mu_as_cfg_t cfg = { 1, 4, 10, 0 };
  mu_as_t a;
  mu_as_init (&a, &cfg, 0);
  assert_int_equal (a.cfg.cooldown_ms, MU_AS_COOLDOWN_DEFAULT_MS);
  uint32_t t;
  double l = 1;
  assert_int_equal (mu_as_decide (NULL, 0, 1, &l, 1, &t), MUSTER_EINVAL);
  assert_int_equal (mu_as_decide (&a, 0, 1, &l, 1, NULL), MUSTER_EINVAL);
  assert_int_equal (mu_as_decide (&a, 0, 1, NULL, 1, &t), MUSTER_EINVAL);
  mu_as_cfg_t odd = { 0, 0, 10, 5 };
  mu_as_init (&a, &odd, 0);
  assert_int_equal (a.cfg.min, 1);
  assert_int_equal (a.cfg.max, 1);
}

static uint64_t rng;

static uint32_t
rnd (uint32_t n)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static void
one_sequence (uint64_t seq)
{
  mu_as_cfg_t cfg = { 1 + rnd (3), 0, 1 + rnd (50), 100 + rnd (2000) };
  cfg.max = cfg.min + rnd (8);
  mu_as_t a;
  uint64_t now = 1000;
  mu_as_init (&a, &cfg, now);
  uint32_t current = cfg.min + rnd (cfg.max - cfg.min + 1);
  uint64_t last_change = now;
  double load = rnd (400);
  for (int i = 0; i < 200; i++)
    {
      now += rnd (700);
      if (rnd (4) == 0)
        load = rnd (400) + rnd (100) / 100.0;
      size_t n = 1 + rnd (4);
      double loads[4];
      for (size_t k = 0; k < n; k++)
        loads[k] = load / (double)n;
      uint32_t t = 0;
      int rc = mu_as_decide (&a, now, current, loads, n, &t);
      assert_true (rc == 0 || rc == 1);
      if (rc == 0)
        continue;
      double per = load / current;
      if (t < cfg.min || t > cfg.max || t == current
          || now - last_change < cfg.cooldown_ms
          || (t > current && !(per > cfg.target * (1 + MU_AS_BAND)))
          || (t < current && !(per < cfg.target * (1 - MU_AS_BAND))))
        {
          print_error ("seq %llu step %d: load %.2f per %.2f current %u -> "
                       "%u (bounds %u..%u, T %.0f)\n", (unsigned long long)seq,
                       i, load, per, current, t, cfg.min, cfg.max, cfg.target);
          fail ();
        }
      current = t;
      last_change = now;
      /* A6: the same load after the cooldown asks for nothing more. */
      mu_as_t probe = a;
      uint32_t t2;
      assert_int_equal (mu_as_decide (&probe, now + cfg.cooldown_ms, current,
                                      loads, n, &t2),
                        0);
    }
}

static void
test_random_sequences (void **state)
{
  (void)state;
  const char *env = getenv ("MU_SEED");
  uint64_t seed = env ? strtoull (env, NULL, 10) : (uint64_t)time (NULL);
  print_message ("autoscale_test: seed %llu (MU_SEED=%llu replays)\n",
                 (unsigned long long)seed, (unsigned long long)seed);
  for (uint64_t s = 0; s < 2000; s++)
    {
      rng = (seed * 2654435761u + s) | 1;
      one_sequence (s);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_rows),
    cmocka_unit_test (test_bad_args),
    cmocka_unit_test (test_random_sequences),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
