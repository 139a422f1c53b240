/*
 * out_queue.h — a non-blocking, bounded output stream on a libuv loop:
 * the one path from all of a node's workers (and, in `muster run`, the
 * launcher's own messages) to its stdout or its stderr.
 *
 * Writing to a terminal nobody reads, or to a pipe whose reader stalls
 * (`muster run ... | (sleep 8; cat)`), blocks a plain write().  A loop
 * that blocks there stops heartbeats, spawns and exit reports, and the
 * gang is restarted for nothing.  So a mu_outq_t never blocks the loop:
 * what the destination does not take at once is queued (out_buf.h) and
 * written when it becomes writable.  The queue is bounded by back-pressure,
 * never by dropping: when `limit` bytes are queued it tells its watchers
 * to hold back (the agent stops reading its workers' pipes, so a worker
 * that keeps writing blocks in its own write() — it is not killed and no
 * line is lost), and to go on once it has drained to a quarter of that.
 * Watchers also hear when the destination fails for good (EPIPE: the
 * reader is gone); from then on output to it is dropped, as a shell's
 * would be, and the watcher says so once.
 *
 * Without changing the caller's file: O_NONBLOCK belongs to the open file
 * description, which a terminal or pipe shares with the shell and other
 * programs.  So a pipe or terminal is reopened through /proc/self/fd/N (a
 * description of its own, made non-blocking and watched with uv_poll); a
 * socket is written with send(MSG_DONTWAIT); a regular file is written
 * directly (it never waits on a reader); anything else gets O_NONBLOCK
 * just around each write(), retried from a timer.  SIGPIPE never kills
 * the process.
 *
 * Everything runs on the loop's thread; nothing is thread-safe.
 */
#ifndef MU_OUT_QUEUE_H
#define MU_OUT_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mu_outq mu_outq_t;

#define MU_OUTQ_LIMIT_DEFAULT (4u << 20) /* bytes queued before holding back */
#define MU_OUTQ_WATCHERS 4
#define MU_OUTQ_RETRY_MS 10 /* retry period where uv_poll cannot be used */

typedef enum mu_outq_event {
  MU_OUTQ_HOLD = 1, /* the limit is reached: stop producing */
  MU_OUTQ_RESUME,   /* drained (or failed): produce again */
  MU_OUTQ_FAILED    /* the destination failed for good; output is dropped */
} mu_outq_event_t;

typedef void (*mu_outq_cb) (void *arg, mu_outq_t *q, mu_outq_event_t ev);

typedef struct mu_outq_opts {
  int fd;           /* destination; not closed by the queue */
  const char *name; /* "stdout", "stderr": for messages */
  size_t limit;     /* 0 = MU_OUTQ_LIMIT_DEFAULT */
} mu_outq_opts_t;

/* A queue writing to o->fd from `loop`.  0, MUSTER_EINVAL (fd < 0) or
 * -ENOMEM; *out is owned by the caller (mu_outq_close). */
int mu_outq_new (uv_loop_t *loop, const mu_outq_opts_t *o, mu_outq_t **out);
/* Queue n bytes (written at once if the destination takes them).  Never
 * blocks; always takes the bytes (watchers are told to hold back past the
 * limit).  0, or the negative errno with which the destination failed
 * (the bytes are dropped), or -ENOMEM. */
int mu_outq_write (mu_outq_t *q, const char *p, size_t n);
/* 1 while producers must hold back. */
int mu_outq_held (const mu_outq_t *q);
/* Bytes queued, not yet written. */
size_t mu_outq_pending (const mu_outq_t *q);
/* Bytes mu_outq_write was given since the queue was made (metrics). */
uint64_t mu_outq_total (const mu_outq_t *q);
/* The destination's name given at creation. */
const char *mu_outq_name (const mu_outq_t *q);
/* Call cb(arg, q, event) on hold, resume and failure.  0 or -ENOSPC (at
 * most MU_OUTQ_WATCHERS); remove with mu_outq_unwatch (same cb and arg). */
int mu_outq_watch (mu_outq_t *q, mu_outq_cb cb, void *arg);
void mu_outq_unwatch (mu_outq_t *q, mu_outq_cb cb, void *arg);
/* Write what is still queued, waiting for the destination as long as it
 * takes (the end of a run: nothing is dropped), then release the queue
 * and set *q_p to NULL.  Accepts NULL.  Its handles close
 * asynchronously: run the loop afterwards (memory is freed then). */
void mu_outq_close (mu_outq_t **q_p);

#endif
