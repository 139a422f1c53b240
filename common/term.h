/*
 * term.h — the fencing term of a coordinator, and the follower's view of
 * the journal stream a standby receives (coordinator/standby.h).
 *
 * A term is a number that grows each time a standby takes over from a
 * primary.  Every message that commands an agent (welcome, heartbeat,
 * job.start, job.stop, job.done) carries its coordinator's term; an agent
 * keeps the highest term it has seen and refuses anything lower, so a
 * primary that was only stalled and wakes up after the standby took over
 * cannot act through an agent.  The term is stored durably in the state
 * directory (STATE_DIR/term, written whole, fsynced) before a coordinator
 * serves under it.
 *
 * The stream sequencing is a pure machine: its input is one frame header
 * (kind, term, segment, sequence), its output a decision (apply the
 * record, ask for a new sync, ignore it).  No I/O inside.
 */
#ifndef MU_TERM_H
#define MU_TERM_H

#include <stddef.h>
#include <stdint.h>

/* Check `got` against the highest term seen (*highest, updated when `got`
 * is higher).  A message without a term (0: an older coordinator, or an
 * embedded one) is accepted.  0, or MUSTER_ESTALE_EPOCH for a lower one. */
int mu_term_check (uint64_t *highest, uint64_t got);

/* STATE_DIR/term: 0 and *term (0 when the file does not exist), or a code
 * with `err` naming the file and the problem. */
int mu_term_load (const char *state_dir, uint64_t *term, char *err,
                  size_t errlen);
/* Write STATE_DIR/term durably (tmp file, fsync, rename, directory fsync).
 * 0 or -errno. */
int mu_term_store (const char *state_dir, uint64_t term);

/* The journal stream, primary -> standby, one frame header per message. */
typedef enum mu_stream_kind
{
  MU_STREAM_SYNC = 1, /* a whole snapshot: segment `seg` starts after it */
  MU_STREAM_REC = 2,  /* record `seq` (1, 2, ...) of segment `seg` */
  MU_STREAM_HB = 3    /* the primary lives; `seq` = its last record */
} mu_stream_kind_t;

typedef struct mu_follow
{
  int synced;     /* a sync arrived and nothing was missed since */
  uint64_t term;  /* the primary's term */
  uint64_t seg;   /* segment being followed */
  uint64_t next;  /* next record sequence expected */
} mu_follow_t;

typedef enum mu_follow_decision
{
  MU_FOLLOW_APPLY = 0,  /* sync: start over from it; rec: append it */
  MU_FOLLOW_IGNORE = 1, /* nothing to do (a heartbeat in step) */
  MU_FOLLOW_RESYNC = 2, /* a gap, or records before any sync: ask again */
  MU_FOLLOW_STALE = 3   /* from a lower term than already followed */
} mu_follow_decision_t;

/* Feed one frame header; the state is updated as if the decision were
 * carried out. */
mu_follow_decision_t mu_follow_on (mu_follow_t *f, mu_stream_kind_t kind,
                                   uint64_t term, uint64_t seg, uint64_t seq);

#endif
