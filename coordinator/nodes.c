/*
 * nodes.c — the coordinator's node table: registration, heartbeats, loss.
 *
 * A node is one agent.  It is stored in a table indexed by a small integer
 * key (reused through a free list) which doubles as its rendezvous key, and
 * indexed by node id for lookups from routing ids.  Registration validates
 * what the agent offers, answers "agent.welcome" with the heartbeat
 * contract, and hands a node that brings a job to jobs.c.  The sweep
 * declares a node lost when it has been silent for heartbeat_ms *
 * miss_limit; jobs.c then reacts (re-form, fail).  Each heartbeat is O(1).
 *
 * An agent that registers again while it runs workers is reconciled
 * (reconcile.h): kept in its epoch, told its finished job's outcome, or
 * fenced.  An agent whose TCP connection closes is declared lost at once:
 * the agent port's socket monitor reports the closed descriptor, and
 * every message carries its connection's descriptor (ZMQ_SRCFD), bound
 * with the node's route.  A descriptor is reused only after its close
 * event was queued, so the monitor's queue is drained before one is bound.
 */
#include "coordinator/coord.h"
#include "coordinator/sched_glue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/hb_wire.h"
#include "common/util.h"
#include "coordinator/auth.h"
#include "coordinator/ckpt.h"
#include "coordinator/coord_metrics.h"
#include "coordinator/journal.h"
#include "coordinator/epoch.h"
#include "coordinator/hb_udp.h"
#include "coordinator/reconcile.h"
#include "coordinator/standby.h"

#define MAX_SLOTS 4096

/* Routes are the ROUTER's own ids for connections (agents no longer
 * choose them: a chosen id could be claimed by another connection), so the
 * coordinator keeps route -> node itself. */
static void
route_key (const mu_route_t *r, char *buf)
{
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < r->len; i++)
    {
      buf[2 * i] = hex[r->id[i] >> 4];
      buf[2 * i + 1] = hex[r->id[i] & 15];
    }
  buf[2 * r->len] = '\0';
}

mu_node_t *
mu_nodes_by_route (mu_coord_t *c, const mu_route_t *from)
{
  char k[2 * sizeof from->id + 1];
  route_key (from, k);
  mu_node_t *n = mu_smap_get (c->routes, k);
  return (n != NULL && n->alive) ? n : NULL;
}

/* A closed connection's descriptor that is bound again is a new
 * connection: its old close event, if still pending, is not this one's. */
static void
forget_closed (mu_coord_t *c, int fd)
{
  mu_conn_watch_drain (c->agent_conns);
  for (size_t i = 0; i < c->nclosed; i++)
    if (c->closed_fds[i] == fd)
      c->closed_fds[i] = -1;
}

void
mu_node_route (const mu_node_t *n, mu_route_t *route)
{
  memset (route, 0, sizeof *route);
  route->len = n->route.len;
  if (n->route.len > 0)
    memcpy (route->id, n->route.id, n->route.len);
  route->fd = n->route.fd;
}

static void
unbind_route (mu_coord_t *c, mu_node_t *n)
{
  mu_route_t r;
  mu_node_route (n, &r);
  char k[2 * sizeof r.id + 1];
  route_key (&r, k);
  if (r.len > 0 && mu_smap_get (c->routes, k) == n)
    mu_smap_del (c->routes, k);
}

static int
bind_route (mu_coord_t *c, mu_node_t *n, const mu_route_t *from)
{
  if (from->fd >= 0)
    forget_closed (c, from->fd);
  unbind_route (c, n);
  if (from->len > sizeof from->id)
    return MUSTER_EINVAL;
  unsigned char *id = n->route.id;
  if (from->len > n->route.len || id == NULL)
    {
      id = realloc (n->route.id, from->len ? from->len : 1);
      if (id == NULL)
        return -ENOMEM;
    }
  memcpy (id, from->id, from->len);
  n->route.id = id;
  n->route.len = (uint32_t)from->len;
  n->route.fd = from->fd;
  char k[2 * sizeof from->id + 1];
  route_key (from, k);
  return mu_smap_put (c->routes, k, n, NULL);
}

mu_node_t *
mu_nodes_rebind (mu_coord_t *c, const mu_route_t *from,
                 const mu_principal_t *who, const char *node_id)
{
  /* A message from a connection the coordinator has not seen: the agent
   * reconnected (a new TCP connection gets a new route).  Its key says who
   * it is; the node keeps running without registering again. */
  mu_node_t *n = NULL;
  if (node_id != NULL)
    n = mu_smap_get (c->node_ids, node_id);
  else if (who->pub[0] != '\0')
    {
      n = mu_smap_get (c->node_keys, who->pub);
      if (n != NULL && n->key_shared)
        return NULL; /* the key alone does not say which node */
    }
  if (n == NULL || !n->alive || strcmp (n->pub, who->pub) != 0)
    return NULL;
  if (bind_route (c, n, from) != 0)
    return NULL;
  mu_log_info (c->log, "NODE-RECONNECTED", "node %s on a new connection",
               n->node_id);
  return n;
}

static mu_node_t *
alloc_node (mu_coord_t *c)
{
  uint32_t key;
  if (c->nfree_keys > 0)
    key = c->free_keys[--c->nfree_keys];
  else
    {
      if (c->nodes_used == c->nodes_cap)
        {
          size_t ncap = c->nodes_cap ? c->nodes_cap * 2 : 64;
          mu_node_t **nn = realloc (c->nodes, ncap * sizeof *nn);
          uint32_t *nf = realloc (c->free_keys, ncap * sizeof *nf);
          if (nn == NULL || nf == NULL)
            {
              if (nn)
                c->nodes = nn;
              if (nf)
                c->free_keys = nf;
              return NULL;
            }
          c->nodes = nn;
          c->free_keys = nf;
          c->nodes_cap = ncap;
        }
      key = (uint32_t)c->nodes_used++;
      c->nodes[key] = NULL;
    }
  mu_node_t *n = c->nodes[key];
  if (n == NULL)
    {
      n = calloc (1, sizeof *n);
      if (n == NULL)
        {
          c->free_keys[c->nfree_keys++] = key;
          return NULL;
        }
      c->nodes[key] = n;
    }
  memset (n, 0, sizeof *n);
  n->key = key;
  n->in_use = 1;
  return n;
}

/* The node was heard from at `now`: it goes to the tail of its liveness
 * list (liveness.h), the UDP one if its last heartbeat came over UDP. */
void
mu_nodes_seen (mu_coord_t *c, mu_node_t *n, uint64_t now)
{
  n->last_seen_ms = now;
  if (n->in_process || !n->alive)
    return;
  mu_live_t *on = n->hb_udp ? &c->live_udp : &c->live_zmq;
  mu_live_t *off = n->hb_udp ? &c->live_zmq : &c->live_udp;
  mu_live_remove (off, n->key);
  if (mu_live_reserve (on, n->key + 1) == 0)
    mu_live_touch (on, n->key, now);
}

static void
mark_dead (mu_coord_t *c, mu_node_t *n)
{
  if (n->alive && c->nodes_alive > 0)
    c->nodes_alive--;
  n->alive = 0;
  mu_live_remove (&c->live_zmq, n->key);
  mu_live_remove (&c->live_udp, n->key);
  if (n->hb_udp && c->nodes_hb_udp > 0)
    c->nodes_hb_udp--;
  n->hb_udp = 0;
  n->hb_keyed = 0;
  mu_welcome_drop (c, n);
}

static void
release_node (mu_coord_t *c, mu_node_t *n)
{
  mark_dead (c, n);
  unbind_route (c, n);
  if (mu_smap_get (c->node_keys, n->pub) == n)
    mu_smap_del (c->node_keys, n->pub);
  mu_smap_del (c->node_ids, n->node_id);
  mu_sched_glue_node_free (c, n); /* schedwire */
  free (n->node_id);
  free (n->host);
  free (n->role_name);
  free (n->route.id);
  uint32_t key = n->key;
  memset (n, 0, sizeof *n);
  c->free_keys[c->nfree_keys++] = key;
}

/* One heartbeat costs the coordinator tens of microseconds; past a few
 * thousand nodes the default interval would keep it busy answering them.
 * The interval asked of agents grows with the node count (200 us of
 * interval per node, so at most about 5,000 heartbeats a second), and so
 * does the silence that declares a node lost.  The limit shrinks only after
 * a full limit has passed, so agents still on a longer interval are never
 * judged by a shorter one. */
#define HB_US_PER_NODE 200

uint64_t
mu_nodes_heartbeat_ms (mu_coord_t *c)
{
  /* Only nodes heartbeating over the agent port count: a UDP heartbeat
   * (hb_udp.c) costs a few microseconds, and its interval is fixed. */
  size_t zmq_nodes = c->nodes_alive > c->nodes_hb_udp
                         ? c->nodes_alive - c->nodes_hb_udp : 0;
  uint64_t scaled = (uint64_t)zmq_nodes * HB_US_PER_NODE / 1000;
  c->hb_ms = scaled > c->opts.heartbeat_ms ? scaled : c->opts.heartbeat_ms;
  uint64_t limit = c->hb_ms * c->opts.miss_limit;
  uint64_t now = mu_now_ms ();
  if (limit >= c->hb_limit_ms)
    {
      c->hb_limit_ms = limit;
      c->hb_raised_ms = now;
    }
  else if (now - c->hb_raised_ms > c->hb_limit_ms)
    c->hb_limit_ms = limit;
  return c->hb_ms;
}

/* hold: the node registers to join a job; its welcome may wait for the
 * job.start to share its write (welcome_hold.c). */
static void
send_welcome_held (mu_coord_t *c, mu_node_t *n, const char *note, int hold)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_WELCOME;
  m.u.welcome.note = note && *note ? (char *)note : NULL;
  m.u.welcome.node_id = n->node_id;
  m.u.welcome.heartbeat_ms = mu_nodes_heartbeat_ms (c);
  m.u.welcome.miss_limit = c->opts.miss_limit;
  m.u.welcome.session = c->session;
  m.u.welcome.standby_stream = (char *)mu_coord_standby_endpoint (c);
  char key[33];
  if (mu_hb_udp_port (c) != 0 && mu_hb_udp_new_key (n) == 0)
    {
      mu_hb_key_hex (n->hb_key, key);
      m.u.welcome.hb_port = mu_hb_udp_port (c);
      m.u.welcome.hb_slot = n->key;
      m.u.welcome.hb_key = key;
      m.u.welcome.hb_udp_ms = c->opts.heartbeat_ms;
    }
  if (!hold || mu_welcome_hold (c, n, &m) != 0)
    mu_coord_send_node (c, n, &m);
}

static void
send_welcome (mu_coord_t *c, mu_node_t *n, const char *note)
{
  send_welcome_held (c, n, note, 0);
}

/* A member of a restored job registers again (journal.h), with the key it
 * had.  An agent that reports the epoch it runs (reconcile.h) becomes the
 * live member it was before musterd went down, and reconcile() decides:
 * carry on in the epoch (C3), or fence.  One that reports nothing (a pool
 * agent, which brings no job) takes its place back and carries on.  One
 * that runs nothing of the job, or another job, is lost to it.
 * REVIVED: welcomed, carrying on; RECONCILE: alive, reconcile() decides;
 * DROPPED: register as a new node; or a negative code already answered. */
enum { REVIVED = 0, DROPPED = 1, RECONCILE = 2 };

static int
revive (mu_coord_t *c, mu_node_t *n, const mu_route_t *from,
        const mu_principal_t *who, mu_reg_t *reg)
{
  if (strcmp (n->pub, who->pub) != 0)
    {
      char err[320];
      snprintf (err, sizeof err, "node id %s was a member of job %s with "
                "another key", n->node_id, n->job ? n->job->id : "?");
      mu_log_warn (c->log, "NODE-SPOOF", "%s: refused", err);
      mu_coord_send_error (c, c->agent_sock, from, MUSTER_EPERM, "agent.register", err);
      return MUSTER_EPERM;
    }
  if (n->job == NULL || (reg->job != NULL && strcmp (reg->job->id, n->job->id) != 0))
    {
      mu_nodes_drop_placeholder (c, n, "came back with another job");
      return DROPPED;
    }
  if (reg->job != NULL && reg->epoch == 0)
    {
      mu_nodes_drop_placeholder (c, n, "came back without its workers");
      return DROPPED;
    }
  int reconciled = reg->job != NULL;
  char *host = strdup (reg->host);
  char *role = reg->role ? strdup (reg->role) : NULL;
  if (host == NULL || (reg->role && role == NULL)
      || (!reconciled && bind_route (c, n, from) != 0)
      || (n->pub[0] != '\0' && mu_smap_put (c->node_keys, n->pub, n, NULL) != 0))
    {
      free (host);
      free (role);
      return -ENOMEM;
    }
  free (n->host);
  n->host = host;
  free (n->role_name);
  n->role_name = role;
  n->slots = (uint32_t)reg->slots;
  n->pid = reg->pid;
  n->uid = who->job != NULL ? who->uid : (uint32_t)reg->uid;
  mu_sched_glue_node_labels (c, n, &reg->labels); /* schedwire */
  n->restored = 0;
  n->alive = 1;
  c->nodes_alive++;
  mu_nodes_seen (c, n, mu_now_ms ());
  if (reconciled)
    return RECONCILE;
  send_welcome (c, n, NULL);
  mu_jrestore_node_back (c, n);
  return REVIVED;
}

mu_node_t *
mu_nodes_placeholder (mu_coord_t *c, const char *node_id, const char *pub,
                      const char *host, uint64_t port_base)
{
  if (mu_smap_get (c->node_ids, node_id) != NULL)
    return NULL;
  mu_node_t *n = alloc_node (c);
  if (n == NULL)
    return NULL;
  n->node_id = strdup (node_id);
  n->host = strdup (host ? host : "");
  if (n->node_id == NULL || n->host == NULL
      || mu_smap_put (c->node_ids, n->node_id, n, NULL) != 0)
    {
      release_node (c, n);
      return NULL;
    }
  mu_strlcpy (n->pub, pub ? pub : "", sizeof n->pub);
  n->port_base = port_base;
  n->rank_hint = UINT32_MAX;
  n->restored = 1;
  return n;
}

void
mu_nodes_drop_placeholder (mu_coord_t *c, mu_node_t *n, const char *why)
{
  n->restored = 0;
  mu_log_warn (c->log, "NODE-LOST", "node %s %s", n->node_id, why);
  mu_jobs_node_lost (c, n, why, 1);
  release_node (c, n);
}

/* Its ranks in the job's current epoch, from the rendezvous. */
static void
member_ranks (mu_job_t *j, const mu_node_t *n, mu_reconcile_in_t *in)
{
  int member = 0;
  for (size_t i = 0; i < j->nmembers; i++)
    member |= j->members[i] == n->key;
  size_t nm = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &nm);
  for (size_t i = 0; member && i < nm; i++)
    if (mem[i].key == n->key)
      {
        in->node_member = 1;
        in->member_first_rank = mem[i].first_rank;
        in->member_nranks = mem[i].nproc;
      }
}

/* The exits it reports that the coordinator has not seen, as ordinary
 * worker exits. */
static void
replay_exits (mu_coord_t *c, mu_node_t *n, const mu_reg_t *reg,
              uint64_t nranks)
{
  size_t *idx = calloc (reg->workers.n ? reg->workers.n : 1, sizeof *idx);
  if (idx == NULL)
    return;
  uint64_t seen = nranks > n->live ? nranks - n->live : 0;
  size_t k = mu_reconcile_missed (reg->workers.v, reg->workers.n, seen, idx);
  for (size_t i = 0; i < k; i++)
    {
      const mu_run_worker_t *w = &reg->workers.v[idx[i]];
      mu_worker_state_t ws = { .job = reg->job->id, .epoch = reg->epoch,
                               .rank = w->rank, .state = w->state,
                               .pid = w->pid, .exit_code = w->exit_code,
                               .signal = w->signal };
      mu_log_info (c->log, "EXIT-REPLAYED", "node %s: rank %llu %s (code "
                   "%lld, signal %lld) while it was cut off", n->node_id,
                   (unsigned long long)w->rank, w->state,
                   (long long)w->exit_code, (long long)w->signal);
      mu_jobs_worker_state (c, n, &ws);
    }
  free (idx);
}

static void send_welcome (mu_coord_t *c, mu_node_t *n, const char *note);

/* An agent that registers while it runs workers (reconcile.h).  1 when
 * the registration is fully handled here, 0 to go on as an ordinary one. */
static int
reconcile (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
           const mu_reg_t *reg, mu_node_t *n)
{
  if (reg->job == NULL || reg->epoch == 0)
    return 0;
  mu_job_t *j = mu_smap_get (c->jobs, reg->job->id);
  mu_reconcile_in_t in = { .reg_epoch = reg->epoch };
  mu_reconcile_ranks (reg->workers.v, reg->workers.n, &in.reg_first_rank,
                      &in.reg_nranks);
  if (j != NULL)
    {
      in.job_known = 1;
      in.job_finished = j->state >= MU_JOB_SUCCEEDED;
      in.job_epoch = j->epoch;
    }
  in.node_known = n != NULL && n->alive && strcmp (n->pub, who->pub) == 0;
  if (in.node_known && j != NULL && n->job == j && n->live_epoch == j->epoch
      && (j->state == MU_JOB_RUNNING || j->state == MU_JOB_RECOVERING
          || j->state == MU_JOB_STOPPING))
    member_ranks (j, n, &in);
  switch (mu_reconcile_decide (&in))
    {
    case MU_RECONCILE_NEW:
      return 0;
    case MU_RECONCILE_DONE:
      mu_log_notice (c->log, "NODE-RECONCILED", "node %s came back from job "
                     "%s epoch %llu, which has %s meanwhile: sent its "
                     "outcome", reg->node_id, j->id,
                     (unsigned long long)reg->epoch,
                     mu_job_state_name (j->state));
      mu_epoch_send_done (j, from);
      /* The node record of that agent, if still there, is done too: a
       * hosting launcher waits for every node to go before it exits. */
      if (in.node_known && n->job == NULL)
        {
          mark_dead (c, n);
          release_node (c, n);
        }
      return 1;
    case MU_RECONCILE_FENCE:
      {
        char why[256];
        snprintf (why, sizeof why, "node %s's epoch %llu of job %s is over "
                  "(the job is at epoch %llu, %s%s): its workers are stopped",
                  reg->node_id, (unsigned long long)reg->epoch, reg->job->id,
                  (unsigned long long)in.job_epoch,
                  j != NULL ? mu_job_state_name (j->state) : "unknown here",
                  in.node_known ? "" : "; the node was declared lost");
        mu_log_warn (c->log, "NODE-FENCED", "%s", why);
        mu_msg_t m;
        memset (&m, 0, sizeof m);
        m.type = MU_MSG_STOP;
        m.u.stop.job = reg->job->id;
        m.u.stop.epoch = reg->epoch;
        m.u.stop.grace_ms = 0;
        m.u.stop.reason = why;
        m.u.stop.recover = 1;
        mu_coord_send_route (c, c->agent_sock, from, &m);
        return 0;
      }
    case MU_RECONCILE_RESUME:
      break;
    }
  if (bind_route (c, n, from) != 0)
    return 0;
  mu_nodes_seen (c, n, mu_now_ms ());
  mu_log_notice (c->log, "NODE-RECONCILED", "node %s is back in job %s "
                 "epoch %llu with ranks %llu-%llu: it continues (no restart)",
                 n->node_id, j->id, (unsigned long long)j->epoch,
                 (unsigned long long)in.reg_first_rank,
                 (unsigned long long)(in.reg_first_rank + in.reg_nranks - 1));
  send_welcome (c, n, NULL);
  replay_exits (c, n, reg, in.member_nranks);
  /* A stop sent on its old connection may be lost: say it again. */
  if (n->job == j && n->live > 0
      && (j->state == MU_JOB_RECOVERING || j->state == MU_JOB_STOPPING))
    mu_epoch_resend_stop (j, n);
  return 1;
}

int
mu_nodes_register (mu_coord_t *c, const mu_route_t *from,
                   const mu_principal_t *who, mu_reg_t *reg)
{
  char err[512];
  if (c->opts.term > 0 && reg->term > c->opts.term)
    mu_repl_step_down (c, reg->term, "agent.register of node"); /* no return */
  if (who->job != NULL
      && (reg->job == NULL || strcmp (reg->job->id, who->job) != 0))
    {
      snprintf (err, sizeof err, "node %s: its key was enrolled with the join "
                "token of job %s and may only join that job", reg->node_id,
                who->job);
      mu_log_warn (c->log, "NODE-REFUSED", "%s", err);
      mu_coord_send_error (c, c->agent_sock, from, MUSTER_EPERM, "agent.register", err);
      return MUSTER_EPERM;
    }
  if (reg->slots == 0 || reg->slots > MAX_SLOTS || reg->host[0] == '\0')
    {
      snprintf (err, sizeof err, "node %s: slots must be 1..%d and host set",
                reg->node_id, MAX_SLOTS);
      mu_coord_send_error (c, c->agent_sock, from, MUSTER_EINVAL,
                          "agent.register", err);
      return MUSTER_EINVAL;
    }
  if (reg->job != NULL
      && mu_jobs_validate_spec (reg->job, err, sizeof err) != 0)
    {
      mu_coord_send_error (c, c->agent_sock, from, MUSTER_EINVAL,
                          "agent.register", err);
      return MUSTER_EINVAL;
    }
  mu_node_t *n = mu_smap_get (c->node_ids, reg->node_id);
  int revived = 0;
  if (n != NULL && n->restored && !n->alive)
    {
      int rrc = revive (c, n, from, who, reg);
      if (rrc == REVIVED || rrc < 0)
        return rrc;
      if (rrc == DROPPED)
        n = mu_smap_get (c->node_ids, reg->node_id); /* register anew */
      revived = rrc == RECONCILE;
    }
  if (n != NULL && n->alive && strcmp (n->pub, who->pub) != 0)
    {
      /* Node identity is bound to the key that registered it: another key
       * never takes a live node over. */
      snprintf (err, sizeof err, "node id %s is registered with another key",
                reg->node_id);
      mu_log_warn (c->log, "NODE-SPOOF", "%s: refused a registration with "
                   "key %.8s...", err, who->pub);
      mu_coord_send_error (c, c->agent_sock, from, MUSTER_EPERM, "agent.register", err);
      return MUSTER_EPERM;
    }
  if (reconcile (c, from, who, reg, n))
    {
      if (revived)
        mu_jrestore_node_back (c, n);
      return 0;
    }
  if (n != NULL)
    {
      /* Same node id again: the agent restarted or re-sent its
       * registration.  Whatever it ran before is gone from its side. */
      mu_log_notice (c->log, "NODE-REREGISTER", "node %s registered again",
                     n->node_id);
      if (n->alive)
        mu_jobs_node_lost (c, n, "agent re-registered", 1);
      release_node (c, n);
    }
  n = alloc_node (c);
  if (n == NULL)
    return -ENOMEM;
  n->node_id = strdup (reg->node_id);
  n->host = strdup (reg->host);
  n->role_name = reg->role ? strdup (reg->role) : NULL;
  if (n->node_id == NULL || n->host == NULL || (reg->role && !n->role_name)
      || mu_smap_put (c->node_ids, n->node_id, n, NULL) != 0)
    {
      release_node (c, n);
      return -ENOMEM;
    }
  n->slots = (uint32_t)reg->slots;
  mu_sched_glue_node_labels (c, n, &reg->labels); /* schedwire */
  n->port_base = reg->port_base;
  n->pid = reg->pid;
  n->rank_hint = reg->rank_hint > 0 && reg->rank_hint <= UINT32_MAX
                   ? (uint32_t)(reg->rank_hint - 1)
                   : UINT32_MAX;
  mu_strlcpy (n->pub, who->pub, sizeof n->pub);
  /* A cluster node says which uid it runs as (a root agent runs any
   * owner's jobs); a node enrolled for one job runs as that job's owner. */
  n->uid = who->job != NULL ? who->uid : (uint32_t)reg->uid;
  mu_node_t *other = n->pub[0] ? mu_smap_get (c->node_keys, n->pub) : NULL;
  if (other != NULL && other != n && other->alive)
    {
      /* Two agents sharing one key (one state directory): allowed, but a
       * reconnect is then recognised by node id only. */
      other->key_shared = n->key_shared = 1;
      mu_log_info (c->log, "KEY-SHARED", "nodes %s and %s use the same key",
                   other->node_id, n->node_id);
    }
  if (bind_route (c, n, from) != 0
      || (n->pub[0] != '\0' && mu_smap_put (c->node_keys, n->pub, n, NULL) != 0))
    {
      release_node (c, n);
      return -ENOMEM;
    }
  n->alive = 1;
  c->nodes_alive++;
  mu_nodes_seen (c, n, mu_now_ms ());
  /* The agent on our own loop (muster run): the launcher named it, and it
   * registers from this very process (and with the key it was given). */
  n->in_process = c->in_process_node[0] != '\0'
                  && strcmp (n->node_id, c->in_process_node) == 0
                  && reg->pid == (uint64_t)getpid ()
                  && strcmp (n->pub, c->in_process_pub) == 0;
  mu_log_info (c->log, "NODE-REGISTERED", "node %s host %s slots %u%s%s",
               n->node_id, n->host, n->slots, reg->job ? " job " : "",
               reg->job ? reg->job->id : "");
  char note[1024] = "";
  if (reg->job != NULL
      && mu_jobs_option_notes (c, reg->job, note, sizeof note) > 0)
    mu_log_warn (c->log, "JOB-OPTIONS",
                 "node %s joins job %s, whose options differ from the "
                 "node's: %s", n->node_id, reg->job->id, note);
  send_welcome_held (c, n, note, reg->job != NULL);
  if (reg->job != NULL)
    {
      int rc = mu_jobs_attach_node (c, n, reg->job, err, sizeof err);
      if (rc != 0)
        {
          mu_coord_send_error (c, c->agent_sock, from, rc, "agent.register",
                              err);
          mu_log_warn (c->log, "JOB-REFUSED", "node %s: %s", n->node_id, err);
        }
    }
  else
    mu_jobs_offer_free_nodes (c);
  return 0;
}

void
mu_nodes_heartbeat (mu_coord_t *c, const mu_route_t *from,
                    const mu_heartbeat_t *hb)
{
  (void)from;
  mu_node_t *n = mu_nodes_by_route (c, from);
  if (n == NULL)
    return;
  if (n->hb_udp)
    {
      /* Its heartbeats came over UDP and now come here (the agent lost
       * its UDP path): judged by the agent port's limit again. */
      n->hb_udp = 0;
      if (c->nodes_hb_udp > 0)
        c->nodes_hb_udp--;
      mu_nodes_seen (c, n, n->last_seen_ms);
    }
  mu_cm_heartbeat (c, n);
  if (n->job != NULL && hb->step > 0)
    mu_ckpt_note_step (n->job, hb->step);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_HEARTBEAT;
  m.u.heartbeat.node_id = n->node_id;
  m.u.heartbeat.seq = hb->seq;
  m.u.heartbeat.heartbeat_ms = c->hb_ms;
  mu_coord_send_node (c, n, &m);
}

/* Is a message waiting on the agent port?  Then the coordinator is behind,
 * and silence may be its own. */
static int
agent_port_backlogged (mu_coord_t *c)
{
  int events = 0;
  size_t len = sizeof events;
  /* zsrv: the native port queues nothing: read is handled. */
  return c->agent_sock != NULL && c->agent_port == NULL
         && zmq_getsockopt (c->agent_sock, ZMQ_EVENTS, &events, &len) == 0
         && (events & ZMQ_POLLIN);
}

/* Declare lost the nodes of list `l` silent past `limit`: only the head
 * of the list is looked at, so a sweep that finds nobody costs O(1). */
static void
judge (mu_coord_t *c, mu_live_t *l, uint64_t now, uint64_t limit)
{
  uint32_t key;
  while (mu_live_expired (l, now, limit, &key))
    {
      mu_node_t *n = key < c->nodes_used ? c->nodes[key] : NULL;
      /* The in-process agent's silence is our own loop's. */
      if (n == NULL || !n->in_use || !n->alive || n->in_process)
        {
          mu_live_remove (l, key);
          continue;
        }
      if (n->last_seen_ms >= now || now - n->last_seen_ms <= limit)
        {
          mu_live_touch (l, key, n->last_seen_ms); /* heard meanwhile */
          continue;
        }
      mu_log_warn (c->log, "NODE-LOST",
                   "node %s silent for %llu ms (limit %llu ms)",
                   n->node_id, (unsigned long long)(now - n->last_seen_ms),
                   (unsigned long long)limit);
      mu_cm_node_lost (c, n, "heartbeat");
      mark_dead (c, n);
      mu_jobs_node_lost (c, n, "heartbeats missed", 1);
      release_node (c, n);
    }
}

void
mu_nodes_sweep (mu_coord_t *c, uint64_t now)
{
  mu_nodes_heartbeat_ms (c);
  uint64_t limit = c->hb_limit_ms;
  /* Silence is judged by when a message was processed.  When the
   * coordinator itself fell behind — this sweep ran late (a long loop
   * callback, a starved CPU), or input is still queued — the silence may be
   * its own: give every node a fresh interval instead of declaring it lost.
   * Queued input defers the sweep at most miss_limit times in a row, so a
   * coordinator that is always busy still finds dead nodes. */
  uint64_t every = c->opts.heartbeat_ms / 2 ? c->opts.heartbeat_ms / 2 : 1;
  int late = now - c->last_sweep_ms > 4 * every
             && now - c->last_sweep_ms > 200;
  c->last_sweep_ms = now;
  if (late)
    {
      mu_log_warn (c->log, "COORD-STALLED",
                   "the coordinator's loop stalled; not judging heartbeats "
                   "missed meanwhile");
      for (size_t k = 0; k < c->nodes_used; k++)
        if (c->nodes[k] != NULL && c->nodes[k]->in_use && c->nodes[k]->alive)
          c->nodes[k]->last_seen_ms = now;
      mu_live_refresh_all (&c->live_zmq, now);
      mu_live_refresh_all (&c->live_udp, now);
      goto waits;
    }
  if (agent_port_backlogged (c) && c->sweeps_deferred < c->opts.miss_limit)
    {
      c->sweeps_deferred++;
      goto waits;
    }
  c->sweeps_deferred = 0;
  mu_hb_udp_drain (c); /* heartbeats that came but were not read yet */
  judge (c, &c->live_zmq, now, limit);
  judge (c, &c->live_udp, now, c->opts.heartbeat_ms * c->opts.miss_limit);
  mu_jobs_uncordon (c, now);
waits:;
  /* Expire KV and barrier waits of every job. */
  size_t pos = 0;
  void *val;
  while (mu_smap_next (c->jobs, &pos, NULL, &val))
    mu_kv_expire (c, val, now);
}

void
mu_nodes_leave (mu_coord_t *c, mu_node_t *n, const char *why)
{
  char msg[256];
  snprintf (msg, sizeof msg, "left: %s", why ? why : "shut down");
  mu_log_info (c->log, "NODE-LEAVE", "node %s %s", n->node_id, msg);
  mu_jobs_node_lost (c, n, msg, 0);
  mark_dead (c, n);
  release_node (c, n);
}

void
mu_nodes_conn_closed (int fd, void *coord)
{
  mu_coord_t *c = coord;
  if (fd < 0 || c->stopping)
    return;
  if (c->nclosed == c->closed_cap)
    {
      size_t ncap = c->closed_cap ? c->closed_cap * 2 : 16;
      int *v = realloc (c->closed_fds, ncap * sizeof *v);
      if (v == NULL)
        return; /* heartbeats will find it */
      c->closed_fds = v;
      c->closed_cap = ncap;
    }
  c->closed_fds[c->nclosed++] = fd;
}

static void
on_closed_timer_cb (uv_timer_t *t)
{
  mu_nodes_handle_closed (t->data);
}

void
mu_nodes_route_closed (mu_coord_t *c, const mu_route_t *route)
{
  if (c->stopping || route->len != sizeof c->closed_routes[0].id)
    return;
  mu_node_t *n = mu_nodes_by_route (c, route); /* O(1): the routes map */
  if (n == NULL)
    return; /* never registered, or already gone */
  if (c->nclosed_routes == c->closed_routes_cap)
    {
      size_t ncap = c->closed_routes_cap ? c->closed_routes_cap * 2 : 16;
      struct mu_closed_route *v = realloc (c->closed_routes,
                                           ncap * sizeof *v);
      if (v == NULL)
        return; /* heartbeats will find it */
      c->closed_routes = v;
      c->closed_routes_cap = ncap;
    }
  struct mu_closed_route *r = &c->closed_routes[c->nclosed_routes++];
  r->key = n->key;
  memcpy (r->id, route->id, sizeof r->id);
  uv_timer_start (&c->closed_timer, on_closed_timer_cb, 0, 0);
}

/* A node whose connection closed is lost, and its job told so. */
static void
lost_by_close (mu_coord_t *c, mu_node_t *n)
{
  uint64_t now = mu_now_ms ();
  mu_log_warn (c->log, "NODE-LOST",
               "node %s silent for %llu ms: its connection closed",
               n->node_id,
               (unsigned long long)(now > n->last_seen_ms
                                        ? now - n->last_seen_ms : 0));
  mu_cm_node_lost (c, n, "connection");
  mark_dead (c, n);
  mu_jobs_node_lost (c, n, "its connection closed", 1);
  release_node (c, n);
}

/* zsrv: the native port's closes, O(1) each: the node still on that
 * route (not rebound to a new connection meanwhile) is lost. */
static void
handle_closed_routes (mu_coord_t *c)
{
  while (c->nclosed_routes > 0)
    {
      struct mu_closed_route *r = &c->closed_routes[--c->nclosed_routes];
      mu_node_t *n = r->key < c->nodes_used ? c->nodes[r->key] : NULL;
      if (n == NULL || !n->in_use || !n->alive
          || n->route.len != sizeof r->id
          || memcmp (n->route.id, r->id, sizeof r->id) != 0)
        continue;
      lost_by_close (c, n);
    }
}

void
mu_nodes_handle_closed (mu_coord_t *c)
{
  /* Its last messages (agent.leave of a node that shut down) first. */
  mu_coord_drain_agents (c);
  handle_closed_routes (c);
  while (c->nclosed > 0)
    {
      int fd = c->closed_fds[--c->nclosed];
      if (fd < 0)
        continue;
      for (size_t k = 0; k < c->nodes_used; k++)
        {
          mu_node_t *n = c->nodes[k];
          if (n == NULL || !n->in_use || !n->alive || n->route.fd != fd)
            continue;
          lost_by_close (c, n);
          break;
        }
    }
  /* Nodes a command could not be sent to (mu_coord_unreachable); a scan
   * only when one was marked, so a burst of closes stays O(1) each. */
  if (!c->unreachable_pending)
    return;
  c->unreachable_pending = 0;
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL || !n->in_use || !n->alive || !n->unreachable)
        continue;
      mu_log_warn (c->log, "NODE-LOST", "node %s: a command to it could "
                   "not be sent", n->node_id);
      mark_dead (c, n);
      mu_jobs_node_lost (c, n, "a command to it could not be sent", 1);
      release_node (c, n);
    }
}

void
mu_nodes_free_all (mu_coord_t *c)
{
  free (c->closed_fds);
  c->closed_fds = NULL;
  free (c->closed_routes); /* zsrv */
  c->closed_routes = NULL;
  c->nclosed_routes = c->closed_routes_cap = 0;
  c->nclosed = c->closed_cap = 0;
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL)
        continue;
      if (n->in_use)
        {
          mu_sched_glue_node_free (NULL, n); /* schedwire */
          free (n->node_id);
          free (n->host);
          free (n->role_name);
        }
      free (n->route.id);
      free (n);
    }
  free (c->nodes);
  free (c->free_keys);
  mu_live_free (&c->live_zmq);
  mu_live_free (&c->live_udp);
  c->nodes = NULL;
  c->free_keys = NULL;
  c->nodes_used = c->nodes_cap = c->nfree_keys = 0;
}
