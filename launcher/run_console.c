/*
 * run_console.c — `muster run`'s non-blocking console (run_console.h):
 * two out_queues on the loop, stderr re-pointed at one of them through
 * fopencookie, the loggers' sinks formatting into it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie */
#endif
#include "launcher/run_console.h"

#include <string.h>
#include <sys/types.h>

#include "worker/out_queue.h"

static ssize_t
console_write (void *cookie, const char *buf, size_t n)
{
  (void)mu_outq_write (cookie, buf, n); /* a failed stderr drops, as before */
  return (ssize_t)n;
}

static void
console_log (void *arg, mu_log_level_t level, const char *id, const char *msg)
{
  const mu_log_t *log = arg;
  char line[4096];
  size_t n = mu_log_format (line, sizeof line, log->name, level, id, msg);
  (void)fwrite (line, 1, n, stderr);
}

void
mu_run_console_open (mu_run_console_t *c, uv_loop_t *loop, mu_log_t *log,
                     mu_log_t *log2)
{
  memset (c, 0, sizeof *c);
  mu_outq_opts_t oo = { .fd = 1, .name = "stdout" };
  mu_outq_opts_t eo = { .fd = 2, .name = "stderr" };
  cookie_io_functions_t io = { .write = console_write };
  if (mu_outq_new (loop, &oo, &c->out_q) != 0
      || mu_outq_new (loop, &eo, &c->err_q) != 0
      || (c->err_file = fopencookie (c->err_q, "w", io)) == NULL)
    {
      /* Their handles close when the loop runs. */
      mu_outq_close (&c->out_q);
      mu_outq_close (&c->err_q);
      return;
    }
  setvbuf (c->err_file, NULL, _IONBF, 0);
  c->real_stderr = stderr;
  stderr = c->err_file;
  c->logs[0] = log;
  c->logs[1] = log2;
  for (int i = 0; i < 2; i++)
    if (c->logs[i] != NULL)
      {
        c->logs[i]->sink = console_log;
        c->logs[i]->sink_arg = c->logs[i];
      }
}

void
mu_run_console_close (mu_run_console_t *c, uv_loop_t *loop)
{
  if (c->err_file != NULL)
    {
      stderr = c->real_stderr;
      fclose (c->err_file);
      c->err_file = NULL;
    }
  for (int i = 0; i < 2; i++)
    if (c->logs[i] != NULL)
      c->logs[i]->sink = NULL;
  int had = c->out_q != NULL || c->err_q != NULL;
  mu_outq_close (&c->out_q);
  mu_outq_close (&c->err_q);
  if (had)
    uv_run (loop, UV_RUN_DEFAULT); /* their close callbacks */
}
