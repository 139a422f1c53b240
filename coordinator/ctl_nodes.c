/*
 * ctl_nodes.c — ctl.nodes, ctl.cordon, ctl.uncordon, ctl.drain: the node
 * inventory as an operator sees and steers it.  Admin only: nodes serve
 * every user's jobs.
 *
 * Health: "alive" (heard from, takes work), "cordoned" (takes no new
 * work: an operator's cordon, or the failure cordon of cordon.c while its
 * cooldown lasts), "draining" (cordoned, its job's work still being moved
 * off), "lost" (a member the journal restored whose agent has not come
 * back).  A cordoned node keeps the work it has; only drain moves it.
 *
 * Drain reuses node preemption (ckpt.c, the path of agent.preempt): the
 * job is checkpointed if it has a checkpoint directory, then goes on
 * without the node while its role stays at or above min (in place, or
 * restarted smaller from that checkpoint), else it is suspended —
 * resumable from the checkpoint, no committed step lost.  An operator's
 * cordon holds cordon_until at UINT64_MAX, which every placement path
 * (mu_jobs_offer_free_nodes, ctl.scale) already honours.
 */
#include "coordinator/ctl_ops.h"
#include "coordinator/sched_glue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/ckpt.h"

#define DRAIN_GRACE_MS 30000

static int
admin_only (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
            const char *what)
{
  if (who->admin)
    return 1;
  mu_log_notice (c->log, "CTL-REFUSED", "uid %u: %s (admin only)",
                 (unsigned)who->uid, what);
  mu_ctl_error (c, from, MUSTER_EPERM, what, NULL,
                "%s: refused: nodes serve every user's jobs, so only an "
                "admin (root, musterd's user or an admin key) may %s",
                what, strcmp (what, "ctl.nodes") == 0 ? "list them"
                                                      : "change them");
  return 0;
}

static const char *
health_of (const mu_node_t *n, uint64_t now)
{
  if (!n->alive)
    return "lost";
  if (n->draining && n->job != NULL)
    return "draining";
  if (n->admin_cordon || n->cordon_until > now || n->cordoned)
    return "cordoned";
  return "alive";
}

static void
free_labels (mu_node_info_t *v, size_t k)
{
  for (size_t i = 0; i < k; i++)
    {
      for (size_t l = 0; l < v[i].labels.n; l++)
        free (v[i].labels.keys[l]);
      free (v[i].labels.keys);
      free (v[i].labels.vals);
    }
}

void
mu_ctl_nodes (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
              const mu_ctl_nodes_t *q)
{
  if (!admin_only (c, from, who, "ctl.nodes"))
    return;
  mu_node_info_t *v = calloc (c->nodes_used ? c->nodes_used : 1, sizeof *v);
  if (v == NULL)
    {
      mu_ctl_error (c, from, -ENOMEM, "ctl.nodes", NULL, "nodes: out of memory");
      return;
    }
  uint64_t now = mu_now_ms ();
  size_t k = 0;
  for (size_t i = 0; i < c->nodes_used; i++)
    {
      const mu_node_t *n = c->nodes[i];
      if (n == NULL || !n->in_use)
        continue;
      if (q->node != NULL && strcmp (q->node, n->node_id) != 0)
        continue;
      mu_node_info_t *x = &v[k++];
      x->node_id = n->node_id;
      x->host = n->host ? n->host : (char *)"";
      x->slots = n->slots;
      const mu_job_t *j = n->job;
      if (j != NULL)
        {
          x->job = j->id;
          x->role = j->spec->roles.v[n->role].name;
          x->used = n->live_epoch == j->epoch ? n->live : 0;
        }
      x->health = (char *)health_of (n, now);
      /* schedwire: its labels ("key=value" split; keys freed below) */
      if (n->nlabels > 0)
        {
          x->labels.keys = calloc (n->nlabels, sizeof (char *));
          x->labels.vals = calloc (n->nlabels, sizeof (char *));
          for (size_t l = 0;
               x->labels.keys && x->labels.vals && l < n->nlabels; l++)
            {
              const char *eq = strchr (n->labels[l], '=');
              char *key = eq ? strndup (n->labels[l],
                                        (size_t)(eq - n->labels[l]))
                             : NULL;
              if (key == NULL)
                continue;
              x->labels.keys[x->labels.n] = key;
              x->labels.vals[x->labels.n++] = (char *)eq + 1;
            }
        }
      x->last_seen_ms = now > n->last_seen_ms ? now - n->last_seen_ms : 0;
      x->pid = n->pid;
    }
  if (q->node != NULL && k == 0)
    {
      free_labels (v, k);
      free (v);
      mu_ctl_error (c, from, MUSTER_ENOTFOUND, "ctl.nodes", "node",
                    "nodes: no node %s", q->node);
      return;
    }
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_NODES_REPLY;
  m.u.ctl_nodes_reply.nodes.v = v;
  m.u.ctl_nodes_reply.nodes.n = k;
  mu_coord_send_route (c, c->ctl_reply_sock, from, &m);
  free_labels (v, k);
  free (v);
}

static void
drain (mu_coord_t *c, const mu_route_t *from, mu_node_t *n, uint64_t grace)
{
  mu_job_t *j = n->job;
  char msg[512];
  if (j == NULL)
    {
      snprintf (msg, sizeof msg, "node %s cordoned; it had no work", n->node_id);
      mu_ctl_ok (c, from, msg);
      return;
    }
  n->draining = 1;
  if (j->sched_in && n->sched_job != NULL)
    {
      /* schedwire: the scheduler moves the work (a replacement first,
       * then a shrink after a checkpoint, or checkpoint-and-suspend). */
      snprintf (msg, sizeof msg,
                "node %s draining: job %s %s goes on without it (the "
                "scheduler places a replacement first, or suspends it when "
                "none fits below its min)", n->node_id, j->id,
                j->ckpt ? "checkpoints, then"
                        : "has no checkpoint directory; it");
      mu_sched_glue_dirty (c);
    }
  else if (j->state == MU_JOB_RUNNING && mu_rdzv_is_member (j->rdzv, n->key))
    {
      snprintf (msg, sizeof msg,
                "node %s draining: job %s %s goes on without it (or is "
                "suspended below its min)",
                n->node_id, j->id,
                j->ckpt ? "checkpoints, then"
                        : "has no checkpoint directory; it");
      mu_ckpt_preempt_node (c, n, grace ? grace : DRAIN_GRACE_MS,
                            "node drained by request");
    }
  else
    {
      snprintf (msg, sizeof msg, "node %s cordoned and taken out of job %s (%s)",
                n->node_id, j->id, mu_job_state_name (j->state));
      mu_jobs_node_lost (c, n, "drained by request", 0);
    }
  mu_log_notice (c->log, "NODE-DRAIN", "%s", msg);
  mu_ctl_ok (c, from, msg);
}

void
mu_ctl_node_op (mu_coord_t *c, const mu_route_t *from,
                const mu_principal_t *who, const mu_msg_t *m)
{
  const char *what = mu_msg_name (m->type);
  if (!admin_only (c, from, who, what))
    return;
  const char *id = m->type == MU_MSG_CTL_CORDON     ? m->u.ctl_cordon.node
                   : m->type == MU_MSG_CTL_UNCORDON ? m->u.ctl_uncordon.node
                                                    : m->u.ctl_drain.node;
  mu_node_t *n = mu_smap_get (c->node_ids, id);
  if (n == NULL || !n->in_use)
    {
      mu_ctl_error (c, from, MUSTER_ENOTFOUND, what, "node",
                    "%s: field 'node': no node %s is registered", what + 4, id);
      return;
    }
  char msg[256];
  switch (m->type)
    {
    case MU_MSG_CTL_CORDON:
      n->admin_cordon = 1;
      n->cordon_until = UINT64_MAX;
      mu_log_notice (c->log, "NODE-CORDON", "node %s cordoned by request",
                     n->node_id);
      snprintf (msg, sizeof msg, "node %s cordoned: it takes no new work%s%s",
                n->node_id, n->job ? "; it keeps job " : "",
                n->job ? n->job->id : "");
      mu_ctl_ok (c, from, msg);
      break;
    case MU_MSG_CTL_UNCORDON:
      n->admin_cordon = 0;
      n->draining = 0;
      n->cordon_until = 0; /* a failure cordon ends too (cordon.c rejoins) */
      mu_log_notice (c->log, "NODE-UNCORDON", "node %s uncordoned by request",
                     n->node_id);
      snprintf (msg, sizeof msg, "node %s takes work again", n->node_id);
      mu_ctl_ok (c, from, msg);
      mu_jobs_offer_free_nodes (c);
      break;
    default:
      n->admin_cordon = 1;
      n->cordon_until = UINT64_MAX;
      drain (c, from, n, m->u.ctl_drain.grace_ms);
      break;
    }
}
