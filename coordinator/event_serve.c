/*
 * event_serve.c — the coordinator's event log and ctl.events, its long
 * poll (see event_stream.h, docs/events.md).
 *
 * A reader asks for the events after `since`.  When some it may see are
 * held, it is answered at once; otherwise, with wait_ms, its request is
 * parked and answered by the first emit that brings it an event, or by
 * the timer when its wait ends (an empty answer that tells it where to go
 * on).  This is how `muster events -f` follows live without a socket per
 * subscriber in the coordinator, and why authorization per user is
 * possible (a PUB socket cannot filter per subscriber: decision 56).
 *
 * Bounds: at most MAX_WAITERS parked requests (more are answered at once,
 * empty), at most MAX_WAIT_MS each, at most MAX_EVENTS per answer.  The
 * log itself is bounded (events.h).  Parked requests live only in memory:
 * a stopping coordinator answers them (empty) and its clients ask again,
 * of the next coordinator.
 */
#include "coordinator/event_stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/auth.h"

#define MAX_WAITERS 1024
#define MAX_WAIT_MS 60000
#define DEFAULT_EVENTS 1000
#define MAX_EVENTS 10000

typedef struct waiter {
  struct waiter *next;
  mu_route_t route;
  void *sock;
  uint32_t uid;
  int admin;
  uint64_t since;
  char *job;
  size_t max;
  uint64_t deadline_ms;
} waiter_t;

typedef struct mu_events {
  mu_evlog_t *log;
  waiter_t *waiters;
  size_t nwaiters;
  uv_timer_t timer;
  int timer_open;
  int stopped;
  uint64_t lost;      /* events not recorded (out of memory) */
} mu_events_t;

/* The coordinator's log, made on first use; NULL when out of memory. */
static mu_events_t *
events_of (mu_coord_t *c)
{
  if (c->events != NULL)
    return c->events;
  mu_events_t *ev = calloc (1, sizeof *ev);
  if (ev == NULL)
    return NULL;
  mu_evlog_opts_t o = { .ring_cap = c->opts.events_keep,
                        .job_cap = c->opts.events_job_keep,
                        .finished_keep = c->opts.finished_keep };
  if (mu_evlog_new (&o, &ev->log) != 0)
    {
      free (ev);
      return NULL;
    }
  c->events = ev;
  return ev;
}

typedef struct reader {
  uint32_t uid;
  int admin;
} reader_t;

/* A user reads their own jobs' events and those about no job; an admin
 * everything. */
static int
may_read (const mu_event_t *e, void *arg)
{
  const reader_t *r = arg;
  return r->admin || e->job == NULL || e->owner_uid == r->uid;
}

/* Answer with the events collected (n of them, from out[]). */
static void
reply (mu_coord_t *c, void *sock, const mu_route_t *to,
       const mu_event_t **out, size_t n, uint64_t next, uint64_t dropped)
{
  mu_event_info_t *infos = calloc (n ? n : 1, sizeof *infos);
  size_t nmem = 0;
  for (size_t i = 0; i < n; i++)
    nmem += out[i]->nmembers;
  mu_event_member_t *mems = calloc (nmem ? nmem : 1, sizeof *mems);
  if (infos == NULL || mems == NULL)
    {
      free (infos);
      free (mems);
      mu_wire_send_error (sock, to, -ENOMEM, "ctl.events", 0,
                          "out of memory answering ctl.events");
      return;
    }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    {
      const mu_event_t *e = out[i];
      mu_event_info_t *f = &infos[i];
      f->seq = e->seq;
      f->time_us = e->time_us;
      f->kind = (char *)mu_ev_kind_name (e->kind);
      f->job = e->job;
      f->epoch = e->epoch;
      f->node = e->node;
      f->rank = e->rank;
      f->world = e->world;
      f->step = e->step;
      f->code = e->code;
      f->signal = e->signal;
      f->cause = e->cause;
      f->state = e->state;
      f->detail = e->detail;
      f->members.v = mems + k;
      f->members.n = e->nmembers;
      for (size_t m = 0; m < e->nmembers; m++, k++)
        {
          mems[k].node = e->members[m].node;
          mems[k].first_rank = e->members[m].first_rank;
          mems[k].nproc = e->members[m].nproc;
        }
    }
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_EVENTS_REPLY;
  m.u.ctl_events_reply.events.v = infos;
  m.u.ctl_events_reply.events.n = n;
  m.u.ctl_events_reply.next = next;
  m.u.ctl_events_reply.dropped_through = dropped;
  m.u.ctl_events_reply.session = c->session;
  int rc = mu_wire_send (sock, to, &m);
  if (rc != 0)
    mu_log_info (c->log, "EVENTS-SEND-FAILED", "ctl.events.reply: %s",
                 muster_strerror (rc));
  free (infos);
  free (mems);
}

/* Collect for a reader; answer when there is something or `force`.
 * Returns 1 if answered. */
static int
try_answer (mu_coord_t *c, mu_events_t *ev, void *sock, const mu_route_t *to,
            uint32_t uid, int admin, uint64_t since, const char *job,
            size_t max, int force)
{
  const mu_event_t **out = calloc (max, sizeof *out);
  if (out == NULL)
    {
      mu_wire_send_error (sock, to, -ENOMEM, "ctl.events", 0,
                          "out of memory answering ctl.events");
      return 1;
    }
  reader_t r = { .uid = uid, .admin = admin };
  uint64_t next;
  size_t n = mu_evlog_collect (ev->log, job, since, max, may_read, &r, out,
                               &next);
  if (n > 0 || force)
    reply (c, sock, to, out, n, next,
           mu_evlog_dropped_through (ev->log, job));
  free (out);
  return n > 0 || force;
}

static void
waiter_free (waiter_t *w)
{
  free (w->job);
  free (w);
}

static void on_timer (uv_timer_t *t);

/* Arm the timer for the earliest deadline of the parked readers. */
static void
arm (mu_coord_t *c, mu_events_t *ev)
{
  if (ev->stopped || c->loop == NULL)
    return;
  if (!ev->timer_open)
    {
      if (uv_timer_init (c->loop, &ev->timer) != 0)
        return;
      ev->timer.data = c;
      ev->timer_open = 1;
    }
  uint64_t first = UINT64_MAX;
  for (waiter_t *w = ev->waiters; w; w = w->next)
    if (w->deadline_ms < first)
      first = w->deadline_ms;
  if (first == UINT64_MAX)
    {
      uv_timer_stop (&ev->timer);
      return;
    }
  uint64_t now = mu_now_ms ();
  uv_timer_start (&ev->timer, on_timer, first > now ? first - now : 0, 0);
}

/* Could event e interest waiter w? */
static int
concerns (const waiter_t *w, const mu_event_t *e)
{
  reader_t r = { .uid = w->uid, .admin = w->admin };
  if (w->job != NULL && (e->job == NULL || strcmp (w->job, e->job) != 0))
    return 0;
  return may_read (e, &r);
}

/* Answer the parked readers that have something: those the event just
 * recorded concerns (fresh != NULL), or all, answering empty those whose
 * wait ended by `now` (not 0). */
static void
wake (mu_coord_t *c, mu_events_t *ev, uint64_t now, const mu_event_t *fresh)
{
  waiter_t **pp = &ev->waiters;
  while (*pp != NULL)
    {
      waiter_t *w = *pp;
      int due = now != 0 && w->deadline_ms <= now;
      if ((fresh == NULL || concerns (w, fresh))
          && try_answer (c, ev, w->sock, &w->route, w->uid, w->admin,
                         w->since, w->job, w->max, due))
        {
          *pp = w->next;
          ev->nwaiters--;
          waiter_free (w);
        }
      else
        pp = &w->next;
    }
}

static void
on_timer (uv_timer_t *t)
{
  mu_coord_t *c = t->data;
  mu_events_t *ev = c->events;
  if (ev == NULL)
    return;
  wake (c, ev, mu_now_ms (), NULL);
  arm (c, ev);
}

void
mu_events_emit (mu_coord_t *c, mu_event_t *e)
{
  mu_events_t *ev = events_of (c);
  if (e->time_us == 0)
    e->time_us = mu_wall_us ();
  if (ev == NULL || mu_evlog_append (ev->log, e, NULL) != 0)
    {
      if (ev == NULL || ev->lost++ == 0)
        mu_log_warn (c->log, "EVENT-LOST", "%s of job %s not recorded: out "
                     "of memory", mu_ev_kind_name (e->kind),
                     e->job ? e->job : "-");
      return;
    }
  if (ev->waiters != NULL)
    {
      wake (c, ev, 0, e);
      arm (c, ev);
    }
}

void
mu_events_ctl (mu_coord_t *c, const mu_route_t *from,
               const mu_principal_t *who, const mu_ctl_events_t *req)
{
  void *sock = c->ctl_reply_sock;
  mu_events_t *ev = events_of (c);
  char err[512];
  if (ev == NULL)
    {
      mu_wire_send_error (sock, from, -ENOMEM, "ctl.events", 0,
                          "out of memory: no event log");
      return;
    }
  if (req->job != NULL)
    {
      mu_job_t *j = mu_smap_get (c->jobs, req->job);
      if (j != NULL && !who->admin && who->uid != j->owner_uid)
        {
          snprintf (err, sizeof err, "events of job %s refused: it belongs "
                    "to %s", j->id, j->owner);
          mu_log_notice (c->log, "CTL-REFUSED", "uid %u: %s",
                         (unsigned)who->uid, err);
          mu_wire_send_error (sock, from, MUSTER_EPERM, "ctl.events", 0, err);
          return;
        }
      /* A follower may wait for a job that does not exist yet. */
      if (j == NULL && !mu_evlog_has_job (ev->log, req->job)
          && req->wait_ms == 0)
        {
          snprintf (err, sizeof err, "no job %s (nor events of one: the "
                    "coordinator keeps those of its newest %llu finished "
                    "jobs)", req->job,
                    (unsigned long long)c->opts.finished_keep);
          mu_wire_send_error (sock, from, MUSTER_ENOTFOUND, "ctl.events", 0,
                              err);
          return;
        }
    }
  if (req->since > mu_evlog_last_seq (ev->log))
    {
      snprintf (err, sizeof err, "since %llu is ahead of the newest event "
                "(%llu) of session %s: a coordinator restarted since? ask "
                "again from 0", (unsigned long long)req->since,
                (unsigned long long)mu_evlog_last_seq (ev->log), c->session);
      mu_wire_send_error (sock, from, MUSTER_EINVAL, "ctl.events", 0, err);
      return;
    }
  size_t max = req->max == 0 ? DEFAULT_EVENTS
               : req->max > MAX_EVENTS ? MAX_EVENTS : (size_t)req->max;
  int park = req->wait_ms > 0 && !ev->stopped && ev->nwaiters < MAX_WAITERS;
  if (try_answer (c, ev, sock, from, who->uid, who->admin, req->since,
                  req->job, max, !park))
    return;
  waiter_t *w = calloc (1, sizeof *w);
  if (w == NULL || (req->job && (w->job = strdup (req->job)) == NULL))
    {
      if (w)
        waiter_free (w);
      try_answer (c, ev, sock, from, who->uid, who->admin, req->since,
                  req->job, max, 1);
      return;
    }
  w->route = *from;
  w->sock = sock;
  w->uid = who->uid;
  w->admin = who->admin;
  w->since = req->since;
  w->max = max;
  uint64_t wait = req->wait_ms > MAX_WAIT_MS ? MAX_WAIT_MS : req->wait_ms;
  w->deadline_ms = mu_now_ms () + wait;
  w->next = ev->waiters;
  ev->waiters = w;
  ev->nwaiters++;
  arm (c, ev);
}

void
mu_events_stop (mu_coord_t *c)
{
  mu_events_t *ev = c->events;
  if (ev == NULL || ev->stopped)
    return;
  /* Answer the parked readers now (with what they have, usually
   * nothing): their followers ask the next coordinator at once instead
   * of waiting out their poll. */
  wake (c, ev, UINT64_MAX, NULL);
  ev->stopped = 1;
  while (ev->waiters != NULL)
    {
      waiter_t *w = ev->waiters;
      ev->waiters = w->next;
      waiter_free (w);
    }
  ev->nwaiters = 0;
  if (ev->timer_open)
    uv_close ((uv_handle_t *)&ev->timer, NULL);
}

void
mu_events_destroy (mu_coord_t *c)
{
  mu_events_t *ev = c->events;
  if (ev == NULL)
    return;
  while (ev->waiters != NULL)
    {
      waiter_t *w = ev->waiters;
      ev->waiters = w->next;
      waiter_free (w);
    }
  mu_evlog_destroy (&ev->log);
  free (ev);
  c->events = NULL;
}
