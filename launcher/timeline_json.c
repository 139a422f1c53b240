/*
 * timeline_json.c — a timeline as Chrome trace JSON (the "trace event
 * format" that Perfetto and chrome://tracing open).
 *
 * Layout: process 0 is the job itself (thread 0, "events": rendezvous
 * rounds as complete events, every job-level event as an instant); each
 * node is a process (pid 1 + its index, named "node ID"), each rank a
 * thread of it (tid = the global rank, named "rank R"), holding one
 * complete ("X") event per epoch the rank ran.  A failed worker is a
 * thread-scoped instant ("i", s "t") on its rank; a node event a
 * process-scoped one.  Times are microseconds from the first event
 * (otherData.t0_us holds its wall-clock time).  A node lane with no rank
 * is thread 0 of its process, named "node".
 */
#include "launcher/timeline.h"

#include <errno.h>
#include <inttypes.h>

static void
meta (FILE *f, const char *what, unsigned pid, long long tid, const char *key,
      const char *name, long long sort)
{
  fprintf (f, ",\n{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%u,\"tid\":%lld,"
           "\"args\":{\"%s\":", what, pid, tid, key);
  if (name != NULL)
    mu_json_string (f, name);
  else
    fprintf (f, "%lld", sort);
  fputs ("}}", f);
}

static long long
tid_of (const mu_tl_lane_t *l)
{
  return l->rank >= 0 ? (long long)l->rank : 0;
}

/* args of an instant: the event's fields that are set. */
static void
event_args (FILE *f, const mu_event_info_t *e)
{
  fprintf (f, "{\"seq\":%" PRIu64 ",\"epoch\":%" PRIu64, e->seq, e->epoch);
  if (e->node)
    {
      fputs (",\"node\":", f);
      mu_json_string (f, e->node);
    }
  if (e->rank >= 0)
    fprintf (f, ",\"rank\":%" PRId64, e->rank);
  if (e->step)
    fprintf (f, ",\"step\":%" PRIu64, e->step);
  if (e->cause)
    {
      fputs (",\"cause\":", f);
      mu_json_string (f, e->cause);
    }
  if (e->state)
    {
      fputs (",\"state\":", f);
      mu_json_string (f, e->state);
    }
  if (e->code || e->signal)
    fprintf (f, ",\"code\":%" PRId64 ",\"signal\":%" PRId64, e->code,
             e->signal);
  if (e->detail)
    {
      fputs (",\"detail\":", f);
      mu_json_string (f, e->detail);
    }
  fputc ('}', f);
}

int
mu_timeline_write_json (const mu_timeline_t *t, FILE *f)
{
  char name[600];
  fputs ("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"generator\":"
         "\"muster timeline\",\"job\":", f);
  mu_json_string (f, t->job);
  fprintf (f, ",\"t0_us\":%" PRIu64 "},\n\"traceEvents\":[\n", t->t0_wall_us);
  snprintf (name, sizeof name, "job %s", t->job);
  /* The first entry has no leading comma; meta() writes one before each. */
  fputs ("{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":0,\"tid\":0,"
         "\"args\":{\"name\":", f);
  mu_json_string (f, name);
  fputs ("}}", f);
  meta (f, "process_sort_index", 0, 0, "sort_index", NULL, 0);
  meta (f, "thread_name", 0, 0, "name", "events", 0);
  for (size_t i = 0; i < t->nnodes; i++)
    {
      snprintf (name, sizeof name, "node %s", t->nodes[i]);
      meta (f, "process_name", (unsigned)i + 1, 0, "name", name, 0);
      meta (f, "process_sort_index", (unsigned)i + 1, 0, "sort_index", NULL,
            (long long)i + 1);
    }
  for (size_t i = 0; i < t->nlanes; i++)
    {
      const mu_tl_lane_t *l = &t->lanes[i];
      if (l->rank >= 0)
        snprintf (name, sizeof name, "rank %lld", (long long)l->rank);
      else
        snprintf (name, sizeof name, "node");
      meta (f, "thread_name", (unsigned)l->node + 1, tid_of (l), "name", name,
            0);
      meta (f, "thread_sort_index", (unsigned)l->node + 1, tid_of (l),
            "sort_index", NULL, tid_of (l));
    }
  for (size_t i = 0; i < t->nrounds; i++)
    {
      const mu_tl_round_t *r = &t->rounds[i];
      fprintf (f, ",\n{\"ph\":\"X\",\"cat\":\"rdzv\",\"name\":\"rendezvous "
               "(epoch %" PRIu64 ")\",\"pid\":0,\"tid\":0,\"ts\":%" PRIu64
               ",\"dur\":%" PRIu64 ",\"args\":{\"epoch\":%" PRIu64
               ",\"failed\":%s}}",
               r->epoch, r->start_us, r->end_us - r->start_us, r->epoch,
               r->failed ? "true" : "false");
    }
  for (size_t i = 0; i < t->nbars; i++)
    {
      const mu_tl_bar_t *b = &t->bars[i];
      const mu_tl_lane_t *l = &t->lanes[b->lane];
      fprintf (f, ",\n{\"ph\":\"X\",\"cat\":\"epoch\",\"name\":\"epoch %"
               PRIu64 "\",\"pid\":%u,\"tid\":%lld,\"ts\":%" PRIu64
               ",\"dur\":%" PRIu64 ",\"args\":{\"epoch\":%" PRIu64
               ",\"end\":",
               b->epoch, (unsigned)l->node + 1, tid_of (l), b->start_us,
               b->end_us - b->start_us, b->epoch);
      mu_json_string (f, b->end);
      fprintf (f, ",\"code\":%" PRId64 ",\"signal\":%" PRId64 "}}", b->code,
               b->signal);
    }
  for (size_t i = 0; i < t->nmarks; i++)
    {
      const mu_tl_mark_t *m = &t->marks[i];
      unsigned pid = 0;
      long long tid = 0;
      const char *scope = "t";
      if (m->scope == MU_TL_NODE)
        {
          pid = (unsigned)m->index + 1;
          scope = "p";
        }
      else if (m->scope == MU_TL_RANK)
        {
          pid = (unsigned)t->lanes[m->index].node + 1;
          tid = tid_of (&t->lanes[m->index]);
        }
      fputs (",\n{\"ph\":\"i\",\"cat\":\"event\",\"name\":", f);
      mu_json_string (f, m->ev->kind);
      fprintf (f, ",\"s\":\"%s\",\"pid\":%u,\"tid\":%lld,\"ts\":%" PRIu64
               ",\"args\":", scope, pid, tid, m->t_us);
      event_args (f, m->ev);
      fputc ('}', f);
    }
  fputs ("\n]}\n", f);
  return ferror (f) ? -EIO : 0;
}
