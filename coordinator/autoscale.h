/*
 * autoscale.h — the autoscaler of a service job, as a pure machine.
 *
 * A service's replicas report a load figure (requests per second, queue
 * length: whatever unit the spec's autoscale_target is written in); the
 * autoscaler turns the sum of those figures, the time and the job's
 * bounds into a new replica target, or none.  It does no I/O, reads no
 * clock (time comes in) and never allocates; musterd (service.c) feeds it
 * from the coordinator's sweep and hands a target to the scheduler
 * (sched_glue.h).  It is built like job_machine.h: rules written here,
 * a table test and a seeded property test beside it (autoscale_test.c).
 *
 * Rules.  T is the target load per replica, b the hysteresis band
 * (MU_AS_BAND, 10 %), c the replicas running now, L the sum of the loads
 * given, want = ceil (L / T) clamped to [min, max].
 *  A1 No load figure (n = 0), T = 0 or c = 0: no decision.
 *  A2 Up: when L / c > T (1 + b), the target becomes want (if above c).
 *  A3 Down: when L / c < T (1 - b), the target becomes want (if below c).
 *     Between the two the replicas stay as they are (hysteresis): a load
 *     that wobbles around T never moves the target.
 *  A4 Cooldown: no decision until cooldown_ms after the last change (or
 *     after mu_as_init: a service that just started is left to settle).
 *  A5 Bounds: a decision is always within [min, max]; a target of c
 *     (already at the bound) is no decision.  min >= 1, max >= min.
 *  A6 Stability: with the load unchanged, the target a decision gives
 *     asks for no further decision (want is a fixed point of A2 and A3),
 *     so the autoscaler does not flap.
 *  A7 mu_as_decide with NULL arguments, a negative or non-finite load is
 *     MUSTER_EINVAL, and nothing changes.
 */
#ifndef MU_AUTOSCALE_H
#define MU_AUTOSCALE_H

#include <stddef.h>
#include <stdint.h>

#define MU_AS_BAND 0.10
#define MU_AS_COOLDOWN_DEFAULT_MS 30000

typedef struct mu_as_cfg {
  uint32_t min, max;    /* replica bounds (A5) */
  double target;        /* load per replica aimed at; 0 = off (A1) */
  uint64_t cooldown_ms; /* A4; 0 = MU_AS_COOLDOWN_DEFAULT_MS */
} mu_as_cfg_t;

typedef struct mu_as {
  mu_as_cfg_t cfg;
  uint64_t last_change_ms; /* A4: the last change (or init) */
  uint32_t last_target;    /* the last decision's target, 0 = none yet */
  double last_load;        /* L at the last call */
} mu_as_t;

/* Set up with cfg at time now_ms (A4 counts from here).  min 0 is taken
 * as 1, max below min as min. */
void mu_as_init (mu_as_t *a, const mu_as_cfg_t *cfg, uint64_t now_ms);

/* Decide from the loads of the replicas (or one figure for the whole
 * job, n = 1) with `current` replicas running: 1 with *target set (a
 * change), 0 for none, MUSTER_EINVAL (A7). */
int mu_as_decide (mu_as_t *a, uint64_t now_ms, uint32_t current,
                  const double *loads, size_t n, uint32_t *target);

#endif
