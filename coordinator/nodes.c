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
 */
#include "coordinator/coord.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/auth.h"
#include "coordinator/ckpt.h"

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

static int
bind_route (mu_coord_t *c, mu_node_t *n, const mu_route_t *from)
{
  char k[2 * sizeof from->id + 1];
  route_key (&n->route, k);
  if (n->route.len > 0 && mu_smap_get (c->routes, k) == n)
    mu_smap_del (c->routes, k);
  n->route = *from;
  route_key (from, k);
  return mu_smap_put (c->routes, k, n, NULL);
}

static void
unbind_route (mu_coord_t *c, mu_node_t *n)
{
  char k[2 * sizeof n->route.id + 1];
  route_key (&n->route, k);
  if (n->route.len > 0 && mu_smap_get (c->routes, k) == n)
    mu_smap_del (c->routes, k);
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

static void
mark_dead (mu_coord_t *c, mu_node_t *n)
{
  if (n->alive && c->nodes_alive > 0)
    c->nodes_alive--;
  n->alive = 0;
}

static void
release_node (mu_coord_t *c, mu_node_t *n)
{
  mark_dead (c, n);
  unbind_route (c, n);
  if (mu_smap_get (c->node_keys, n->pub) == n)
    mu_smap_del (c->node_keys, n->pub);
  mu_smap_del (c->node_ids, n->node_id);
  free (n->node_id);
  free (n->host);
  free (n->role_name);
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
  uint64_t scaled = (uint64_t)c->nodes_alive * HB_US_PER_NODE / 1000;
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

static void
send_welcome (mu_coord_t *c, mu_node_t *n, const char *note)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_WELCOME;
  m.u.welcome.note = note && *note ? (char *)note : NULL;
  m.u.welcome.node_id = n->node_id;
  m.u.welcome.heartbeat_ms = mu_nodes_heartbeat_ms (c);
  m.u.welcome.miss_limit = c->opts.miss_limit;
  m.u.welcome.session = c->session;
  mu_coord_send_node (c, n, &m);
}

int
mu_nodes_register (mu_coord_t *c, const mu_route_t *from,
                   const mu_principal_t *who, mu_reg_t *reg)
{
  char err[512];
  if (who->job != NULL
      && (reg->job == NULL || strcmp (reg->job->id, who->job) != 0))
    {
      snprintf (err, sizeof err, "node %s: its key was enrolled with the join "
                "token of job %s and may only join that job", reg->node_id,
                who->job);
      mu_log_warn (c->log, "NODE-REFUSED", "%s", err);
      mu_wire_send_error (c->agent_sock, from, MUSTER_EPERM, "agent.register",
                          0, err);
      return MUSTER_EPERM;
    }
  if (reg->slots == 0 || reg->slots > MAX_SLOTS || reg->host[0] == '\0')
    {
      snprintf (err, sizeof err, "node %s: slots must be 1..%d and host set",
                reg->node_id, MAX_SLOTS);
      mu_wire_send_error (c->agent_sock, from, MUSTER_EINVAL,
                          "agent.register", 0, err);
      return MUSTER_EINVAL;
    }
  if (reg->job != NULL
      && mu_jobs_validate_spec (reg->job, err, sizeof err) != 0)
    {
      mu_wire_send_error (c->agent_sock, from, MUSTER_EINVAL,
                          "agent.register", 0, err);
      return MUSTER_EINVAL;
    }
  mu_node_t *n = mu_smap_get (c->node_ids, reg->node_id);
  if (n != NULL && n->alive && strcmp (n->pub, who->pub) != 0)
    {
      /* Node identity is bound to the key that registered it: another key
       * never takes a live node over. */
      snprintf (err, sizeof err, "node id %s is registered with another key",
                reg->node_id);
      mu_log_warn (c->log, "NODE-SPOOF", "%s: refused a registration with "
                   "key %.8s...", err, who->pub);
      mu_wire_send_error (c->agent_sock, from, MUSTER_EPERM, "agent.register",
                          0, err);
      return MUSTER_EPERM;
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
  n->last_seen_ms = mu_now_ms ();
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
  send_welcome (c, n, note);
  if (reg->job != NULL)
    {
      int rc = mu_jobs_attach_node (c, n, reg->job, err, sizeof err);
      if (rc != 0)
        {
          mu_wire_send_error (c->agent_sock, from, rc, "agent.register", 0,
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
  return c->agent_sock != NULL
         && zmq_getsockopt (c->agent_sock, ZMQ_EVENTS, &events, &len) == 0
         && (events & ZMQ_POLLIN);
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
  int late = c->last_sweep_ms != 0 && now - c->last_sweep_ms > 4 * every
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
      goto waits;
    }
  if (agent_port_backlogged (c) && c->sweeps_deferred < c->opts.miss_limit)
    {
      c->sweeps_deferred++;
      goto waits;
    }
  c->sweeps_deferred = 0;
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL || !n->in_use || !n->alive)
        continue;
      /* The in-process agent's silence is our own loop's. */
      if (!n->in_process && now - n->last_seen_ms > limit)
        {
          mu_log_warn (c->log, "NODE-LOST",
                       "node %s silent for %llu ms (limit %llu ms)",
                       n->node_id, (unsigned long long)(now - n->last_seen_ms),
                       (unsigned long long)limit);
          mark_dead (c, n);
          mu_jobs_node_lost (c, n, "heartbeats missed", 1);
          release_node (c, n);
        }
    }
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
mu_nodes_free_all (mu_coord_t *c)
{
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n == NULL)
        continue;
      if (n->in_use)
        {
          free (n->node_id);
          free (n->host);
          free (n->role_name);
        }
      free (n);
    }
  free (c->nodes);
  free (c->free_keys);
  c->nodes = NULL;
  c->free_keys = NULL;
  c->nodes_used = c->nodes_cap = c->nfree_keys = 0;
}
