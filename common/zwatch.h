/*
 * zwatch.h — a ZeroMQ socket as a libuv watcher.
 *
 * ZeroMQ's ZMQ_FD is edge-triggered and only says "look at ZMQ_EVENTS";
 * any send or receive on the socket, from any handler, can consume the edge.
 * So a uv_poll alone loses messages.  The watcher (after Flux's
 * libzmqutil/zwatcher.c) combines:
 *   - uv_poll on ZMQ_FD (readable): wakes the loop when the edge fires;
 *   - uv_prepare: just before the loop blocks, reads ZMQ_EVENTS; if a
 *     message is already queued it starts a uv_idle so the loop does not
 *     block in poll;
 *   - uv_check: after the poll phase, drains while ZMQ_EVENTS has POLLIN.
 * Draining calls the user's callback once per message, at most `budget`
 * messages per loop iteration so one busy socket cannot starve the rest;
 * the prepare/idle pair brings the loop straight back for the remainder.
 * The callback must receive exactly one message (all its frames) with
 * ZMQ_DONTWAIT and return 0, or return -EAGAIN when there was none.
 */
#ifndef MU_ZWATCH_H
#define MU_ZWATCH_H

#include <uv.h>

typedef struct mu_zwatch mu_zwatch_t;

/* Called when the socket may have a message: receive ONE (ZMQ_DONTWAIT).
 * Return 0 if one was consumed, -EAGAIN if none was waiting. */
typedef int (*mu_zwatch_cb) (void *sock, void *arg);

/* Start watching `sock` on `loop`.  On success *out is owned by the caller
 * and must be released with mu_zwatch_stop() before the socket is closed.
 * Returns 0 or a negative code; on error the callback is never called. */
int mu_zwatch_start (uv_loop_t *loop, void *sock, mu_zwatch_cb cb, void *arg,
                     mu_zwatch_t **out);

/* Stop watching; the handles close asynchronously (the loop must run once
 * more to free them).  Accepts NULL and a pointer to NULL; sets *w_p NULL.
 * The callback is never called after this returns. */
void mu_zwatch_stop (mu_zwatch_t **w_p);

#endif
