/*
 * out_buf.h — the bounded byte queue behind a non-blocking output stream
 * (out_queue.h), kept apart from file descriptors and the loop so its
 * rules can be tested alone.
 *
 * Bytes are appended at the back and consumed from the front, in order.
 * The buffer never refuses bytes (a writer that was told to hold back may
 * still finish the line it is emitting), but it says when its producers
 * must hold back: it becomes "held" when it reaches `high` bytes and stays
 * held until it has drained to `low` (high / 4) bytes, so producers are
 * paused and resumed in large steps, not on every byte.  Producers that
 * honour it bound it to `high` plus what they had in hand.
 */
#ifndef MU_OUT_BUF_H
#define MU_OUT_BUF_H

#include <stddef.h>

typedef struct mu_out_buf {
  char *data;
  size_t head; /* first unconsumed byte */
  size_t len;  /* unconsumed bytes */
  size_t cap;
  size_t high, low;
  int held;    /* reached high; not yet back down to low */
} mu_out_buf_t;

/* What changed with an append or a consume. */
typedef enum mu_out_buf_change {
  MU_OUT_BUF_SAME = 0,
  MU_OUT_BUF_HOLD,   /* just reached high: producers must hold back */
  MU_OUT_BUF_RESUME  /* just drained to low: producers may go on */
} mu_out_buf_change_t;

/* An empty buffer that holds back at `high` bytes (0 = 1 MiB); nothing is
 * allocated until the first append. */
void mu_out_buf_init (mu_out_buf_t *b, size_t high);
/* Append n bytes.  The change, or -ENOMEM (nothing appended). */
int mu_out_buf_append (mu_out_buf_t *b, const void *p, size_t n);
/* The contiguous unconsumed bytes (*n of them; NULL when empty). */
const char *mu_out_buf_peek (const mu_out_buf_t *b, size_t *n);
/* Drop the first n bytes (n <= what peek gave).  The change. */
mu_out_buf_change_t mu_out_buf_consume (mu_out_buf_t *b, size_t n);
/* Drop everything (the destination failed for good); frees the memory. */
void mu_out_buf_free (mu_out_buf_t *b);

#endif
