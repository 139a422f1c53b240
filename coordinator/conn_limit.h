/*
 * conn_limit.h — how many TCP connections the coordinator's ports hold,
 * what it does about a flood of them, and the hook an authentication
 * (ZAP) handler calls to refuse handshakes above a bound.
 *
 * Measured (bench/conn_flood.py, docs/benchmarks.md): stalled connections
 * (connect, send nothing) lock control clients out by exhausting
 * descriptors.  At the usual soft RLIMIT_NOFILE of 1024, about 1,000 of
 * them and libzmq's accept() fails with EMFILE; its listener then spins
 * (one core at 100 %) and accepts nothing, ctl.status goes unanswered,
 * until libzmq's default 30 s handshake timeout drops the stalled ones.
 * Memory is not the problem: 3.6 KiB of RSS per connection (19,000 cost
 * 68 MiB).  Hence:
 *
 *   - musterd raises RLIMIT_NOFILE to its hard limit at start and logs it
 *     (FD-LIMIT), so the bound is the machine's, not a default of 1024;
 *   - both ROUTER sockets drop a connection that has not finished its
 *     ZMTP handshake within MU_CONN_HANDSHAKE_MS (ZMQ_HANDSHAKE_IVL), so a
 *     flood must keep reconnecting to hold descriptors;
 *   - a socket monitor per port (mu_conn_watch_start) counts accepted and
 *     closed connections in a mu_conn_limit_t and logs, rate-limited to
 *     one line per MU_CONN_LOG_MS per kind: CONN-LIMIT when the count
 *     passes its maximum (below the descriptor limit, so before accept()
 *     fails), CONN-HANDSHAKE-DROPPED for connections dropped for never
 *     completing their handshake;
 *   - ZeroMQ cannot refuse one TCP connection, but a ZAP handler can deny
 *     its handshake: it calls mu_conn_admit() for each ZAP request and
 *     answers 400 when that returns MUSTER_EQUOTA (see below).
 *
 * zsrv: the native agent port (common/zmtp_server.c, agent_port.c) has no
 * socket monitor and no ZAP: its server reports accepts, closes and
 * dropped handshakes to the same counters, and its handshake asks
 * mu_auth_decide, which calls mu_conn_admit first (decision 106).
 *
 * The maximum defaults to the descriptor limit minus MU_CONN_FD_RESERVE
 * (descriptors kept for the coordinator's own files, sockets and pipes).
 */
#ifndef MU_CONN_LIMIT_H
#define MU_CONN_LIMIT_H

#include <stdint.h>
#include <uv.h>

#include "common/log.h"

#define MU_CONN_HANDSHAKE_MS 5000 /* ZMQ_HANDSHAKE_IVL on both ports */
#define MU_CONN_FD_RESERVE 256
#define MU_CONN_LOG_MS 10000      /* at most one line per kind per 10 s */

typedef struct mu_conn_limit {
  uint64_t max;      /* connections admitted at most (both ports) */
  uint64_t open;     /* accepted, not yet closed */
  uint64_t peak;
  uint64_t refused;  /* mu_conn_admit said no */
  uint64_t handshake_dropped;
  /* rate limiting of the log lines: last line, events since */
  uint64_t last_limit_log_ms, last_drop_log_ms;
  uint64_t limit_since, drop_since;
} mu_conn_limit_t;

/* Set up a counter; max 0 = the soft RLIMIT_NOFILE minus
 * MU_CONN_FD_RESERVE (at least 1). */
void mu_conn_limit_init (mu_conn_limit_t *l, uint64_t max);

/* The ZAP hook: may one more handshake proceed?  0 while the connections
 * open (the one asking included: it was counted when accepted) are at
 * most l->max, else MUSTER_EQUOTA (counted in l->refused; the caller
 * answers the ZAP request with status 400 "connection limit" and logs
 * CONN-REFUSED rate-limited).  From the ZAP handler, which runs on the
 * coordinator's loop: `if (mu_conn_admit (&c->conns) != 0) deny`. */
int mu_conn_admit (mu_conn_limit_t *l);

/* What the socket monitor reports (also callable by a test). */
void mu_conn_accepted (mu_conn_limit_t *l, mu_log_t *log, const char *port);
void mu_conn_closed (mu_conn_limit_t *l);
void mu_conn_handshake_dropped (mu_conn_limit_t *l, mu_log_t *log,
                                const char *port);

/* Monitor `sock` (accepted, disconnected, accept failures, handshake
 * failures) through an inproc PAIR joined to `loop`; `port` names it in
 * log lines ("agent", "control").  0 or a negative code; stop it with
 * mu_conn_watch_stop before zmq_ctx_term (it holds a socket of zctx). */
typedef struct mu_conn_watch mu_conn_watch_t;
int mu_conn_watch_start (uv_loop_t *loop, void *zctx, void *sock,
                         const char *port, mu_conn_limit_t *l, mu_log_t *log,
                         mu_conn_watch_t **out);
/* Call cb(fd, arg) for every connection of the watched socket that
 * closes (ZMQ_EVENT_DISCONNECTED: the descriptor it had); NULL = none. */
void mu_conn_watch_on_close (mu_conn_watch_t *w, void (*cb) (int, void *),
                             void *arg);
/* Handle the events already queued (before trusting a descriptor that
 * may have been reused: a closed connection's event is queued before its
 * descriptor can be handed out again). */
void mu_conn_watch_drain (mu_conn_watch_t *w);
/* Accepts NULL and a pointer to NULL. */
void mu_conn_watch_stop (mu_conn_watch_t **w_p);

#endif
