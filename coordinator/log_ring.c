/*
 * log_ring.c — the bounded ring of a job's output lines (log_ring.h).
 *
 * Lines are kept as individually allocated entries in a circular array of
 * pointers that grows by doubling; sequence numbers are contiguous, so the
 * entry of seq s sits at (head + s - first) and a cursor read is O(1) to
 * find its start.  Memory is bounded by `cap`: every entry is charged its
 * text plus MU_LOG_RING_LINE_COST, and the oldest entries are freed until a
 * new one fits.
 */
#include "coordinator/log_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
  int64_t rank;
  uint64_t time_us;
  uint32_t len;
  uint8_t stream;
  char text[]; /* len + 1 bytes */
} entry_t;

struct mu_log_ring {
  size_t cap;      /* bytes */
  size_t used;     /* bytes charged */
  entry_t **slots; /* circular */
  size_t nslots;   /* capacity of slots (power of two) */
  size_t head;     /* slot of the oldest entry */
  size_t count;    /* entries kept */
  uint64_t first;  /* seq of the oldest entry */
};

static size_t
cost (size_t len)
{
  return len + MU_LOG_RING_LINE_COST;
}

int
mu_log_ring_new (size_t cap, mu_log_ring_t **out)
{
  *out = NULL;
  mu_log_ring_t *r = calloc (1, sizeof *r);
  if (r == NULL)
    return -ENOMEM;
  r->cap = cap ? cap : MU_LOG_RING_DEFAULT;
  if (r->cap < MU_LOG_RING_MIN)
    r->cap = MU_LOG_RING_MIN;
  r->first = 1;
  *out = r;
  return 0;
}

static void
drop_oldest (mu_log_ring_t *r)
{
  entry_t *e = r->slots[r->head];
  r->used -= cost (e->len);
  free (e);
  r->slots[r->head] = NULL;
  r->head = (r->head + 1) & (r->nslots - 1);
  r->count--;
  r->first++;
}

void
mu_log_ring_destroy (mu_log_ring_t **r_p)
{
  if (r_p == NULL || *r_p == NULL)
    return;
  mu_log_ring_t *r = *r_p;
  while (r->count > 0)
    drop_oldest (r);
  free (r->slots);
  free (r);
  *r_p = NULL;
}

/* Room for one more slot: double the array, unrolling the circle. */
static int
grow (mu_log_ring_t *r)
{
  if (r->count < r->nslots)
    return 0;
  size_t n = r->nslots ? r->nslots * 2 : 64;
  entry_t **s = malloc (n * sizeof *s);
  if (s == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < r->count; i++)
    s[i] = r->slots[(r->head + i) & (r->nslots - 1)];
  free (r->slots);
  r->slots = s;
  r->nslots = n;
  r->head = 0;
  return 0;
}

uint64_t
mu_log_ring_append (mu_log_ring_t *r, int64_t rank, int stream,
                    const char *text, size_t len, uint64_t time_us)
{
  if (len > r->cap / 4)
    len = r->cap / 4;
  entry_t *e = malloc (sizeof *e + len + 1);
  if (e == NULL)
    return 0;
  while (r->count > 0 && r->used + cost (len) > r->cap)
    drop_oldest (r);
  if (grow (r) != 0)
    {
      free (e);
      return 0;
    }
  e->rank = rank;
  e->time_us = time_us;
  e->len = (uint32_t)len;
  e->stream = (uint8_t)stream;
  memcpy (e->text, text, len);
  e->text[len] = '\0';
  r->slots[(r->head + r->count) & (r->nslots - 1)] = e;
  r->count++;
  r->used += cost (len);
  return r->first + r->count - 1;
}

size_t
mu_log_ring_read (const mu_log_ring_t *r, uint64_t since, int by_rank,
                  int64_t rank, size_t max, mu_log_view_t *out,
                  uint64_t *next)
{
  uint64_t end = r->first + r->count;
  uint64_t s = since < r->first ? r->first : since;
  size_t got = 0;
  while (s < end && got < max)
    {
      const entry_t *e = r->slots[(r->head + (s - r->first)) & (r->nslots - 1)];
      if (!by_rank || e->rank == rank)
        {
          out[got].seq = s;
          out[got].rank = e->rank;
          out[got].stream = e->stream;
          out[got].time_us = e->time_us;
          out[got].text = e->text;
          out[got].len = e->len;
          got++;
        }
      s++;
    }
  *next = s > end ? end : s; /* a cursor past the end starts over there */
  return got;
}

uint64_t
mu_log_ring_first (const mu_log_ring_t *r)
{
  return r->first;
}

uint64_t
mu_log_ring_next (const mu_log_ring_t *r)
{
  return r->first + r->count;
}

size_t
mu_log_ring_bytes (const mu_log_ring_t *r)
{
  return r->used;
}

size_t
mu_log_ring_lines (const mu_log_ring_t *r)
{
  return r->count;
}
