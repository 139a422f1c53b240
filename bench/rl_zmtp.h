/*
 * rl_zmtp.h — a simulated agent's connection without libzmq: the DEALER
 * side of ZMTP 3.0 (NULL mechanism) over a plain non-blocking TCP socket,
 * for rdzv_load's shards (rdzv_sim.c, --agent-io zmtp, the default).
 *
 * Why: the load generator shares the machine's two cores with musterd,
 * and a libzmq DEALER per simulated agent costs it an I/O thread hop, a
 * mailbox signal and several syscalls per message (about 55 us of CPU per
 * simulated node in a 10,000-node round: decision 109).  What musterd sees
 * on the wire is the same either way: a ZMTP 3 greeting, READY with
 * Socket-Type DEALER and the node id as Identity, then one frame per
 * message.  So the agents still speak the real protocol to the real port
 * (libzmq's ROUTER today, a native ZMTP server tomorrow), and
 * `--agent-io zmq` keeps the libzmq DEALERs as the baseline.
 *
 * Outgoing bytes go straight to the socket; what the kernel does not take
 * is queued and the caller watches for EPOLLOUT (rl_zmtp_want_out) and
 * calls rl_zmtp_flush.  Incoming bytes are read in one call per readable
 * socket and split into messages; commands (the peer's READY) are
 * skipped, an ERROR command is reported.
 */
#ifndef RL_ZMTP_H
#define RL_ZMTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct rl_conn
{
  int fd;
  uint8_t *rx; /* a partial message read, not yet parsed */
  size_t rx_len, rx_cap;
  uint8_t *tx; /* bytes the kernel did not take yet */
  size_t tx_off, tx_len, tx_cap;
  uint8_t *hold; /* READY and messages, until the peer's greeting */
  size_t hold_len, hold_cap;
  uint8_t greeted; /* the peer's 64-byte greeting was read */
  uint8_t connecting;
} rl_conn_t;

/* One whole message received (its one frame, or its frames joined). */
typedef void (*rl_zmtp_msg_fn) (void *arg, const uint8_t *buf, size_t len);

/* A non-blocking socket connecting to sa, with the greeting queued and
 * READY (Socket-Type DEALER, Identity = identity) held until the peer's
 * greeting is read (messages sent meanwhile are held behind it).  0 or
 * -errno. */
int rl_zmtp_connect (rl_conn_t *c, const struct sockaddr *sa, socklen_t salen,
                     const char *identity);

/* Send one single-frame message (or queue what the kernel does not
 * take).  0 or -errno (a broken connection). */
int rl_zmtp_send (rl_conn_t *c, const void *buf, size_t len);

/* Bytes queued for the kernel?  (Then watch EPOLLOUT.) */
int rl_zmtp_want_out (const rl_conn_t *c);

/* Write what is queued.  0 or -errno. */
int rl_zmtp_flush (rl_conn_t *c);

/* Read what is waiting into scratch (the caller's, shared by all its
 * connections; again while a read fills it) and call fn for every whole
 * message; only a partial message at the end is kept with the
 * connection.  0, or -errno / -ECONNRESET (closed) / -EPROTO (not ZMTP 3,
 * or an ERROR command; *why says which). */
int rl_zmtp_read (rl_conn_t *c, uint8_t *scratch, size_t cap,
                  rl_zmtp_msg_fn fn, void *arg, const char **why);

/* Close the socket and free the buffers. */
void rl_zmtp_close (rl_conn_t *c);

#endif
