/*
 * standby.h — a second musterd that follows the primary's journal and
 * takes over when the primary stops, fenced by a term.
 *
 * The primary (`musterd --standby-bind EP`) serves a ROUTER socket,
 * CURVE-authenticated with its server key, that admits one key only: its
 * own.  A standby is a musterd started with a copy of the primary's
 * server.key/server.key_secret and authorized/ in its own state directory
 * (`musterd --standby-of EP`): it connects with that key pair, so holding
 * the server's secret is what makes it a standby, and agents that pinned
 * the server key accept it when it takes over.
 *
 * The stream (standby_serve.c), three frames per message: the kind
 * ("sync", "rec", "hb", or "fence" from a new primary), 24 bytes of term,
 * segment and sequence (u64 little endian each), and the payload.  On a
 * standby's hello the primary compacts its journal and sends the
 * snapshot file whole ("sync": the snapshot's bytes, the segment that
 * follows it); then every record it appends ("rec", numbered 1, 2, ...
 * within the segment: the payload as journaled), and every 100 ms a
 * heartbeat with the last record's number; after each later compaction a
 * new sync.  The primary also sends the node keys of authorized/ on the
 * hello and whenever a node enrolls ("key": file name and bytes), so
 * nodes that enrolled with the primary are known to the standby.  The stream is asynchronous: the
 * primary never waits for the standby, and records in flight when the
 * primary dies are lost to the standby like a torn tail (the agents'
 * reconciliation then fences what the standby does not know of).
 *
 * The standby (standby_follow.c) writes what it receives into its own
 * STATE_DIR/journal in the journal's own file format (common/journal.h),
 * fsyncing each record, sequenced by mu_follow_on (common/term.h).  When
 * it has heard nothing for its lease (--standby-lease, 500 ms by default)
 * after a sync, it takes over: it stores term+1 in STATE_DIR/term, then
 * starts as any musterd does on a state directory (replay, restore: the
 * running jobs stay in their epoch while their agents, rotating through
 * their list of coordinator endpoints, register again).  Never synced, it
 * never takes over: it waits, saying so (STANDBY-WAIT).
 *
 * Fencing: every message that commands an agent carries the term; agents
 * refuse a lower term than they have seen.  The new primary sends "fence"
 * with its term to the old one's standby endpoint every 200 ms, and agents
 * send the highest term they have seen in agent.register; a primary that
 * receives a higher term either way (it was stalled, not dead, or was
 * restarted on a stale state directory) logs STEP-DOWN and exits at
 * once, without a word to any agent.
 */
#ifndef MU_STANDBY_H
#define MU_STANDBY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/log.h"
#include "common/term.h"
#include "coordinator/coord.h"

#define MU_STANDBY_HB_MS 100u
#define MU_STANDBY_LEASE_MS 500u
#define MU_STANDBY_FENCE_MS 200u
#define MU_STREAM_HDR 24

typedef struct mu_repl mu_repl_t;

/* standby_serve.c (the primary's side; nothing without
 * opts.standby_bind).  Start after the auth and zmq context are up. */
int mu_repl_start (mu_coord_t *c);
/* A record was appended to the journal: stream it. */
void mu_repl_record (mu_coord_t *c, const void *payload, size_t len);
/* The journal was compacted: send the new snapshot to every standby. */
void mu_repl_resync (mu_coord_t *c);
/* A higher term than ours was seen (a fence, or an agent's register):
 * log STEP-DOWN and exit(3) at once.  Does not return. */
void mu_repl_step_down (mu_coord_t *c, uint64_t term, const char *told_by);
/* A node enrolled (its key may be in authorized/ now): send the keys. */
void mu_repl_keys (mu_coord_t *c);
void mu_repl_stop (mu_coord_t *c);
/* The bound standby endpoint, or NULL. */
const char *mu_coord_standby_endpoint (const mu_coord_t *c);

/* standby_follow.c */
typedef struct mu_standby_opts
{
  const char *primary;   /* the primary's --standby-bind endpoint */
  const char *state_dir; /* the standby's own, with the server key copied */
  uint64_t lease_ms;     /* 0 = MU_STANDBY_LEASE_MS */
  int insecure;
  mu_log_t *log;
} mu_standby_opts_t;

/* Follow the primary until it has been silent for the lease after a sync;
 * then store the new term and return 0 with *term_out set (the caller
 * starts serving under it).  Blocks (nothing else runs in a standby).
 * Errors: a code with `err` (no server key in the state directory, a bad
 * endpoint, a journal directory that cannot be written). */
int mu_standby_follow (const mu_standby_opts_t *o, uint64_t *term_out,
                       char *err, size_t errlen);

/* After a takeover: tell the old primary (at `primary`) every 200 ms
 * that term `term` rules, so that it steps down if it wakes. */
typedef struct mu_fence mu_fence_t;
int mu_fence_start (uv_loop_t *loop, const mu_standby_opts_t *o,
                    uint64_t term, mu_fence_t **out);
void mu_fence_stop (mu_fence_t **f_p);

/* Shared by both sides: fill a 24-byte header, read one. */
void mu_stream_hdr_put (unsigned char *h, uint64_t term, uint64_t seg,
                        uint64_t seq);
void mu_stream_hdr_get (const unsigned char *h, uint64_t *term, uint64_t *seg,
                        uint64_t *seq);

#endif
