/*
 * run_console.h — `muster run`'s stdout and stderr while its loop runs.
 *
 * The console never blocks the loop (worker/out_queue.h): stdout and
 * stderr are written through non-blocking queues on the loop, which the
 * embedded agent shares for the workers' lines.  The launcher's own
 * messages (fprintf to stderr, and the loggers given) go through the
 * stderr queue too, so they keep their order with the workers' lines and
 * a terminal nobody reads stalls nothing.  `stderr` itself is pointed at
 * that queue (a glibc cookie stream, unbuffered) between open and close:
 * every message of the launcher is covered without threading a FILE
 * through each.  The launcher is a program and single-threaded; no
 * library does this.
 */
#ifndef MU_RUN_CONSOLE_H
#define MU_RUN_CONSOLE_H

#include <stdio.h>
#include <uv.h>

#include "common/log.h"

struct mu_outq;

typedef struct mu_run_console {
  struct mu_outq *out_q, *err_q; /* NULL if they could not be made */
  FILE *err_file;                /* stderr, through err_q */
  FILE *real_stderr;
  mu_log_t *logs[2];             /* whose sinks were set */
} mu_run_console_t;

/* Make the queues on `loop`, point stderr and the two loggers (either may
 * be NULL) at the stderr queue.  On failure the console is left as it was
 * (out_q / err_q NULL: the agent then makes its own). */
void mu_run_console_open (mu_run_console_t *c, uv_loop_t *loop, mu_log_t *log,
                          mu_log_t *log2);
/* After the loop: stderr and the loggers are themselves again, what is
 * still queued is written (waiting for the reader: nothing is dropped),
 * and the queues' handles are closed (the loop is run for that). */
void mu_run_console_close (mu_run_console_t *c, uv_loop_t *loop);

#endif
