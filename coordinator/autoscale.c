/*
 * autoscale.c — the service autoscaler (rules A1-A7 in autoscale.h).
 *
 * DESIGN.  One figure decides: the wanted count ceil (L / T), clamped to
 * the bounds.  The hysteresis band only says *when* to move (the mean
 * load per replica left [T (1 - b), T (1 + b)]); *where* to move is
 * always the wanted count, which is a fixed point of both conditions, so
 * a decision never calls for its own undoing at the same load (A6).
 */
#include "coordinator/autoscale.h"

#include <math.h>
#include <string.h>

#include <muster/error.h>

void
mu_as_init (mu_as_t *a, const mu_as_cfg_t *cfg, uint64_t now_ms)
{
  memset (a, 0, sizeof *a);
  a->cfg = *cfg;
  if (a->cfg.min == 0)
    a->cfg.min = 1;
  if (a->cfg.max < a->cfg.min)
    a->cfg.max = a->cfg.min;
  if (a->cfg.cooldown_ms == 0)
    a->cfg.cooldown_ms = MU_AS_COOLDOWN_DEFAULT_MS;
  a->last_change_ms = now_ms;
}

static uint32_t
wanted (const mu_as_cfg_t *cfg, double load)
{
  double w = ceil (load / cfg->target);
  if (w < cfg->min)
    return cfg->min;
  if (w > cfg->max)
    return cfg->max;
  return (uint32_t)w;
}

int
mu_as_decide (mu_as_t *a, uint64_t now_ms, uint32_t current,
              const double *loads, size_t n, uint32_t *target)
{
  if (a == NULL || target == NULL || (n > 0 && loads == NULL))
    return MUSTER_EINVAL;
  double sum = 0;
  for (size_t i = 0; i < n; i++)
    {
      if (!isfinite (loads[i]) || loads[i] < 0)
        return MUSTER_EINVAL; /* A7 */
      sum += loads[i];
    }
  a->last_load = sum;
  if (n == 0 || !(a->cfg.target > 0) || current == 0) /* A1 */
    return 0;
  if (now_ms - a->last_change_ms < a->cfg.cooldown_ms
      && now_ms >= a->last_change_ms) /* A4 */
    return 0;
  double per = sum / current;
  uint32_t want = wanted (&a->cfg, sum);
  int up = per > a->cfg.target * (1 + MU_AS_BAND) && want > current;   /* A2 */
  int down = per < a->cfg.target * (1 - MU_AS_BAND) && want < current; /* A3 */
  if (!up && !down)
    return 0;
  a->last_change_ms = now_ms;
  a->last_target = want;
  *target = want;
  return 1;
}
