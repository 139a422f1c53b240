/*
 * events_bench.c — what recording and serving events costs the
 * coordinator, against the log line it writes for the same transition
 * (the baseline, measured in the same run).
 *
 *   1. append: --events worker.exited events into a log at its default
 *      bounds (a global ring of 16384, 4096 per job, --jobs jobs), the
 *      cost of one hook; the baseline formats and writes the matching
 *      WORKER-FAILED log line (mu_log_write, to /dev/null);
 *   2. epoch.started of --members nodes (one event per epoch, the largest);
 *   3. serve: collect the 1000 events a ctl.events reply carries and encode
 *      the reply (msgpack), the cost of answering one long poll.
 *
 * Figures only: nothing here fails on a timing.  A run at the defaults
 * takes a few seconds.  Usage: events_bench [--events N] [--jobs N]
 * [--members N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/proto.h"
#include "coordinator/events.h"

static double
now_s (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
to_devnull (void *arg, mu_log_level_t level, const char *id, const char *msg)
{
  char line[1024];
  size_t n = mu_log_format (line, sizeof line, "musterd", level, id, msg);
  fwrite (line, 1, n, (FILE *)arg);
}

/* The reply ctl.events sends for these events (as event_serve.c builds
 * it), encoded; its size. */
static size_t
encode_reply (const mu_event_t **out, size_t n)
{
  mu_event_info_t *infos = calloc (n ? n : 1, sizeof *infos);
  for (size_t i = 0; infos && i < n; i++)
    infos[i] = (mu_event_info_t){ .seq = out[i]->seq,
                                  .time_us = out[i]->time_us,
                                  .kind = (char *)mu_ev_kind_name (out[i]->kind),
                                  .job = out[i]->job, .epoch = out[i]->epoch,
                                  .node = out[i]->node, .rank = out[i]->rank,
                                  .code = out[i]->code, .cause = out[i]->cause,
                                  .state = out[i]->state,
                                  .detail = out[i]->detail };
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_EVENTS_REPLY;
  m.u.ctl_events_reply.events.v = infos;
  m.u.ctl_events_reply.events.n = n;
  m.u.ctl_events_reply.session = (char *)"0123456789abcdef";
  char *buf = NULL;
  size_t len = 0;
  if (infos == NULL || mu_msg_encode (&m, &buf, &len) != 0)
    len = 0;
  free (buf);
  free (infos);
  return len;
}

int
main (int argc, char **argv)
{
  long events = 1000000, jobs = 100, members = 10000;
  for (int i = 1; i < argc; i++)
    {
      if (strcmp (argv[i], "--events") == 0 && i + 1 < argc)
        events = atol (argv[++i]);
      else if (strcmp (argv[i], "--jobs") == 0 && i + 1 < argc)
        jobs = atol (argv[++i]);
      else if (strcmp (argv[i], "--members") == 0 && i + 1 < argc)
        members = atol (argv[++i]);
      else
        {
          int help = strcmp (argv[i], "--help") == 0;
          fprintf (help ? stdout : stderr,
                   "usage: events_bench [--events N] [--jobs N] "
                   "[--members N]\n"
                   "  --events N   worker.exited events recorded (1000000)\n"
                   "  --jobs N     jobs they belong to (100)\n"
                   "  --members N  nodes of the epoch.started measured "
                   "(10000)\n");
          return help ? 0 : 2;
        }
    }
  if (events < 1000 || jobs < 1 || members < 1)
    {
      fprintf (stderr, "events_bench: --events >= 1000, --jobs and "
               "--members >= 1\n");
      return 2;
    }
  mu_evlog_t *l;
  if (mu_evlog_new (NULL, &l) != 0)
    return 1;
  /* The strings are made before the clock starts: only the log's work
   * is timed. */
  enum { NODES = 10000 };
  char (*jname)[32] = calloc ((size_t)jobs, sizeof *jname);
  char (*nname)[32] = calloc (NODES, sizeof *nname);
  char (*dtext)[80] = calloc (NODES, sizeof *dtext);
  if (jname == NULL || nname == NULL || dtext == NULL)
    return 1;
  for (long i = 0; i < jobs; i++)
    snprintf (jname[i], sizeof jname[i], "job-%ld", i);
  for (long i = 0; i < NODES; i++)
    {
      snprintf (nname[i], sizeof nname[i], "node-%05ld", i);
      snprintf (dtext[i], sizeof dtext[i], "rank %ld on node-%05ld: exited "
                "with code 3", i, i);
    }
  mu_event_t e = { .kind = MU_EV_WORKER_EXITED, .cause = (char *)"user",
                   .state = (char *)"exited", .code = 3, .epoch = 1 };
  double t0 = now_s ();
  for (long i = 0; i < events; i++)
    {
      e.job = jname[i % jobs];
      e.node = nname[i % NODES];
      e.detail = dtext[i % NODES];
      e.rank = i;
      e.time_us = (uint64_t)i;
      if (mu_evlog_append (l, &e, NULL) != 0)
        return 1;
    }
  double append = (now_s () - t0) / (double)events;
  free (jname);
  free (nname);
  free (dtext);

  FILE *null = fopen ("/dev/null", "w");
  if (null == NULL)
    return 1;
  mu_log_t log;
  mu_log_init (&log, "musterd");
  log.sink = to_devnull;
  log.sink_arg = null;
  t0 = now_s ();
  for (long i = 0; i < events; i++)
    mu_log_warn (&log, "WORKER-FAILED", "job %s epoch %d: rank %ld on node "
                 "node-%05ld exited with code %d", "job-1", 1, i, i % 10000, 3);
  double logline = (now_s () - t0) / (double)events;
  fclose (null);

  mu_ev_member_t *m = calloc ((size_t)members, sizeof *m);
  char (*names)[32] = calloc ((size_t)members, sizeof *names);
  if (m == NULL || names == NULL)
    return 1;
  for (long i = 0; i < members; i++)
    {
      snprintf (names[i], sizeof names[i], "node-%05ld", i);
      m[i] = (mu_ev_member_t){ .node = names[i], .first_rank = (uint64_t)i * 10,
                               .nproc = 10 };
    }
  mu_event_t es = { .kind = MU_EV_EPOCH_STARTED, .job = (char *)"big",
                    .epoch = 1, .rank = -1, .members = m,
                    .nmembers = (size_t)members };
  int reps = 20;
  t0 = now_s ();
  for (int r = 0; r < reps; r++)
    mu_evlog_append (l, &es, NULL);
  double epoch = (now_s () - t0) / reps;
  free (m);
  free (names);

  const mu_event_t **out = calloc (1000, sizeof *out);
  uint64_t next, last = mu_evlog_last_seq (l);
  size_t bytes = 0;
  int replies = 200;
  t0 = now_s ();
  for (int r = 0; r < replies; r++)
    {
      size_t n = mu_evlog_collect (l, NULL, last - reps - 2000, 1000, NULL,
                                   NULL, out, &next);
      bytes = encode_reply (out, n);
    }
  double reply = (now_s () - t0) / replies;
  free (out);
  mu_evlog_destroy (&l);

  printf ("events_bench: %ld worker.exited events over %ld jobs (ring 16384, "
          "4096 per job)\n", events, jobs);
  printf ("  append one event:             %8.0f ns\n", append * 1e9);
  printf ("  baseline, its log line:       %8.0f ns   (event / log line = "
          "%.2f)\n", logline * 1e9, append / logline);
  printf ("  epoch.started of %ld nodes (kept: at most %d): %.2f ms\n",
          members, MU_EV_MAX_MEMBERS, epoch * 1e3);
  printf ("  ctl.events reply of 1000 events (collect + encode, %zu bytes): "
          "%.0f us = %.0f ns per event (%.2f log lines)\n", bytes,
          reply * 1e6, reply * 1e9 / 1000, reply / 1000 / logline);
  printf ("  100,000 worker exits (one epoch of 100k workers ending): %.0f ms "
          "of events, %.0f ms of log lines\n", append * 1e5 * 1e3,
          logline * 1e5 * 1e3);
  return 0;
}
