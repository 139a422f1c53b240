/*
 * log_fwd.c — batches of worker output lines within a budget (log_fwd.h).
 *
 * Lines are copied into a growing array of agent.logs records; the budget
 * is a fixed window: `used` bytes since `window_ms`, reset when the
 * interval has passed.  A line counts its bytes plus one (its newline).
 */
#include "worker/log_fwd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct mu_logfwd {
  uint64_t budget, interval_ms;
  uint64_t window_ms; /* start of the current interval */
  uint64_t used;      /* bytes kept in it */
  uint64_t dropped;   /* bytes dropped since the last take */
  mu_out_line_t *v;
  size_t n, cap;
  size_t pending; /* bytes of v */
};

int
mu_logfwd_new (const mu_logfwd_opts_t *o, mu_logfwd_t **out)
{
  *out = NULL;
  mu_logfwd_t *f = calloc (1, sizeof *f);
  if (f == NULL)
    return -ENOMEM;
  f->budget = o && o->budget ? o->budget : MU_LOGFWD_BUDGET_DEFAULT;
  f->interval_ms = o && o->interval_ms ? o->interval_ms : MU_LOGFWD_INTERVAL_MS;
  *out = f;
  return 0;
}

void
mu_logfwd_free_lines (mu_out_line_t *lines, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free (lines[i].text);
  free (lines);
}

void
mu_logfwd_destroy (mu_logfwd_t **f_p)
{
  if (f_p == NULL || *f_p == NULL)
    return;
  mu_logfwd_free_lines ((*f_p)->v, (*f_p)->n);
  free (*f_p);
  *f_p = NULL;
}

int
mu_logfwd_add (mu_logfwd_t *f, uint64_t now_ms, uint64_t rank, int is_err,
               const char *text, size_t len)
{
  if (now_ms < f->window_ms || now_ms - f->window_ms >= f->interval_ms)
    {
      f->window_ms = now_ms;
      f->used = 0;
    }
  if (f->used + len + 1 > f->budget)
    {
      f->dropped += len + 1;
      return 0;
    }
  if (f->n == f->cap)
    {
      size_t ncap = f->cap ? f->cap * 2 : 64;
      mu_out_line_t *v = realloc (f->v, ncap * sizeof *v);
      if (v == NULL)
        {
          f->dropped += len + 1;
          return -ENOMEM;
        }
      f->v = v;
      f->cap = ncap;
    }
  char *t = malloc (len + 1);
  if (t == NULL)
    {
      f->dropped += len + 1;
      return -ENOMEM;
    }
  memcpy (t, text, len);
  t[len] = '\0';
  f->v[f->n].rank = rank;
  f->v[f->n].err = is_err != 0;
  f->v[f->n].text = t;
  f->n++;
  f->used += len + 1;
  f->pending += len + 1;
  return 1;
}

size_t
mu_logfwd_pending (const mu_logfwd_t *f)
{
  return f->pending;
}

uint64_t
mu_logfwd_dropped (const mu_logfwd_t *f)
{
  return f->dropped;
}

void
mu_logfwd_take (mu_logfwd_t *f, mu_out_line_t **lines, size_t *n,
                uint64_t *dropped)
{
  *lines = f->v;
  *n = f->n;
  *dropped = f->dropped;
  f->v = NULL;
  f->n = f->cap = 0;
  f->pending = 0;
  f->dropped = 0;
}
