/*
 * welcome_hold.c — a registering node's agent.welcome waits, briefly, to
 * share a write with the next message to that node.
 *
 * In a rendezvous round every node is sent two messages: the welcome that
 * answers its agent.register, and the job.start when the round closes.
 * On the native agent port (agent_port.c) each message is one write(2),
 * and at 10,000 nodes those writes are most of musterd's time in a round
 * (perf over the round: writev 48 % of musterd's samples; on loopback the
 * sender also runs the receiver's TCP path and its wake-up).  A node that
 * registers to join a job therefore gets its welcome held back for at
 * most MU_WELCOME_HOLD_MS: if anything else is sent to it meanwhile (the
 * job.start of a round that closes, an error, a reply), the welcome goes
 * first in the same write (mu_zsrv_sendv); when the hold runs out it goes
 * alone.  The agent sees exactly the messages, in exactly the order, it
 * saw before; only fewer segments carry them.  The hold is shorter than
 * the agent's first wait before it registers again (500 ms), and the
 * node's silence is counted from the welcome's send when it went alone
 * (decision 113).  Only the native port holds: with libzmq's ROUTER every
 * message is a frame of its own anyway.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/zmtp_server.h"
#include "coordinator/coord.h"
#include "coordinator/coord_metrics.h"

static void on_wh_timer (uv_timer_t *t);

void
mu_welcome_init (mu_coord_t *c)
{
  uv_timer_init (c->loop, &c->wh_timer);
  c->wh_timer.data = c;
}

void
mu_welcome_close (mu_coord_t *c)
{
  uv_close ((uv_handle_t *)&c->wh_timer, NULL);
  /* Every node holding one has an entry: nothing more is sent. */
  uint32_t key;
  while (mu_jq_pop_due (&c->wh_q, UINT64_MAX, &key))
    {
      mu_node_t *n = mu_coord_node (c, key);
      if (n != NULL)
        mu_welcome_drop (c, n);
    }
  mu_jq_free (&c->wh_q);
}

static void
arm (mu_coord_t *c, uint64_t now)
{
  uint64_t due = mu_jq_next_due (&c->wh_q);
  if (due == 0)
    return;
  uv_timer_start (&c->wh_timer, on_wh_timer, due > now ? due - now : 0, 0);
}

int
mu_welcome_hold (mu_coord_t *c, mu_node_t *n, mu_msg_t *m)
{
  if (c->agent_port == NULL || c->stopping)
    return -ENOTSUP;
  m->u.welcome.term = c->opts.term; /* as mu_coord_send_node stamps it */
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_msg_encode (m, &buf, &len);
  if (rc != 0)
    return rc;
  /* The encoder's buffer is 8 KiB (msgpack's first growth): held by
   * 10,000 nodes that is 80 MB and a page fault each.  Keep the bytes. */
  char *own = malloc (len);
  if (own == NULL)
    {
      free (buf);
      return -ENOMEM;
    }
  memcpy (own, buf, len);
  free (buf);
  buf = own;
  uint64_t now = mu_now_ms ();
  if (n->wh_buf == NULL
      && (rc = mu_jq_note (&c->wh_q, n->key, now, MU_WELCOME_HOLD_MS)) != 0)
    {
      free (buf);
      return rc;
    }
  if (n->wh_buf != NULL) /* registered again while held: the newer one */
    free (n->wh_buf);
  else
    c->wh_held++;
  n->wh_buf = buf;
  n->wh_len = len;
  if (!uv_is_active ((uv_handle_t *)&c->wh_timer))
    arm (c, now);
  return 0;
}

static char *
take (mu_coord_t *c, mu_node_t *n, size_t *len)
{
  char *buf = n->wh_buf;
  *len = n->wh_len;
  n->wh_buf = NULL;
  n->wh_len = 0;
  if (c->wh_held > 0)
    c->wh_held--;
  return buf;
}

char *
mu_welcome_take (mu_coord_t *c, const mu_route_t *to, size_t *len)
{
  if (c->wh_held == 0)
    return NULL;
  mu_node_t *n = mu_nodes_by_route (c, to);
  if (n == NULL || n->wh_buf == NULL)
    return NULL;
  mu_cm_welcome_sent (c, "with_next");
  return take (c, n, len);
}

void
mu_welcome_drop (mu_coord_t *c, mu_node_t *n)
{
  size_t len;
  if (n->wh_buf != NULL)
    free (take (c, n, &len)); /* its queue entry finds nothing, later */
}

/* The hold ran out: the welcome goes alone, and the node's silence is
 * counted from now (its agent heartbeats once it has it). */
static void
on_wh_timer (uv_timer_t *t)
{
  mu_coord_t *c = t->data;
  uint64_t now = mu_now_ms ();
  uint32_t key;
  while (mu_jq_pop_due (&c->wh_q, now, &key))
    {
      mu_node_t *n = mu_coord_node (c, key);
      if (n == NULL || n->wh_buf == NULL)
        continue; /* sent with another message, or the node is gone */
      size_t len;
      char *buf = take (c, n, &len);
      mu_route_t to;
      mu_node_route (n, &to);
      int rc = mu_coord_agent_send_raw (c, &to, buf, len);
      free (buf);
      mu_cm_welcome_sent (c, "alone");
      if (rc != 0)
        {
          /* The agent registers again after its own wait. */
          c->sends_failed++;
          mu_log_warn (c->log, "SEND-FAILED", "agent.welcome to node %s: %s",
                       n->node_id, muster_strerror (rc));
        }
      else if (n->alive)
        mu_nodes_seen (c, n, now);
    }
  if (mu_jq_pending (&c->wh_q) == 0)
    mu_jq_clear (&c->wh_q);
  else
    arm (c, now);
}
