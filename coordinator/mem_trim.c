/*
 * mem_trim.c — give the heap's free pages back after a burst (mem area,
 * docs/architecture.md decision 95).
 *
 * Closing a rendezvous round, or many jobs ending together, allocates and
 * frees many short-lived buffers (encoded job.start messages, decoded
 * registrations, msgpack buffers of 8 KiB each).  glibc keeps freed pages
 * resident unless they sit at the very top of the heap, so they stay in
 * musterd's footprint: at 1,000 x 10, 0.7 MB of a 2.3 MB heap after the
 * round was free pages, 65 B per worker.  mu_mem_trim_soon arms a one-shot
 * timer, TRIM_DELAY_MS after the first call of a burst (later calls find
 * it armed; 10,000 job.start take most of a second to leave), and at most
 * once per TRIM_EVERY_MS; malloc_trim(0) then returns every free page of
 * every arena to the kernel (madvise), on the thread pool: after a job of 10,000 workers ended it released 12 MB in
 * 72 ms, a stall the loop must not take.  What it released and its time
 * are logged at debug level.  Without glibc it does nothing.
 */
#define _GNU_SOURCE
#include "coordinator/mem_trim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "common/util.h"
#include "coordinator/coord.h"

#define TRIM_DELAY_MS 1000 /* after the first call of a burst: the
                              burst's messages have left by then */
#define TRIM_EVERY_MS 1000 /* at most this often */

/* VmRSS of this process in kB, or -1 (for the log line only). */
static long
rss_kb (void)
{
  FILE *f = fopen ("/proc/self/statm", "r");
  if (f == NULL)
    return -1;
  long size = 0, res = -1;
  if (fscanf (f, "%ld %ld", &size, &res) != 2)
    res = -1;
  fclose (f);
  return res < 0 ? -1 : res * 4;
}

typedef struct trim_work {
  uv_work_t req;
  mu_coord_t *c;
  long before_kb, after_kb;
  uint64_t us;
} trim_work_t;

/* On the thread pool: malloc_trim locks one arena at a time, so the loop
 * keeps running (a malloc of its own may wait for the main arena). */
static void
trim_work (uv_work_t *req)
{
  trim_work_t *w = req->data;
  uint64_t t0 = mu_now_us ();
  w->before_kb = rss_kb ();
#ifdef __GLIBC__
  malloc_trim (0);
#endif
  w->after_kb = rss_kb ();
  w->us = mu_now_us () - t0;
}

static void
trim_done (uv_work_t *req, int status)
{
  trim_work_t *w = req->data;
  mu_coord_t *c = w->c;
  c->mem_trim_busy = 0;
  c->mem_trim_last_ms = mu_now_ms ();
  if (status == 0)
    mu_log_debug (c->log, "MALLOC-TRIM",
                  "free heap pages returned: VmRSS %ld kB -> %ld kB in "
                  "%.2f ms (thread pool)",
                  w->before_kb, w->after_kb, (double)w->us / 1000.0);
  free (w);
}

static void
on_trim (uv_timer_t *t)
{
  mu_coord_t *c = t->data;
  if (c->mem_trim_busy || c->stopping)
    return;
  trim_work_t *w = calloc (1, sizeof *w);
  if (w == NULL)
    return; /* an optimisation only */
  w->c = c;
  w->req.data = w;
  if (uv_queue_work (t->loop, &w->req, trim_work, trim_done) != 0)
    {
      free (w);
      return;
    }
  c->mem_trim_busy = 1;
}

void
mu_mem_trim_init (mu_coord_t *c, uv_loop_t *loop)
{
  uv_timer_init (loop, &c->mem_trim_timer);
  c->mem_trim_timer.data = c;
  c->mem_trim_open = 1;
}

void
mu_mem_trim_soon (mu_coord_t *c)
{
  if (c == NULL || !c->mem_trim_open || c->stopping
      || uv_is_active ((uv_handle_t *)&c->mem_trim_timer))
    return;
  uint64_t now = mu_now_ms ();
  uint64_t at = now + TRIM_DELAY_MS;
  if (c->mem_trim_last_ms != 0 && at < c->mem_trim_last_ms + TRIM_EVERY_MS)
    at = c->mem_trim_last_ms + TRIM_EVERY_MS;
  uv_timer_start (&c->mem_trim_timer, on_trim, at - now, 0);
}

void
mu_mem_trim_close (mu_coord_t *c)
{
  if (!c->mem_trim_open)
    return;
  c->mem_trim_open = 0;
  uv_close ((uv_handle_t *)&c->mem_trim_timer, NULL);
}
