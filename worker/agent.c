/*
 * agent.c — the agent's coordinator side: lifecycle, registration with
 * retries, heartbeats both ways, and the commands the coordinator sends
 * (start, stop, progress, done, replies to relay).
 *
 * Registration: the DEALER is opened with ZMQ_IMMEDIATE so a registration
 * sent before the coordinator is up fails at once (EAGAIN) instead of piling
 * up in a queue; it is retried every 2 ms doubling to 20 ms while not
 * connected, and from 0.5 s doubling to 4 s once sent, until
 * "agent.welcome" arrives or connect_timeout_ms passes, after which the
 * agent gives up with a message naming the endpoint.  A coordinator silent
 * for heartbeat_ms * miss_limit is declared lost: the workers keep running
 * and the agent registers again, saying what it runs (epoch, ranks, pids,
 * and the exits that happened while it was cut off) so the coordinator can
 * keep it in its epoch (coordinator/reconcile.h).
 *
 * Fencing: the coordinator declares a node lost after heartbeat_ms *
 * miss_limit of silence and re-forms the gang without it.  An agent that
 * wakes from a stall longer than its lease — (miss_limit + 1) heartbeat
 * intervals, one interval more than the coordinator's bound, so that a
 * node the coordinator still counts never kills its workers — kills its
 * workers at once; so does an agent that has reached no coordinator for
 * the job's outage window (outage_ms, default 30 s).  Its launcher then
 * reports the true outcome of this node's workers.  A stall of the
 * coordinator in this process (muster run's embedded one) fences nothing:
 * the coordinator stalled too.
 * Nor is the coordinator in this process ever declared lost: its silence
 * is this process's own stall (e.g. spawning hundreds of workers).
 */
#include "worker/agent_int.h"
#include "worker/spawner.h"
#include "worker/log_fwd.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/netaddr.h"
#include "common/term.h"
#include "common/util.h"
#include "common/zwatch.h"

/* The first retry comes right after the TCP handshake would have had time
 * to finish: every launch waits for it. */
#define REG_BACKOFF_MIN_MS 2
#define REG_BACKOFF_UNSENT_MS 20 /* cap while not even connected */
#define REG_BACKOFF_SENT_MS 500  /* first wait for an answer */
#define REG_BACKOFF_MAX_MS 4000
#define COORD_HWM 100000
#define COORD_ROTATE_MS 2000 /* cut off: next endpoint of the list after
                                this (longer than a standby's default lease
                                and start, coordinator/standby.h) */

int
mu_agent_new (const mu_agent_opts_t *opts, mu_agent_t **out)
{
  if (opts->coordinator == NULL || opts->slots == 0)
    return MUSTER_EINVAL;
  mu_agent_t *a = calloc (1, sizeof *a);
  if (a == NULL)
    return -ENOMEM;
  a->opts = *opts;
  a->run_dir.lock_fd = -1;
  mu_log_init (&a->own_log, "muster-agent");
  a->log = opts->log ? opts->log : &a->own_log;
  if (opts->job != NULL && (a->job = mu_job_spec_dup (opts->job)) == NULL)
    {
      free (a);
      return -ENOMEM;
    }
  a->opts.job = a->job;
  char why[300];
  if ((opts->log_dir != NULL
       && mu_strlcpy (a->log_dir, opts->log_dir, sizeof a->log_dir) != 0)
      || mu_std_spec_parse (opts->redirects, &a->redirects, why, sizeof why)
      || mu_std_spec_parse (opts->tee, &a->tee, why, sizeof why))
    {
      mu_job_spec_free (&a->job);
      free (a);
      return MUSTER_EINVAL;
    }
  a->opts.log_dir = a->opts.redirects = a->opts.tee = NULL; /* copied */
  a->opts.key = NULL;
  a->opts.token = NULL;
  a->opts.server_key = NULL;
  if (opts->token != NULL)
    {
      a->token = *opts->token;
      a->have_token = 1;
      mu_strlcpy (a->server_key, opts->token->server_pub, sizeof a->server_key);
    }
  if (opts->server_key != NULL && opts->server_key[0] != '\0')
    mu_strlcpy (a->server_key, opts->server_key, sizeof a->server_key);
  if (a->server_key[0] != '\0')
    {
      int krc = 0;
      if (opts->key != NULL)
        a->key = *opts->key;
      else
        krc = mu_keypair_new (&a->key);
      if (krc != 0 || !mu_key_valid (a->server_key))
        {
          mu_job_spec_free (&a->job);
          free (a);
          return krc != 0 ? krc : MUSTER_EINVAL;
        }
    }
  /* A list "A,B": the first is used, the others on COORD-LOST. */
  if (mu_strlcpy (a->coord_list, opts->coordinator, sizeof a->coord_list) != 0)
    {
      mu_job_spec_free (&a->job);
      free (a);
      return MUSTER_EINVAL;
    }
  a->ncoords = 1;
  for (const char *p = a->coord_list; (p = strchr (p, ',')) != NULL; p++)
    a->ncoords++;
  mu_strlcpy (a->coordinator, a->coord_list, sizeof a->coordinator);
  a->coordinator[strcspn (a->coordinator, ",")] = '\0';
  if (opts->node_id != NULL)
    mu_strlcpy (a->node_id, opts->node_id, sizeof a->node_id);
  else
    {
      char hn[64] = "node", rnd[9];
      gethostname (hn, sizeof hn - 1);
      hn[strcspn (hn, ".")] = '\0';
      mu_random_hex (rnd, 4);
      snprintf (a->node_id, sizeof a->node_id, "%s-%d-%s", hn, (int)getpid (),
                rnd);
    }
  if (mu_agent_metrics_open (a) != 0)
    {
      mu_job_spec_free (&a->job);
      free (a);
      return -ENOMEM;
    }
  *out = a;
  return 0;
}

const char *
mu_agent_public_key (const mu_agent_t *a)
{
  return a->key.pub;
}

const char *
mu_agent_standby_stream (const mu_agent_t *a)
{
  return a->standby_stream;
}

const char *
mu_agent_node_id (const mu_agent_t *a)
{
  return a->node_id;
}

/* The address other nodes' workers reach ours at. */
static void
detect_host (mu_agent_t *a)
{
  if (a->opts.host != NULL)
    {
      mu_strlcpy (a->host, a->opts.host, sizeof a->host);
      return;
    }
  if (strstr (a->coordinator, "//127.") != NULL
      || strstr (a->coordinator, "//localhost") != NULL
      || strncmp (a->coordinator, "ipc:", 4) == 0
      || strncmp (a->coordinator, "inproc:", 7) == 0)
    {
      strcpy (a->host, "127.0.0.1");
      return;
    }
  if (gethostname (a->host, sizeof a->host - 1) != 0)
    strcpy (a->host, "127.0.0.1");
}

/* Find slots+1 consecutive free TCP ports: one data-plane port per local
 * rank plus one for rank 0's store (MASTER_PORT).  Bound briefly to check,
 * then released; a program that binds them later may still race another
 * process, as with torchrun's MASTER_PORT. */
static uint64_t
find_port_base (uint32_t count)
{
  for (int attempt = 0; attempt < 64; attempt++)
    {
      char rnd[5];
      mu_random_hex (rnd, 2);
      unsigned r = (unsigned)strtoul (rnd, NULL, 16);
      unsigned base = 20000 + r % (30000 - count);
      int ok = 1;
      int fds[64];
      unsigned nfd = 0;
      for (unsigned p = base; p < base + count && ok; p++)
        {
          int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          struct sockaddr_in sin = { .sin_family = AF_INET,
                                     .sin_port = htons ((uint16_t)p) };
          if (fd < 0 || bind (fd, (struct sockaddr *)&sin, sizeof sin) != 0)
            ok = 0;
          if (fd >= 0)
            {
              if (nfd < 64)
                fds[nfd++] = fd;
              else
                close (fd);
            }
        }
      for (unsigned i = 0; i < nfd; i++)
        close (fds[i]);
      if (ok)
        return base;
    }
  return 0;
}

int
mu_agent_send_coord (mu_agent_t *a, const mu_msg_t *m)
{
  if (a->coord_sock == NULL)
    return MUSTER_ECLOSED;
  if ((a->nheld > 0 || a->coord_lost) && !a->registered
      && mu_agent_hold_request (a, m) == 0)
    return 0; /* held, in order behind those already held */
  int rc = mu_wire_send (a->coord_sock, NULL, m);
  if (rc == -EAGAIN && a->coord_lost && mu_agent_hold_request (a, m) == 0)
    return 0;
  if (rc != 0 && m->type != MU_MSG_REGISTER && m->type != MU_MSG_HEARTBEAT
      && a->coord_lost)
    mu_log_info (a->log, "SEND-FAILED", "%s to coordinator: %s (it is "
                 "unreachable; registration reports it)",
                 mu_msg_name (m->type), muster_strerror (rc));
  else if (rc != 0 && m->type != MU_MSG_REGISTER && m->type != MU_MSG_HEARTBEAT)
    mu_log_warn (a->log, "SEND-FAILED", "%s to coordinator: %s",
                 mu_msg_name (m->type), muster_strerror (rc));
  return rc;
}

static int
send_register (mu_agent_t *a)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_REGISTER;
  m.u.reg.node_id = a->node_id;
  m.u.reg.host = a->host;
  m.u.reg.slots = a->opts.slots;
  m.u.reg.term = a->term; /* an older coordinator steps down on it */
  m.u.reg.port_base = a->port_base;
  m.u.reg.pid = (uint64_t)getpid ();
  m.u.reg.uid = (uint64_t)geteuid (); /* a root agent runs any owner's jobs */
  m.u.reg.rank_hint = a->opts.rank_hint;
  m.u.reg.role = (char *)a->opts.role;
  m.u.reg.job = a->job;
  /* schedwire: its labels, split at the first '=' */
  char lk[MU_AGENT_MAX_LABELS][64];
  char *keys[MU_AGENT_MAX_LABELS], *vals[MU_AGENT_MAX_LABELS];
  for (size_t i = 0; i < a->opts.nlabels && i < MU_AGENT_MAX_LABELS; i++)
    {
      const char *kv = a->opts.labels[i], *eq = strchr (kv, '=');
      size_t kl = eq ? (size_t)(eq - kv) : strlen (kv);
      if (kl >= sizeof lk[0])
        kl = sizeof lk[0] - 1;
      memcpy (lk[i], kv, kl);
      lk[i][kl] = '\0';
      keys[m.u.reg.labels.n] = lk[i];
      vals[m.u.reg.labels.n++] = (char *)(eq ? eq + 1 : "");
    }
  m.u.reg.labels.keys = keys;
  m.u.reg.labels.vals = vals;
  /* What this node runs, for reconciliation after a reconnect. */
  mu_run_worker_t *ws = NULL;
  size_t nws = 0;
  if (a->job != NULL && mu_agent_workers_describe (a, &ws, &nws) == 0
      && nws > 0)
    {
      m.u.reg.epoch = a->start.u.start.epoch;
      m.u.reg.workers.v = ws;
      m.u.reg.workers.n = nws;
    }
  int rc = mu_agent_send_coord (a, &m);
  free (ws);
  return rc;
}

void
mu_agent_give_up (mu_agent_t *a, const char *why)
{
  /* A launcher (on_done) prints the reason as the job's outcome: one
   * line, not the same sentence twice. */
  if (a->opts.ev.on_done == NULL)
    mu_log_err (a->log, "AGENT-GIVE-UP", "%s", why);
  else
    mu_log_info (a->log, "AGENT-GIVE-UP", "%s", why);
  mu_job_done_t d;
  memset (&d, 0, sizeof d);
  d.job = a->job ? a->job->id : (char *)"";
  d.state = (char *)"failed";
  d.exit_code = 1;
  d.reason = (char *)why;
  d.failed_rank = -1;
  mu_agent_report_done (a, &d);
  mu_agent_shutdown (a, 0);
}

static void
on_reg_timer (uv_timer_t *t)
{
  mu_agent_t *a = t->data;
  if (a->registered || a->shutting_down)
    return;
  uint64_t now = mu_now_ms ();
  if (a->coord_lost && a->start.type == MU_MSG_START)
    {
      /* Cut off while running an epoch: the outage window bounds how long
       * the workers run unsupervised, and then this node reports what its
       * own workers did. */
      uint64_t away = now - a->last_coord_ms;
      if (away >= mu_agent_outage_ms (a))
        {
          if (a->live > 0)
            {
              char why[256];
              snprintf (why, sizeof why, "no coordinator for %.1f s (the "
                        "job's outage window)", (double)away / 1000.0);
              a->fenced = 1;
              mu_agent_fence (a, why);
              return; /* reported once the last worker is down */
            }
          mu_agent_report_own_outcome (a, away);
          return;
        }
    }
  else if (a->opts.connect_timeout_ms > 0
           && now - a->started_ms >= a->opts.connect_timeout_ms)
    {
      char why[512];
      snprintf (why, sizeof why,
                "cannot reach the coordinator at %s: no answer after %.1f s%s",
                a->coordinator, (double)(now - a->started_ms) / 1000.0,
                a->have_token && !a->enrolled
                  ? " (it answers only keys it knows: a join token of "
                    "another job or coordinator gets no answer either)"
                  : "");
      mu_agent_give_up (a, why);
      return;
    }
  /* With a list of coordinators, try the next one when this one has not
   * answered for a while: cut off (a standby takes over after its lease),
   * or never answered at all (an agent started, or restarted, while the
   * first of its list is the standby or is down). */
  uint64_t since = a->coord_switch_ms > a->started_ms ? a->coord_switch_ms
                                                      : a->started_ms;
  if (a->ncoords > 1 && now - since >= COORD_ROTATE_MS)
    mu_agent_next_coord (a, a->coord_lost ? "no answer" : "no answer yet");
  /* Not connected yet (ZMQ_IMMEDIATE refuses the send locally, at no cost
   * to anyone): try again soon, so a launcher started just before its
   * coordinator joins within milliseconds of it.  Sent: give the
   * coordinator time to answer before sending a duplicate, longer each
   * time (a coordinator busy with thousands of registrations must not get
   * more of them). */
  /* With a join token, the token is exchanged for the agent's key first. */
  if (a->enrolled && a->enroll_sock != NULL)
    mu_agent_enroll_close (a);
  if (a->have_token && !a->enrolled && a->enroll_sock == NULL)
    (void)mu_agent_enroll_open (a); /* failed after a switch: again now */
  int sent = a->have_token && !a->enrolled ? mu_agent_enroll_send (a)
                                           : send_register (a);
  if (sent == 0)
    a->reg_backoff_ms = a->reg_backoff_ms >= REG_BACKOFF_SENT_MS
                            ? a->reg_backoff_ms * 2
                            : REG_BACKOFF_SENT_MS;
  else
    a->reg_backoff_ms = a->reg_backoff_ms == 0 ? REG_BACKOFF_MIN_MS
                        : a->reg_backoff_ms * 2 > REG_BACKOFF_UNSENT_MS
                            ? REG_BACKOFF_UNSENT_MS
                            : a->reg_backoff_ms * 2;
  if (a->reg_backoff_ms > REG_BACKOFF_MAX_MS)
    a->reg_backoff_ms = REG_BACKOFF_MAX_MS;
  uint64_t next = a->reg_backoff_ms;
  if (a->coord_lost && a->start.type == MU_MSG_START)
    {
      uint64_t end = a->last_coord_ms + mu_agent_outage_ms (a);
      if (now + next > end)
        next = end > now ? end - now : 0;
    }
  else if (a->opts.connect_timeout_ms > 0
           && now + next > a->started_ms + a->opts.connect_timeout_ms)
    next = a->started_ms + a->opts.connect_timeout_ms - now;
  uv_timer_start (&a->reg_timer, on_reg_timer, next, 0);
}

static void
start_registering (mu_agent_t *a)
{
  a->registered = 0;
  a->reg_backoff_ms = 0;
  uv_timer_stop (&a->hb_timer);
  mu_agent_hb_close (a);
  uv_timer_start (&a->reg_timer, on_reg_timer, 0, 0);
}

void
mu_agent_register_now (mu_agent_t *a)
{
  start_registering (a);
}

static void
on_hb_timer (uv_timer_t *t)
{
  mu_agent_t *a = t->data;
  /* A safety net: per-owner endpoints whose jobs are gone close within a
   * heartbeat even if an exit or job.done path missed them. */
  mu_agent_ipc_owner_gc (a);
  mu_agent_workers_flush_loads (a); /* service: loads held back */
  uint64_t now = mu_now_ms ();
  uint64_t gap = a->last_tick_ms ? now - a->last_tick_ms : 0;
  a->last_tick_ms = now;
  if (gap > (a->miss_limit + 1) * a->heartbeat_ms && !a->opts.coord_in_process)
    {
      /* This agent stalled (SIGSTOP, a frozen VM) past its lease: the
       * coordinator has declared the node lost and started its ranks
       * elsewhere.  Kill ours before they do any more work, then
       * register again (the coordinator tells us where we stand). */
      char why[256];
      snprintf (why, sizeof why, "this agent stalled for %llu ms, longer "
                "than its lease (%llu ms)", (unsigned long long)gap,
                (unsigned long long)((a->miss_limit + 1) * a->heartbeat_ms));
      mu_agent_fence (a, why);
      a->last_coord_ms = now;
      a->coord_lost = 1;
      start_registering (a);
      return;
    }
  if (gap > 2 * a->heartbeat_ms)
    {
      /* Our own loop ran late: the coordinator's answers may be waiting
       * unread.  Judge it again at the next tick. */
      if (a->last_coord_ms < now - a->heartbeat_ms)
        a->last_coord_ms = now - a->heartbeat_ms;
    }
  /* A coordinator on our own loop answers whenever the loop runs: its
   * silence is this process's stall, and re-registering would only
   * restart the gang. */
  if (!a->opts.coord_in_process
      && now - a->last_coord_ms > a->heartbeat_ms * a->miss_limit)
    {
      mu_log_warn (a->log, "COORD-LOST",
                   "no word from the coordinator at %s for %llu ms; "
                   "workers keep running, registering again",
                   a->coordinator, (unsigned long long)(now - a->last_coord_ms));
      a->started_ms = now;
      a->coord_lost = 1;
      mu_agent_next_coord (a, "COORD-LOST");
      start_registering (a);
      return;
    }
  if (!mu_agent_hb_tick (a, now)) /* hb: sent over UDP, and answered */
    return;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_HEARTBEAT;
  m.u.heartbeat.node_id = a->node_id;
  m.u.heartbeat.seq = ++a->hb_seq;
  m.u.heartbeat.step = a->max_step;
  mu_agent_send_coord (a, &m);
}

/* A coordinator of a lower term than one already seen was replaced by a
 * standby (coordinator/standby.h): nothing it says is acted on. */
static int
term_refused (mu_agent_t *a, const mu_msg_t *m)
{
  uint64_t t = m->type == MU_MSG_WELCOME     ? m->u.welcome.term
               : m->type == MU_MSG_HEARTBEAT ? m->u.heartbeat.term
               : m->type == MU_MSG_START     ? m->u.start.term
               : m->type == MU_MSG_STOP      ? m->u.stop.term
               : m->type == MU_MSG_JOB_DONE  ? m->u.job_done.term
                                             : 0;
  if (mu_term_check (&a->term, t) == 0)
    return 0;
  mu_log_warn (a->log, "TERM-REFUSED",
               "%s of term %llu: a coordinator of term %llu took over; "
               "ignored",
               mu_msg_name (m->type), (unsigned long long)t,
               (unsigned long long)a->term);
  if (m->type == MU_MSG_WELCOME)
    mu_agent_next_coord (a, "a lower term");
  return 1;
}

void
mu_agent_next_coord (mu_agent_t *a, const char *why)
{
  if (a->ncoords < 2)
    return;
  if (a->coord_connected)
    zmq_disconnect (a->coord_sock, a->coordinator);
  a->coord_idx = (a->coord_idx + 1) % a->ncoords;
  const char *p = a->coord_list;
  for (size_t i = 0; i < a->coord_idx; i++)
    p = strchr (p, ',') + 1;
  char was[256];
  mu_strlcpy (was, a->coordinator, sizeof was);
  mu_strlcpy (a->coordinator, p, sizeof a->coordinator);
  a->coordinator[strcspn (a->coordinator, ",")] = '\0';
  a->coord_switch_ms = mu_now_ms ();
  mu_log_warn (a->log, "COORD-SWITCH", "%s at %s: trying the coordinator "
                 "at %s", why, was, a->coordinator);
  if (a->coord_connected)
    {
      a->coord_connected = 0;
      mu_netaddr_zmq_prepare (a->coord_sock, a->coordinator);
      mu_agent_connect_coord (a);
    }
  /* Still exchanging the join token: exchange it with the next one. */
  if (a->enroll_sock != NULL)
    {
      mu_agent_enroll_close (a);
      if (mu_agent_enroll_open (a) != 0)
        mu_log_warn (a->log, "COORD-SWITCH", "cannot open the enrolment "
                     "connection to %s; retrying", a->coordinator);
    }
}

static void
on_welcome (mu_agent_t *a, const mu_welcome_t *w)
{
  a->registered = 1;
  a->coord_lost = 0;
  a->last_tick_ms = mu_now_ms (); /* a stall before the first tick counts */
  a->heartbeat_ms = w->heartbeat_ms ? w->heartbeat_ms : 200;
  mu_strlcpy (a->standby_stream, w->standby_stream ? w->standby_stream : "",
              sizeof a->standby_stream);
  a->miss_limit = w->miss_limit ? w->miss_limit : 4;
  uint64_t udp_ms = mu_agent_hb_welcome (a, w); /* hb: fixed interval */
  if (udp_ms > 0)
    a->heartbeat_ms = udp_ms;
  uv_timer_stop (&a->reg_timer);
  uv_timer_start (&a->hb_timer, on_hb_timer, a->heartbeat_ms, a->heartbeat_ms);
  mu_agent_flush_held (a);
  mu_log_info (a->log, "REGISTERED", "node %s registered with %s (session %s)",
               a->node_id, a->coordinator, w->session);
  if (w->note != NULL && w->note[0] != '\0')
    mu_log_warn (a->log, "JOB-OPTIONS",
                 "the job keeps the options it was created with: %s",
                 w->note);
}

static void
on_coord_error (mu_agent_t *a, const mu_error_t *e)
{
  if (e->code == MUSTER_ENOTFOUND && !a->shutting_down)
    {
      /* The coordinator does not know us (it restarted, or declared us
       * lost): register again. */
      start_registering (a);
      return;
    }
  if (e->code == MUSTER_ENOTFOUND && a->left)
    {
      /* We sent agent.leave and the coordinator released the node: the
       * worker exits (and libmuster requests) still in flight on the way
       * out are answered "unknown node".  Expected, not a warning. */
      mu_log_debug (a->log, "COORD-RELEASED", "%s after this node left (%s)",
                    e->message, e->in_reply_to ? e->in_reply_to : "?");
      return;
    }
  if (e->code == MUSTER_ESTALE_EPOCH && e->in_reply_to != NULL
      && strcmp (e->in_reply_to, "worker.state") == 0)
    {
      /* An exit of a worker of an epoch that is over (replaced in place,
       * or fenced): the coordinator has moved on. */
      mu_log_debug (a->log, "STALE-EPOCH", "%s", e->message);
      return;
    }
  if (e->in_reply_to != NULL && strcmp (e->in_reply_to, "agent.register") == 0)
    {
      char why[1024];
      snprintf (why, sizeof why, "the coordinator refused this node: %s",
                e->message);
      mu_agent_give_up (a, why);
      return;
    }
  mu_log_warn (a->log, "COORD-ERROR", "%s (%s)", e->message,
               muster_err_name ((int)e->code));
}

static void
dispatch (mu_agent_t *a, mu_msg_t *m)
{
  if (term_refused (a, m))
    return;
  a->last_coord_ms = mu_now_ms ();
  switch (m->type)
    {
    case MU_MSG_WELCOME:
      on_welcome (a, &m->u.welcome);
      break;
    case MU_MSG_HEARTBEAT:
      /* The coordinator asks a large cluster for rarer heartbeats. */
      if (m->u.heartbeat.heartbeat_ms > 0 && a->hb_udp == NULL
          && m->u.heartbeat.heartbeat_ms != a->heartbeat_ms && a->registered)
        {
          a->heartbeat_ms = m->u.heartbeat.heartbeat_ms;
          uv_timer_start (&a->hb_timer, on_hb_timer, a->heartbeat_ms,
                          a->heartbeat_ms);
        }
      break;
    case MU_MSG_RDZV_PROGRESS:
      if (a->opts.ev.on_progress)
        a->opts.ev.on_progress (a->opts.ev.arg, &m->u.rdzv_progress);
      break;
    case MU_MSG_START:
      mu_agent_workers_start (a, m);
      break;
    case MU_MSG_STOP:
      mu_agent_workers_stop (a, m->u.stop.epoch, m->u.stop.grace_ms);
      if (a->opts.ev.on_stop)
        a->opts.ev.on_stop (a->opts.ev.arg, &m->u.stop);
      break;
    case MU_MSG_JOB_DONE:
      if (a->live > 0)
        {
          /* Report once the last worker is down. */
          mu_msg_clear (&a->pending_done);
          a->pending_done = *m;
          m->type = MU_MSG_NONE;
          mu_agent_workers_stop (a, UINT64_MAX, 0);
        }
      else
        mu_agent_report_done (a, &m->u.job_done);
      break;
    case MU_MSG_REPLY:
      if (!mu_agent_pmix_reply (a, m))
        mu_agent_workers_relay_reply (a, m);
      break;
    case MU_MSG_MEMBERS:
      mu_agent_workers_members (a, m);
      break;
    case MU_MSG_CKPT_REQUEST:
      mu_agent_workers_broadcast (a, m);
      /* A worker still starting up gets it when it says hello. */
      mu_msg_clear (&a->ckpt_request);
      a->ckpt_request = *m;
      m->type = MU_MSG_NONE;
      break;
    case MU_MSG_CKPT_DONE:
      mu_agent_workers_broadcast (a, m);
      mu_msg_clear (&a->ckpt_request);
      if (a->opts.ev.on_ckpt_done)
        a->opts.ev.on_ckpt_done (a->opts.ev.arg, &m->u.ckpt_done);
      break;
    case MU_MSG_ERROR:
      on_coord_error (a, &m->u.error);
      break;
    default:
      mu_log_warn (a->log, "PROTO-ERROR", "unexpected %s from the coordinator",
                   mu_msg_name (m->type));
      break;
    }
}

static int
on_coord_readable (void *sock, void *arg)
{
  mu_agent_t *a = arg;
  mu_msg_t m;
  char err[256];
  int rc = mu_wire_recv (sock, NULL, &m, err, sizeof err);
  if (rc == -EAGAIN || (rc < 0 && rc > MUSTER_ERR_BASE))
    return -EAGAIN; /* nothing, or a socket error: stop draining */
  if (rc != 0)
    {
      mu_log_warn (a->log, "PROTO-ERROR", "from the coordinator: %s", err);
      return 0;
    }
  dispatch (a, &m);
  mu_msg_clear (&m);
  return 0;
}

void
mu_agent_maybe_finish (mu_agent_t *a)
{
  if (a->live > 0)
    return;
  if (a->fenced && !a->done_reported && !a->shutting_down)
    {
      mu_agent_report_own_outcome (a, mu_now_ms () - a->last_coord_ms);
      return;
    }
  if (a->pending_done.type == MU_MSG_JOB_DONE)
    {
      mu_msg_t d = a->pending_done;
      a->pending_done.type = MU_MSG_NONE;
      mu_agent_report_done (a, &d.u.job_done);
      mu_msg_clear (&d);
    }
  if (a->shutting_down && !a->closed)
    {
      a->closed = 1;
      uv_close ((uv_handle_t *)&a->reg_timer, NULL);
      uv_close ((uv_handle_t *)&a->hb_timer, NULL);
      mu_agent_hb_close (a);
      uv_close ((uv_handle_t *)&a->hang_timer, NULL);
      uv_close ((uv_handle_t *)&a->preempt_timer, NULL);
      mu_zwatch_stop (&a->coord_watch);
      mu_agent_enroll_close (a);
      mu_agent_workers_close (a);
      int linger = 200; /* let agent.leave and the last reports out */
      if (a->coord_sock)
        zmq_setsockopt (a->coord_sock, ZMQ_LINGER, &linger, sizeof linger);
      if (a->coord_sock)
        zmq_close (a->coord_sock);
      a->coord_sock = NULL;
      zmq_ctx_term (a->zctx);
      a->zctx = NULL;
      if (a->opts.ev.on_closed)
        a->opts.ev.on_closed (a->opts.ev.arg);
    }
}

void
mu_agent_report_done (mu_agent_t *a, const mu_job_done_t *d)
{
  if (a->job != NULL && a->done_reported)
    return;
  a->done_reported = a->job != NULL;
  mu_agent_spare_kill (a); /* torch/kv: no place left for it */
  mu_msg_clear (&a->start);
  mu_agent_ipc_owner_gc (a); /* the job's user may have no job left here */
  if (a->opts.ev.on_done)
    a->opts.ev.on_done (a->opts.ev.arg, d);
  if (a->opts.exit_on_done)
    mu_agent_shutdown (a, 0);
}

static int
resolve_exec_helper (mu_agent_t *a)
{
  if (a->opts.exec_helper != NULL)
    mu_strlcpy (a->exec_helper, a->opts.exec_helper, sizeof a->exec_helper);
  else
    {
      char dir[900];
      int rc = mu_self_dir (dir, sizeof dir);
      if (rc != 0)
        return rc;
      snprintf (a->exec_helper, sizeof a->exec_helper, "%s/muster-exec", dir);
    }
  if (access (a->exec_helper, X_OK) != 0)
    {
      mu_log_err (a->log, "NO-EXEC-HELPER", "%s is missing or not executable",
                  a->exec_helper);
      return -ENOENT;
    }
  return 0;
}

int
mu_agent_start (mu_agent_t *a, uv_loop_t *loop)
{
  a->loop = loop;
  int rc = resolve_exec_helper (a);
  if (rc != 0)
    return rc;
  /* Workers' supervisors come from a resident spawner (decision 110);
   * MUSTER_SPAWNER=exec keeps the posix_spawn of muster-exec per worker. */
  const char *how = getenv ("MUSTER_SPAWNER");
  if (how == NULL || strcmp (how, "exec") != 0)
    {
      a->spawner = mu_spawner_new (a->exec_helper);
      if (a->spawner == NULL)
        return -ENOMEM;
    }
  detect_host (a);
  a->port_base = find_port_base (a->opts.slots + 1);
  a->zctx = zmq_ctx_new ();
  if (a->zctx == NULL)
    return -errno;
  a->coord_sock = zmq_socket (a->zctx, ZMQ_DEALER);
  int one = 1;
  if (a->coord_sock == NULL)
    rc = -errno;
  if (rc == 0)
    rc = mu_wire_sockopts (a->coord_sock, COORD_HWM);
  /* No routing id of our own: the coordinator's ROUTER names connections
   * itself and knows this node by its key (a chosen id could be claimed by
   * another connection). */
  if (rc == 0
      && zmq_setsockopt (a->coord_sock, ZMQ_IMMEDIATE, &one, sizeof one) != 0)
    rc = -errno;
  if (rc == 0 && a->server_key[0] != '\0'
      && (zmq_setsockopt (a->coord_sock, ZMQ_CURVE_SERVERKEY, a->server_key,
                          MU_KEY_Z85_LEN) != 0
          || zmq_setsockopt (a->coord_sock, ZMQ_CURVE_PUBLICKEY, a->key.pub,
                             MU_KEY_Z85_LEN) != 0
          || zmq_setsockopt (a->coord_sock, ZMQ_CURVE_SECRETKEY, a->key.sec,
                             MU_KEY_Z85_LEN) != 0))
    rc = -errno;
  /* A launcher often starts before the coordinator it joins is listening:
   * libzmq would wait its default 100 ms between TCP connect attempts;
   * start at 5 ms and back off to 1 s; to 100 ms with a standby in the
   * list, which starts serving a lease after the primary stopped. */
  int ivl = 5, ivl_max = a->ncoords > 1 ? 100 : 1000;
  if (rc == 0
      && (zmq_setsockopt (a->coord_sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0
          || zmq_setsockopt (a->coord_sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max,
                             sizeof ivl_max) != 0))
    rc = -errno;
  if (rc == 0)
    rc = mu_netaddr_zmq_prepare (a->coord_sock, a->coordinator);
  /* With a token, the agent's own key is not known to the coordinator
   * yet: it connects once the token has been exchanged for it. */
  if (rc == 0)
    rc = a->have_token ? mu_agent_enroll_open (a) : mu_agent_connect_coord (a);
  if (rc == 0)
    rc = mu_agent_workers_open (a);
  if (rc == 0)
    rc = mu_zwatch_start (loop, a->coord_sock, on_coord_readable, a,
                          &a->coord_watch);
  if (rc != 0)
    {
      mu_agent_workers_close (a);
      if (a->coord_sock)
        zmq_close (a->coord_sock);
      a->coord_sock = NULL;
      zmq_ctx_term (a->zctx);
      a->zctx = NULL;
      return rc;
    }
  uv_timer_init (loop, &a->reg_timer);
  uv_timer_init (loop, &a->hb_timer);
  uv_timer_init (loop, &a->preempt_timer);
  a->reg_timer.data = a->hb_timer.data = a->preempt_timer.data = a;
  mu_agent_workers_init_timers (a);
  a->started_ms = a->last_coord_ms = mu_now_ms ();
  start_registering (a);
  return 0;
}

int
mu_agent_connect_coord (mu_agent_t *a)
{
  if (a->coord_connected)
    return 0;
  if (zmq_connect (a->coord_sock, a->coordinator) != 0)
    {
      int rc = -errno;
      mu_log_err (a->log, "BAD-ENDPOINT", "cannot use coordinator endpoint %s: %s",
                  a->coordinator, zmq_strerror (-rc));
      return rc;
    }
  a->coord_connected = 1;
  return 0;
}

static void
on_preempt_deadline (uv_timer_t *t)
{
  mu_agent_t *a = t->data;
  mu_log_warn (a->log, "PREEMPT-DEADLINE",
               "no answer from the coordinator within the grace period; "
               "stopping the workers");
  mu_agent_shutdown (a, 0);
}

void
mu_agent_preempt (mu_agent_t *a, uint64_t grace_ms, const char *reason)
{
  if (a->shutting_down || a->preempting)
    return;
  if (!a->registered || a->live == 0 || a->job == NULL)
    {
      mu_agent_shutdown (a, grace_ms);
      return;
    }
  a->preempting = 1;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_PREEMPT;
  m.u.preempt.node_id = a->node_id;
  m.u.preempt.grace_ms = grace_ms;
  m.u.preempt.reason = (char *)reason;
  mu_agent_send_coord (a, &m);
  uv_timer_start (&a->preempt_timer, on_preempt_deadline, grace_ms, 0);
}

void
mu_agent_shutdown (mu_agent_t *a, uint64_t grace_ms)
{
  if (a->shutting_down || a->loop == NULL)
    return;
  a->shutting_down = 1;
  uv_timer_stop (&a->reg_timer);
  uv_timer_stop (&a->preempt_timer);
  if (a->registered)
    {
      /* Tell the coordinator at once instead of letting it miss our
       * heartbeats: a drained node is not a failure. */
      mu_msg_t m;
      memset (&m, 0, sizeof m);
      m.type = MU_MSG_LEAVE;
      m.u.leave.node_id = a->node_id;
      m.u.leave.reason = (char *)(a->done_reported ? "its job is done"
                                                   : "agent shutting down");
      mu_agent_send_coord (a, &m);
      a->left = 1;
    }
  if (a->live > 0)
    mu_agent_workers_stop (a, UINT64_MAX, grace_ms);
  mu_agent_maybe_finish (a);
}

void
mu_agent_destroy (mu_agent_t **a_p)
{
  if (a_p == NULL || *a_p == NULL)
    return;
  mu_agent_t *a = *a_p;
  mu_msg_clear (&a->start);
  mu_msg_clear (&a->pending_done);
  mu_msg_clear (&a->members);
  mu_msg_clear (&a->ckpt_request);
  mu_agent_free_held (a);
  mu_logfwd_destroy (&a->logfwd); /* agent_logs.c, if never closed */
  free (a->workers);
  mu_job_spec_free (&a->job);
  mu_run_dir_close (&a->run_dir);
  mu_agent_metrics_close (a);
  mu_spawner_destroy (&a->spawner);
  free (a);
  *a_p = NULL;
}
