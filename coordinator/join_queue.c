/*
 * join_queue.c — joins whose rdzv.progress is held back: a FIFO of (node
 * key, due time) in one growing array (see join_queue.h).  The array is
 * compacted when the consumed front is at least half of it, so memory
 * follows the pending count, and it is kept between rounds.
 */
#include "coordinator/join_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
mu_jq_note (mu_join_queue_t *q, uint32_t key, uint64_t now, uint64_t delay)
{
  if (q->head > 0 && q->head >= q->len / 2)
    {
      memmove (q->v, q->v + q->head, (q->len - q->head) * sizeof *q->v);
      q->len -= q->head;
      q->head = 0;
    }
  if (q->len == q->cap)
    {
      size_t ncap = q->cap ? q->cap * 2 : 64;
      mu_jq_entry_t *nv = realloc (q->v, ncap * sizeof *nv);
      if (nv == NULL)
        return -ENOMEM;
      q->v = nv;
      q->cap = ncap;
    }
  uint64_t due = now + delay;
  if (q->len > q->head && due < q->v[q->len - 1].due_ms)
    due = q->v[q->len - 1].due_ms; /* the clock stepped back: stay FIFO */
  q->v[q->len].key = key;
  q->v[q->len].due_ms = due;
  q->len++;
  return 0;
}

int
mu_jq_pop_due (mu_join_queue_t *q, uint64_t now, uint32_t *key)
{
  if (q->head == q->len || q->v[q->head].due_ms > now)
    return 0;
  *key = q->v[q->head++].key;
  if (q->head == q->len)
    q->head = q->len = 0;
  return 1;
}

uint64_t
mu_jq_next_due (const mu_join_queue_t *q)
{
  return q->head < q->len ? q->v[q->head].due_ms : 0;
}

size_t
mu_jq_pending (const mu_join_queue_t *q)
{
  return q->len - q->head;
}

void
mu_jq_clear (mu_join_queue_t *q)
{
  q->head = q->len = 0;
}

void
mu_jq_free (mu_join_queue_t *q)
{
  free (q->v);
  memset (q, 0, sizeof *q);
}
