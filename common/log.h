/*
 * log.h — muster's logging: syslog levels, stable message ids, a pluggable
 * sink.
 *
 * A log line carries a level, a stable id operators can grep for
 * ("RDZV-CLOSED", "AGENT-LOST") and a formatted message.  The level is
 * checked before anything is formatted.  The default sink writes
 * "musterd: warn RDZV-TIMEOUT round 3: 1/2 joined" lines to stderr; a program
 * (or a test) can install its own sink.  The logger is an explicit object
 * passed to whoever logs, never a global, so two coordinators in one process
 * (tests, the embedded launcher) keep separate settings.
 */
#ifndef MU_LOG_H
#define MU_LOG_H

#include <stdarg.h>

typedef enum mu_log_level {
  MU_LOG_ERR = 3,
  MU_LOG_WARN = 4,
  MU_LOG_NOTICE = 5,
  MU_LOG_INFO = 6,
  MU_LOG_DEBUG = 7
} mu_log_level_t;

typedef void (*mu_log_sink_fn) (void *arg, mu_log_level_t level,
                                const char *id, const char *msg);

typedef struct mu_log {
  mu_log_level_t level; /* lines above this level are dropped unformatted */
  const char *name;     /* program name prefix, e.g. "musterd" */
  mu_log_sink_fn sink;  /* NULL = stderr */
  void *sink_arg;
} mu_log_t;

/* Initialise with level NOTICE, the given name and the stderr sink. */
void mu_log_init (mu_log_t *log, const char *name);

/* Parse "err|warn|notice|info|debug"; returns 0 or MUSTER_EINVAL. */
int mu_log_parse_level (const char *s, mu_log_level_t *out);

/* The default sink's line for a message: "<name>: <level> <ID> <msg>\n"
 * (newlines in msg become spaces), cut to fit `size` (> 1).  Its length.
 * For sinks that write elsewhere than stderr in the same format. */
size_t mu_log_format (char *line, size_t size, const char *name,
                      mu_log_level_t level, const char *id, const char *msg);

void mu_log_write (const mu_log_t *log, mu_log_level_t level, const char *id,
                   const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

#define mu_log_err(log, id, ...) mu_log_write ((log), MU_LOG_ERR, (id), __VA_ARGS__)
#define mu_log_warn(log, id, ...) mu_log_write ((log), MU_LOG_WARN, (id), __VA_ARGS__)
#define mu_log_notice(log, id, ...) mu_log_write ((log), MU_LOG_NOTICE, (id), __VA_ARGS__)
#define mu_log_info(log, id, ...) mu_log_write ((log), MU_LOG_INFO, (id), __VA_ARGS__)
#define mu_log_debug(log, id, ...) mu_log_write ((log), MU_LOG_DEBUG, (id), __VA_ARGS__)

#endif
