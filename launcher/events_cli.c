/*
 * events_cli.c — `muster events` (read and follow the coordinator's event
 * log) and `muster timeline` (draw one job's events as Chrome trace JSON
 * or SVG), both over ctl.events (docs/events.md).
 *
 * Following is a long poll: each request waits up to FOLLOW_WAIT_MS on
 * the coordinator for an event after the last sequence number printed, so
 * an event is printed the moment it happens and an idle follow costs one
 * request per wait.  Two things can break the sequence, and both are
 * said on stderr rather than silently skipped: events dropped from the
 * bounded log before they were read (since < dropped_through: a gap;
 * re-sync with `muster status`), and a coordinator restart (a new
 * session: its numbering starts again, events of the outage are not in
 * it).  A follower whose coordinator stops answering asks again until
 * one does.  SIGINT or SIGTERM end a follow with exit status 0.
 */
#include "launcher/events_cli.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/util.h"
#include "launcher/ctl_client.h"
#include "launcher/timeline.h"

#define FOLLOW_WAIT_MS 10000
#define RETRY_MS 200
#define PAGE 1000

/* Set by SIGINT/SIGTERM while following (a process-wide flag of the CLI,
 * which is the only way a signal handler can talk to the loop). */
static volatile sig_atomic_t stop_asked;

static void
on_stop_signal (int sig)
{
  (void)sig;
  stop_asked = 1;
}

typedef struct ev_args {
  const char *endpoint;
  char ep[600];
  mu_ctl_conn_t conn;
  const char *job;
  uint64_t since;
  int since_given;
  int follow, json, until_done;
  uint64_t timeout_ms;
  const char *out;     /* timeline: -o FILE */
  const char *format;  /* timeline: json | svg */
} ev_args_t;

static void
usage (FILE *f, const char *cmd)
{
  if (strcmp (cmd, "events") == 0)
    fprintf (f,
             "usage: muster events [-f] [--until-done] [--job JOB] [--since N] "
             "[--json]\n"
             "       [--endpoint EP] [--key FILE --server-key KEY] "
             "[--timeout DUR]\n"
             "The coordinator's events (your jobs'; every job's for an "
             "admin), oldest\nfirst, one line each (docs/events.md).\n"
             "  -f, --follow     keep printing events as they happen (until "
             "SIGINT)\n"
             "  --until-done     with --job: stop after the job finishes\n"
             "  --job JOB        only this job's events (kept after it "
             "finished)\n"
             "  --since N        only events after sequence number N\n"
             "  --json           one JSON object per line\n");
  else
    fprintf (f,
             "usage: muster timeline JOB -o FILE [--format json|svg]\n"
             "       [--endpoint EP] [--key FILE --server-key KEY] "
             "[--timeout DUR]\n"
             "Draw a job's events: Chrome trace JSON (open it in Perfetto "
             "or\nchrome://tracing: one lane per node and rank) or an SVG "
             "picture.\n"
             "  -o FILE          where to write; the format follows its "
             "extension\n"
             "                   (.json or .svg), or --format; '-' = stdout\n");
  fprintf (f,
           "  --endpoint EP    the control port (as for muster status; "
           "default the\n"
           "                   local socket of the coordinator on this "
           "machine)\n"
           "  --key FILE --server-key KEY  over TCP (docs/security.md)\n"
           "  --timeout DUR    how long to wait for an answer (default 5s)\n"
           "  -h, --help       this text\n"
           "exit status: 0 done, 1 no answer or refused, 2 usage error\n");
}

/* 0 parsed, 2 usage error (printed), -1 help printed. */
static int
parse (const char *cmd, int argc, char **argv, ev_args_t *a)
{
  memset (a, 0, sizeof *a);
  a->timeout_ms = 5000;
  int timeline = strcmp (cmd, "timeline") == 0;
  for (int i = 0; i < argc; i++)
    {
      const char *s = argv[i];
      int more = i + 1 < argc;
      if (strcmp (s, "--help") == 0 || strcmp (s, "-h") == 0)
        {
          usage (stdout, cmd);
          return -1;
        }
      else if ((strcmp (s, "--endpoint") == 0 || strcmp (s, "--ctl") == 0)
               && more)
        a->endpoint = argv[++i];
      else if (strcmp (s, "--key") == 0 && more)
        a->conn.key_file = argv[++i];
      else if (strcmp (s, "--server-key") == 0 && more)
        a->conn.server_key = argv[++i];
      else if (strcmp (s, "--timeout") == 0 && more)
        {
          if (mu_parse_duration_ms (argv[++i], &a->timeout_ms) != 0)
            {
              char err[300];
              mu_duration_error (err, sizeof err, "--timeout", argv[i]);
              fprintf (stderr, "muster %s: %s\n", cmd, err);
              return 2;
            }
        }
      else if (!timeline && (strcmp (s, "-f") == 0
                             || strcmp (s, "--follow") == 0))
        a->follow = 1;
      else if (!timeline && strcmp (s, "--until-done") == 0)
        a->until_done = a->follow = 1;
      else if (!timeline && strcmp (s, "--json") == 0)
        a->json = 1;
      else if (!timeline && strcmp (s, "--job") == 0 && more)
        a->job = argv[++i];
      else if (!timeline && strcmp (s, "--since") == 0 && more)
        {
          if (mu_parse_u64 (argv[++i], &a->since) != 0)
            {
              fprintf (stderr, "muster events: --since takes a sequence "
                       "number (0, 1, 2, ...), not '%s'\n", argv[i]);
              return 2;
            }
          a->since_given = 1;
        }
      else if (timeline && strcmp (s, "-o") == 0 && more)
        a->out = argv[++i];
      else if (timeline && strcmp (s, "--format") == 0 && more)
        a->format = argv[++i];
      else if (timeline && s[0] != '-' && a->job == NULL)
        a->job = s;
      else
        {
          fprintf (stderr, "muster %s: unexpected argument '%s'\n", cmd, s);
          usage (stderr, cmd);
          return 2;
        }
    }
  if (a->until_done && a->job == NULL)
    {
      fprintf (stderr, "muster events: --until-done needs --job JOB (which "
               "job's end to wait for)\n");
      return 2;
    }
  if (timeline)
    {
      if (a->job == NULL || a->out == NULL)
        {
          fprintf (stderr, "muster timeline: %s\n", a->job == NULL
                   ? "which job?" : "where to? give -o FILE.json or "
                                    "-o FILE.svg");
          usage (stderr, cmd);
          return 2;
        }
      if (a->format == NULL)
        {
          size_t l = strlen (a->out);
          if (l > 5 && strcmp (a->out + l - 5, ".json") == 0)
            a->format = "json";
          else if (l > 4 && strcmp (a->out + l - 4, ".svg") == 0)
            a->format = "svg";
          else
            {
              fprintf (stderr, "muster timeline: cannot tell the format of "
                       "'%s' from its name: end it in .json or .svg, or give "
                       "--format json|svg\n", a->out);
              return 2;
            }
        }
      if (strcmp (a->format, "json") != 0 && strcmp (a->format, "svg") != 0)
        {
          fprintf (stderr, "muster timeline: --format is json or svg, not "
                   "'%s'\n", a->format);
          return 2;
        }
    }
  char err[1600];
  if (mu_ctl_endpoint (a->endpoint, a->ep, sizeof a->ep, err, sizeof err)
      != 0)
    {
      fprintf (stderr, "muster %s: %s\n", cmd, err);
      return 2;
    }
  a->conn.endpoint = a->ep;
  return 0;
}

/* One ctl.events request. */
static int
fetch_max (const ev_args_t *a, uint64_t since, uint64_t wait_ms, uint64_t max,
           mu_msg_t *rep, char *err, size_t errlen)
{
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_EVENTS;
  req.u.ctl_events.since = since;
  req.u.ctl_events.job = (char *)a->job;
  req.u.ctl_events.wait_ms = wait_ms;
  req.u.ctl_events.max = max;
  int rc = mu_ctl_request (a->conn.endpoint, a->conn.key_file,
                           a->conn.server_key, a->timeout_ms + wait_ms, &req,
                           rep, err, errlen);
  if (rc == 0 && rep->type != MU_MSG_CTL_EVENTS_REPLY)
    {
      snprintf (err, errlen, "unexpected answer %s", mu_msg_name (rep->type));
      mu_msg_clear (rep);
      return MUSTER_EPROTO;
    }
  return rc;
}

static int
fetch (const ev_args_t *a, uint64_t since, uint64_t wait_ms, mu_msg_t *rep,
       char *err, size_t errlen)
{
  return fetch_max (a, since, wait_ms, PAGE, rep, err, errlen);
}

/* After an outage: the session of the coordinator now answering (a
 * request from 0 for one event, which any session can answer). */
static int
probe_session (const ev_args_t *a, char *session, size_t cap, char *err,
               size_t errlen)
{
  mu_msg_t rep;
  int rc = fetch_max (a, 0, 0, 1, &rep, err, errlen);
  if (rc == 0)
    {
      mu_strlcpy (session, rep.u.ctl_events_reply.session, cap);
      mu_msg_clear (&rep);
    }
  return rc;
}

static void
print_time (FILE *f, uint64_t us)
{
  time_t s = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r (&s, &tm);
  char buf[64];
  strftime (buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf (f, "%s.%03uZ", buf, (unsigned)(us / 1000 % 1000));
}

static void
print_json (const mu_event_info_t *e)
{
  printf ("{\"seq\":%" PRIu64 ",\"time_us\":%" PRIu64 ",\"kind\":", e->seq,
          e->time_us);
  mu_json_string (stdout, e->kind);
  printf (",\"job\":");
  mu_json_string (stdout, e->job);
  printf (",\"epoch\":%" PRIu64 ",\"node\":", e->epoch);
  mu_json_string (stdout, e->node);
  printf (",\"rank\":%" PRId64 ",\"world\":%" PRIu64 ",\"step\":%" PRIu64
          ",\"code\":%" PRId64 ",\"signal\":%" PRId64 ",\"cause\":",
          e->rank, e->world, e->step, e->code, e->signal);
  mu_json_string (stdout, e->cause);
  printf (",\"state\":");
  mu_json_string (stdout, e->state);
  printf (",\"detail\":");
  mu_json_string (stdout, e->detail);
  printf (",\"members\":[");
  for (size_t i = 0; i < e->members.n; i++)
    {
      printf ("%s{\"node\":", i ? "," : "");
      mu_json_string (stdout, e->members.v[i].node);
      printf (",\"first_rank\":%" PRIu64 ",\"nproc\":%" PRIu64 "}",
              e->members.v[i].first_rank, e->members.v[i].nproc);
    }
  printf ("]}\n");
}

static void
print_line (const mu_event_info_t *e)
{
  print_time (stdout, e->time_us);
  printf (" #%-6" PRIu64 " %-16s %s", e->seq, e->job ? e->job : "-",
          e->kind);
  if (e->epoch)
    printf (" epoch %" PRIu64, e->epoch);
  if (e->node)
    printf (" node %s", e->node);
  if (e->rank >= 0)
    printf (" rank %" PRId64, e->rank);
  if (e->world && strcmp (e->kind, "epoch.started") == 0)
    printf (" world %" PRIu64, e->world);
  if (e->step)
    printf (" step %" PRIu64, e->step);
  if (e->cause)
    printf (" cause %s", e->cause);
  if (e->state)
    printf (" state %s", e->state);
  if (strcmp (e->kind, "job.finished") == 0)
    printf (" exit %" PRId64, e->code);
  if (e->detail)
    printf (": %s", e->detail);
  printf ("\n");
}

int
mu_events_main (int argc, char **argv)
{
  ev_args_t a;
  int rc = parse ("events", argc, argv, &a);
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  if (a.follow)
    {
      struct sigaction sa;
      memset (&sa, 0, sizeof sa);
      sa.sa_handler = on_stop_signal;
      sigaction (SIGINT, &sa, NULL);
      sigaction (SIGTERM, &sa, NULL);
    }
  uint64_t since = a.since;
  char session[64] = "";
  char err[1024];
  int away = 0, recheck = 0;
  for (;;)
    {
      mu_msg_t rep;
      char now[64];
      if (away && (rc = probe_session (&a, now, sizeof now, err, sizeof err))
                      == 0
          && strcmp (now, session) != 0)
        {
          /* A new coordinator: its numbering starts again. */
          fprintf (stderr, "muster events: the coordinator restarted "
                   "(session %s, now %s): what happened while it was down "
                   "is not in its log; following the new session from its "
                   "start\n", session, now);
          mu_strlcpy (session, now, sizeof session);
          since = 0;
        }
      if (!away || rc == 0)
        rc = fetch (&a, since, a.follow ? FOLLOW_WAIT_MS : 0, &rep, err,
                    sizeof err);
      if (stop_asked)
        {
          if (rc == 0)
            mu_msg_clear (&rep);
          return 0;
        }
      if (rc != 0 && a.follow && session[0]
          && (rc == MUSTER_ETIMEDOUT || rc == MUSTER_ENOTFOUND))
        {
          /* The coordinator went away (a restart, a standby taking
           * over): keep asking until one answers. */
          if (!away++)
            fprintf (stderr, "muster events: %s; asking again until a "
                     "coordinator answers\n", err);
          usleep (RETRY_MS * 1000);
          continue;
        }
      if (rc == MUSTER_EINVAL && a.follow && session[0] && !recheck)
        {
          /* "since is ahead": another coordinator answers at the same
           * endpoint (its socket reconnected underneath): check whose
           * session it is, once. */
          away = recheck = 1;
          continue;
        }
      if (rc != 0)
        {
          fprintf (stderr, "muster events: %s\n", err);
          return 1;
        }
      away = recheck = 0;
      const mu_ctl_events_reply_t *r = &rep.u.ctl_events_reply;
      if (session[0] && strcmp (session, r->session) != 0)
        {
          fprintf (stderr, "muster events: the coordinator restarted "
                   "(session %s, now %s): what happened while it was down is "
                   "not in its log; following the new session from its "
                   "start\n", session, r->session);
          mu_msg_clear (&rep);
          session[0] = '\0';
          since = 0;
          continue;
        }
      mu_strlcpy (session, r->session, sizeof session);
      if (since < r->dropped_through && (since > 0 || a.since_given))
        fprintf (stderr, "muster events: events %" PRIu64 " to %" PRIu64
                 " were dropped from the coordinator's bounded log before "
                 "they were read (a gap); re-sync with `muster status`\n",
                 since + 1, r->dropped_through);
      int done = 0;
      for (size_t i = 0; i < r->events.n; i++)
        {
          const mu_event_info_t *e = &r->events.v[i];
          if (a.json)
            print_json (e);
          else
            print_line (e);
          if (a.until_done && e->job && strcmp (e->job, a.job) == 0
              && strcmp (e->kind, "job.finished") == 0)
            done = 1;
        }
      fflush (stdout);
      size_t got = r->events.n;
      since = r->next;
      mu_msg_clear (&rep);
      if (done || (!a.follow && got < PAGE))
        return 0;
    }
}

/* Every event of the job, oldest first, into one reply-owned array: the
 * pages are moved into *all (their strings stay owned by the messages in
 * *pages, freed by the caller). */
typedef struct pages {
  mu_msg_t *v;
  size_t n, cap;
} pages_t;

static void
pages_free (pages_t *p)
{
  for (size_t i = 0; i < p->n; i++)
    mu_msg_clear (&p->v[i]);
  free (p->v);
}

int
mu_timeline_main (int argc, char **argv)
{
  ev_args_t a;
  int rc = parse ("timeline", argc, argv, &a);
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  pages_t pg = { 0 };
  uint64_t since = 0;
  size_t total = 0;
  char err[1024];
  for (;;)
    {
      if (pg.n == pg.cap)
        {
          size_t nc = pg.cap ? pg.cap * 2 : 4;
          mu_msg_t *v = realloc (pg.v, nc * sizeof *v);
          if (v == NULL)
            {
              fprintf (stderr, "muster timeline: out of memory\n");
              pages_free (&pg);
              return 1;
            }
          pg.v = v;
          pg.cap = nc;
        }
      rc = fetch (&a, since, 0, &pg.v[pg.n], err, sizeof err);
      if (rc != 0)
        {
          fprintf (stderr, "muster timeline: %s\n", err);
          pages_free (&pg);
          return 1;
        }
      const mu_ctl_events_reply_t *r = &pg.v[pg.n].u.ctl_events_reply;
      if (since == 0 && r->dropped_through > 0)
        fprintf (stderr, "muster timeline: job %s's oldest events (up to "
                 "#%" PRIu64 ") were dropped from the coordinator's bounded "
                 "log: the timeline starts later than the job\n", a.job,
                 r->dropped_through);
      size_t got = r->events.n;
      since = r->next;
      total += got;
      pg.n++;
      if (got < PAGE)
        break;
    }
  mu_event_info_t *all = calloc (total ? total : 1, sizeof *all);
  if (all == NULL)
    {
      pages_free (&pg);
      return 1;
    }
  size_t k = 0;
  for (size_t i = 0; i < pg.n; i++)
    for (size_t e = 0; e < pg.v[i].u.ctl_events_reply.events.n; e++)
      all[k++] = pg.v[i].u.ctl_events_reply.events.v[e];
  mu_timeline_t *t = NULL;
  rc = mu_timeline_build (a.job, all, total, &t);
  if (rc != 0)
    {
      fprintf (stderr, "muster timeline: job %s: %s\n", a.job,
               rc == MUSTER_EINVAL ? "no events held for it"
                                   : muster_strerror (rc));
      free (all);
      pages_free (&pg);
      return 1;
    }
  int to_stdout = strcmp (a.out, "-") == 0;
  FILE *f = to_stdout ? stdout : fopen (a.out, "w");
  if (f == NULL)
    {
      fprintf (stderr, "muster timeline: cannot write %s: %s\n", a.out,
               strerror (errno));
      rc = 1;
    }
  else
    {
      rc = strcmp (a.format, "svg") == 0 ? mu_timeline_write_svg (t, f)
                                          : mu_timeline_write_json (t, f);
      if ((!to_stdout && fclose (f) != 0) || rc != 0)
        {
          fprintf (stderr, "muster timeline: writing %s failed\n", a.out);
          rc = 1;
        }
      else if (!to_stdout)
        fprintf (stderr, "muster timeline: job %s: %zu event(s), %zu lane(s) "
                 "on %zu node(s), %" PRIu64 " epoch(s) written to %s (%s)\n",
                 a.job, total, t->nlanes, t->nnodes, t->epochs, a.out,
                 a.format);
    }
  mu_timeline_destroy (&t);
  free (all);
  pages_free (&pg);
  return rc;
}
