/*
 * log_ring.h — a job's output as the coordinator keeps it for ctl.logs:
 * a bounded ring of numbered lines.
 *
 * Agents forward their workers' output lines (agent.logs); the coordinator
 * appends each to the job's ring, numbered 1, 2, 3, ... in arrival order.
 * The ring holds at most `cap` bytes, counting each line's text and a fixed
 * per-line overhead (MU_LOG_RING_LINE_COST), so memory per job is bounded
 * whatever the job writes: a new line evicts the oldest until it fits.  A
 * line longer than a quarter of the ring is cut to that size.  Readers poll
 * with a cursor (the next sequence number they want); a cursor that points
 * at evicted lines starts at the oldest line kept, and the reader can tell
 * from `first` that lines were lost.
 *
 * Pure: no I/O, no clock (callers pass the time), no globals.  One ring per
 * job; it lives as long as the job stays in the registry, finished or not.
 */
#ifndef MU_LOG_RING_H
#define MU_LOG_RING_H

#include <stddef.h>
#include <stdint.h>

#define MU_LOG_RING_DEFAULT (1u << 20) /* bytes kept per job */
#define MU_LOG_RING_MIN 4096u           /* smallest ring accepted */
#define MU_LOG_RING_LINE_COST 48u       /* bookkeeping charged per line */

typedef enum mu_log_stream {
  MU_LOGR_OUT = 0,
  MU_LOGR_ERR = 1,
  MU_LOGR_MARK = 2 /* written by muster itself ("[... N bytes dropped]") */
} mu_log_stream_t;

typedef struct mu_log_ring mu_log_ring_t;

/* One line as read back; `text` is valid until the next append. */
typedef struct mu_log_view {
  uint64_t seq;
  int64_t rank;  /* -1 for a marker */
  int stream;    /* mu_log_stream_t */
  uint64_t time_us;
  const char *text; /* NUL-terminated, len bytes */
  size_t len;
} mu_log_view_t;

/* A ring of at most cap bytes (0 = MU_LOG_RING_DEFAULT; raised to
 * MU_LOG_RING_MIN).  0 or -ENOMEM; the caller owns *out
 * (mu_log_ring_destroy). */
int mu_log_ring_new (size_t cap, mu_log_ring_t **out);
/* Free; accepts NULL and a pointer to NULL; sets *r_p to NULL. */
void mu_log_ring_destroy (mu_log_ring_t **r_p);
/* Append one line (len bytes, no newline; cut to cap/4), evicting the
 * oldest lines until it fits.  Returns its sequence number, or 0 when out
 * of memory (the line is lost, nothing else changes). */
uint64_t mu_log_ring_append (mu_log_ring_t *r, int64_t rank, int stream,
                             const char *text, size_t len, uint64_t time_us);
/* Up to max lines (0 = none) with seq >= since, only those of `rank` when
 * by_rank, into out[] (room for max).  Returns how many; *next receives the
 * cursor to pass as `since` next time (past the last line examined, so a
 * filtered read never rescans what it skipped). */
size_t mu_log_ring_read (const mu_log_ring_t *r, uint64_t since, int by_rank,
                         int64_t rank, size_t max, mu_log_view_t *out,
                         uint64_t *next);
/* Oldest sequence number kept (the next one to be written if empty). */
uint64_t mu_log_ring_first (const mu_log_ring_t *r);
/* The next sequence number to be written. */
uint64_t mu_log_ring_next (const mu_log_ring_t *r);
/* Bytes charged now (<= cap) and lines kept. */
size_t mu_log_ring_bytes (const mu_log_ring_t *r);
size_t mu_log_ring_lines (const mu_log_ring_t *r);

#endif
