/*
 * job_defaults.h — every job option's default, in one table.
 *
 * A job spec field left 0 means "the default" (proto_schema.def); the
 * coordinator (jobs.c, epoch.c, ckpt.c, ckpt_io.c, cordon.c,
 * journal_restore.c), the agent (agent_outage.c) and `muster run`'s
 * options (launcher/run_opts.c) all read the default from here, and
 * launcher/run_defaults_test.c checks that `muster run --help` prints
 * what this table says.  Add an option here first; never write its
 * default anywhere else (compare Redis's config.c table).
 */
#ifndef MU_JOB_DEFAULTS_H
#define MU_JOB_DEFAULTS_H

#include <stddef.h>
#include <stdint.h>

/* X (ID, spec field, muster run option or NULL, default, unit, doc).
 * Units: "ms" (printed as a duration), "count". */
#define MU_JOB_DEFAULTS(X)                                                   \
  X (LAST_CALL_MS, "last_call_ms", "--last-call", 1000, "ms",                \
     "wait after min nodes joined")                                          \
  X (JOIN_TIMEOUT_MS, "join_timeout_ms", "--join-timeout", 600000, "ms",     \
     "fail if min nodes never join")                                         \
  X (GRACE_MS, "grace_ms", "--grace", 5000, "ms",                            \
     "SIGTERM-to-SIGKILL grace")                                             \
  X (MAX_RESTARTS, "max_restarts", "--max-restarts", 0, "count",             \
     "restarts after worker failures (user budget)")                         \
  X (INFRA_RESTARTS, "infra_restarts", NULL, 16, "count",                    \
     "restarts after lost nodes (infrastructure budget)")                    \
  X (OUTAGE_MS, "outage_ms", "--outage-window", 30000, "ms",                 \
     "how long a node keeps its workers without a coordinator")              \
  X (CKPT_KEEP, "ckpt_keep", "--ckpt-keep", 3, "count",                      \
     "complete checkpoints kept")                                            \
  X (CKPT_TIMEOUT_MS, "ckpt_timeout_ms", "--ckpt-timeout", 60000, "ms",      \
     "how long a checkpoint waits for shards")                               \
  X (CORDON_FAILURES, "cordon_failures", NULL, 3, "count",                   \
     "failures of one node within the window that cordon it")                \
  X (CORDON_WINDOW_MS, "cordon_window_ms", NULL, 60000, "ms",                \
     "window for cordon_failures")                                           \
  X (CORDON_MS, "cordon_ms", NULL, 10000, "ms",                              \
     "first cordon cooldown (doubles each time)")                            \
  X (CONNECT_TIMEOUT_MS, NULL, "--connect-timeout", 30000, "ms",             \
     "give up on an unreachable coordinator")                                \
  X (PREEMPT_GRACE_MS, NULL, "--preempt-grace", 30000, "ms",                 \
     "time to checkpoint and stop when preempted")                           \
  X (PREEMPT_EXIT_CODE, NULL, "--preempt-exit-code", 75, "count",            \
     "exit status of a preempted or suspended job")

typedef enum mu_job_default_id {
#define MU_JD_ENUM(ID, field, option, value, unit, doc) MU_JD_##ID,
  MU_JOB_DEFAULTS (MU_JD_ENUM)
#undef MU_JD_ENUM
  MU_JD__COUNT
} mu_job_default_id_t;

typedef struct mu_job_default {
  const char *field;  /* job spec field, NULL = a launcher option only */
  const char *option; /* muster run option, NULL = none */
  uint64_t value;
  const char *unit;
  const char *doc;
} mu_job_default_t;

/* The table entry of `id` (never NULL for a valid id). */
const mu_job_default_t *mu_job_default (mu_job_default_id_t id);
/* `v` when set (non-zero), else the default of `id`. */
uint64_t mu_job_default_or (uint64_t v, mu_job_default_id_t id);

#endif
