/*
 * liveness.c — nodes in the order they were last heard from (liveness.h).
 *
 * Parallel arrays rather than a node struct field, so the table is pure
 * and the links of 10,000 nodes (160 KB) sit together in memory: a sweep
 * that finds nobody lost reads one entry.
 */
#include "coordinator/liveness.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
mu_live_reserve (mu_live_t *l, uint32_t cap)
{
  if (cap <= l->cap)
    return 0;
  uint32_t ncap = l->cap ? l->cap : 64;
  while (ncap < cap)
    ncap *= 2;
  uint32_t *p = realloc (l->prev, ncap * sizeof *p);
  if (p == NULL)
    return -ENOMEM;
  l->prev = p;
  uint32_t *n = realloc (l->next, ncap * sizeof *n);
  if (n == NULL)
    return -ENOMEM;
  l->next = n;
  uint64_t *s = realloc (l->seen, ncap * sizeof *s);
  if (s == NULL)
    return -ENOMEM;
  l->seen = s;
  uint8_t *in = realloc (l->in, ncap);
  if (in == NULL)
    return -ENOMEM;
  l->in = in;
  memset (l->in + l->cap, 0, ncap - l->cap);
  if (l->cap == 0)
    l->head = l->tail = MU_LIVE_NIL;
  l->cap = ncap;
  return 0;
}

static void
unlink_key (mu_live_t *l, uint32_t key)
{
  uint32_t p = l->prev[key], n = l->next[key];
  if (p != MU_LIVE_NIL)
    l->next[p] = n;
  else
    l->head = n;
  if (n != MU_LIVE_NIL)
    l->prev[n] = p;
  else
    l->tail = p;
  l->in[key] = 0;
  l->count--;
}

void
mu_live_touch (mu_live_t *l, uint32_t key, uint64_t now)
{
  if (key >= l->cap)
    return; /* not reserved: a caller's bug, never a crash */
  if (l->in[key])
    {
      if (l->tail == key)
        {
          if (now > l->seen[key])
            l->seen[key] = now;
          return;
        }
      unlink_key (l, key);
    }
  if (l->tail != MU_LIVE_NIL && now < l->seen[l->tail])
    now = l->seen[l->tail];
  l->seen[key] = now;
  l->prev[key] = l->tail;
  l->next[key] = MU_LIVE_NIL;
  if (l->tail != MU_LIVE_NIL)
    l->next[l->tail] = key;
  else
    l->head = key;
  l->tail = key;
  l->in[key] = 1;
  l->count++;
}

void
mu_live_remove (mu_live_t *l, uint32_t key)
{
  if (key < l->cap && l->in[key])
    unlink_key (l, key);
}

int
mu_live_expired (const mu_live_t *l, uint64_t now, uint64_t limit,
                 uint32_t *key)
{
  if (l->cap == 0 || l->head == MU_LIVE_NIL)
    return 0;
  uint64_t seen = l->seen[l->head];
  if (now <= seen || now - seen <= limit)
    return 0;
  *key = l->head;
  return 1;
}

void
mu_live_refresh_all (mu_live_t *l, uint64_t now)
{
  for (uint32_t k = l->cap ? l->head : MU_LIVE_NIL; k != MU_LIVE_NIL;
       k = l->next[k])
    l->seen[k] = now;
}

void
mu_live_free (mu_live_t *l)
{
  free (l->prev);
  free (l->next);
  free (l->seen);
  free (l->in);
  memset (l, 0, sizeof *l);
}
