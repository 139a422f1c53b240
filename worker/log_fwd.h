/*
 * log_fwd.h — the agent's side of ctl.logs: worker output lines gathered
 * into batches for the coordinator, within a byte budget per interval.
 *
 * The agent already prints every worker line to its console; a copy goes
 * here.  A job that writes faster than `budget` bytes per `interval_ms`
 * (on this node) has the excess dropped and counted, never queued and
 * never waited for: forwarding must not slow a worker or grow the agent's
 * memory.  The count travels with the next batch (agent.logs `dropped`),
 * where the coordinator turns it into a "[... N bytes dropped]" marker.
 * So at most `budget` bytes are pending per interval, and a batch is
 * taken when it reaches batch_bytes or when the agent's flush timer fires.
 *
 * Pure: no I/O, no clock (callers pass now_ms), no globals.
 */
#ifndef MU_LOG_FWD_H
#define MU_LOG_FWD_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

#define MU_LOGFWD_BUDGET_DEFAULT (256u << 10) /* bytes per interval */
#define MU_LOGFWD_INTERVAL_MS 1000
#define MU_LOGFWD_BATCH_BYTES (64u << 10) /* take a batch at this size */
#define MU_LOGFWD_FLUSH_MS 200            /* ... or this long after a line */

typedef struct mu_logfwd_opts {
  uint64_t budget;      /* bytes per interval; 0 = default */
  uint64_t interval_ms; /* 0 = MU_LOGFWD_INTERVAL_MS */
} mu_logfwd_opts_t;

typedef struct mu_logfwd mu_logfwd_t;

/* 0 or -ENOMEM; *out owned by the caller (mu_logfwd_destroy). */
int mu_logfwd_new (const mu_logfwd_opts_t *o, mu_logfwd_t **out);
/* Free, with anything pending; accepts NULL and a pointer to NULL. */
void mu_logfwd_destroy (mu_logfwd_t **f_p);
/* Offer one line (len bytes, no newline) of `rank`.  1 kept, 0 dropped
 * over budget (counted), -ENOMEM (counted as dropped too). */
int mu_logfwd_add (mu_logfwd_t *f, uint64_t now_ms, uint64_t rank, int is_err,
                   const char *text, size_t len);
/* Bytes of the lines pending, and the bytes dropped since the last take. */
size_t mu_logfwd_pending (const mu_logfwd_t *f);
uint64_t mu_logfwd_dropped (const mu_logfwd_t *f);
/* Take the pending lines (*lines, *n; the caller owns them: release with
 * mu_logfwd_free_lines) and the dropped count; both reset. */
void mu_logfwd_take (mu_logfwd_t *f, mu_out_line_t **lines, size_t *n,
                     uint64_t *dropped);
void mu_logfwd_free_lines (mu_out_line_t *lines, size_t n);

#endif
