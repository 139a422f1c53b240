/*
 * out_buf.c — the bounded byte queue of out_buf.h: one array, consumed
 * from a moving head, compacted (one memmove of what is left) only when
 * an append would not fit behind it, grown by doubling.  Both are
 * amortized O(1) per byte.
 */
#include "worker/out_buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MU_OUT_BUF_HIGH_DEFAULT (1u << 20)
#define MU_OUT_BUF_MIN_CAP 4096

void
mu_out_buf_init (mu_out_buf_t *b, size_t high)
{
  memset (b, 0, sizeof *b);
  b->high = high ? high : MU_OUT_BUF_HIGH_DEFAULT;
  b->low = b->high / 4;
}

int
mu_out_buf_append (mu_out_buf_t *b, const void *p, size_t n)
{
  if (n == 0)
    return MU_OUT_BUF_SAME;
  if (b->head + b->len + n > b->cap)
    {
      if (b->len + n <= b->cap && b->head > 0)
        {
          memmove (b->data, b->data + b->head, b->len);
          b->head = 0;
        }
      else
        {
          size_t cap = b->cap ? b->cap : MU_OUT_BUF_MIN_CAP;
          while (cap < b->len + n)
            {
              if (cap > ((size_t)-1) / 2)
                return -ENOMEM;
              cap *= 2;
            }
          char *d = malloc (cap);
          if (d == NULL)
            return -ENOMEM;
          if (b->len > 0)
            memcpy (d, b->data + b->head, b->len);
          free (b->data);
          b->data = d;
          b->head = 0;
          b->cap = cap;
        }
    }
  memcpy (b->data + b->head + b->len, p, n);
  b->len += n;
  if (!b->held && b->len >= b->high)
    {
      b->held = 1;
      return MU_OUT_BUF_HOLD;
    }
  return MU_OUT_BUF_SAME;
}

const char *
mu_out_buf_peek (const mu_out_buf_t *b, size_t *n)
{
  *n = b->len;
  return b->len ? b->data + b->head : NULL;
}

mu_out_buf_change_t
mu_out_buf_consume (mu_out_buf_t *b, size_t n)
{
  if (n > b->len)
    n = b->len;
  b->head += n;
  b->len -= n;
  if (b->len == 0)
    b->head = 0;
  if (b->held && b->len <= b->low)
    {
      b->held = 0;
      return MU_OUT_BUF_RESUME;
    }
  return MU_OUT_BUF_SAME;
}

void
mu_out_buf_free (mu_out_buf_t *b)
{
  free (b->data);
  b->data = NULL;
  b->head = b->len = b->cap = 0;
  b->held = 0;
}
