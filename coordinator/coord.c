/*
 * coord.c — the coordinator's sockets, lifecycle and message dispatch.
 *
 * Two ROUTER sockets join the libuv loop through zwatch: the agent port
 * (agents are DEALERs whose routing id is their node id; ROUTER_HANDOVER
 * lets a reconnecting agent take its identity back, ROUTER_MANDATORY turns
 * sends to a vanished agent into an error instead of a silent drop) and the
 * optional control port.  (zsrv: by default the agent port is musterd's
 * own ZMTP server instead, agent_port.c; `--agent-transport zmq` keeps
 * the ROUTER described here.)  Every received message is decoded by the schema
 * codec; anything malformed is answered with an "error" message and
 * dropped, and never reaches the handlers in nodes.c, jobs.c, kv.c, ctl.c.
 * A sweep timer at the heartbeat interval declares lost nodes and expires
 * KV waits.
 */
#include "coordinator/coord.h"
#include "coordinator/sched_glue.h"
#include "coordinator/hb_udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/netaddr.h"
#include "common/util.h"
#include "common/zwatch.h"
#include "coordinator/auth.h"
#include "coordinator/mem_trim.h"
#include "coordinator/ckpt.h"
#include "coordinator/coord_metrics.h"
#include "coordinator/ctl_ops.h"
#include "coordinator/event_stream.h"
#include "coordinator/kv_quota.h"
#include "coordinator/journal.h"
#include "coordinator/standby.h"
#include "coordinator/service.h"

#define AGENT_HWM 1000000


int
mu_coord_new (const mu_coord_opts_t *opts, mu_coord_t **out)
{
  mu_coord_t *c = calloc (1, sizeof *c);
  if (c == NULL)
    return -ENOMEM;
  c->opts = *opts;
  if (c->opts.heartbeat_ms == 0)
    c->opts.heartbeat_ms = 200;
  if (c->opts.miss_limit == 0)
    c->opts.miss_limit = 3;
  if (c->opts.finished_keep == 0)
    c->opts.finished_keep = 64;
  if (c->opts.full_members_max == 0)
    c->opts.full_members_max = 256;
  if (c->opts.kv_max_bytes == 0)
    c->opts.kv_max_bytes = MU_KV_MAX_BYTES_DEFAULT;
  if (c->opts.kv_max_keys == 0)
    c->opts.kv_max_keys = MU_KV_MAX_KEYS_DEFAULT;
  mu_log_init (&c->own_log, "musterd");
  c->log = opts->log ? opts->log : &c->own_log;
  c->node_ids = mu_smap_new ();
  c->jobs = mu_smap_new ();
  c->routes = mu_smap_new ();
  c->node_keys = mu_smap_new ();
  mu_cm_open (c);
  c->self_uid = (uint32_t)geteuid ();
  c->self_gid = (uint32_t)getegid ();
  if (c->node_ids == NULL || c->jobs == NULL || c->routes == NULL
      || c->node_keys == NULL || c->metrics == NULL)
    {
      mu_cm_close (c);
      mu_smap_destroy (&c->node_ids);
      mu_smap_destroy (&c->jobs);
      mu_smap_destroy (&c->routes);
      mu_smap_destroy (&c->node_keys);
      free (c);
      return -ENOMEM;
    }
  mu_random_hex (c->session, 8);
  mu_conn_limit_init (&c->conns, 0);
  char serr[256];
  int src = mu_sched_glue_new (c, serr, sizeof serr); /* schedwire */
  if (src != 0)
    {
      mu_log_err (c->log, "SCHED", "%s", serr);
      mu_coord_destroy (&c);
      return src;
    }
  *out = c;
  return 0;
}

mu_node_t *
mu_coord_node (mu_coord_t *c, uint32_t key)
{
  if (key >= c->nodes_used || c->nodes[key] == NULL || !c->nodes[key]->in_use)
    return NULL;
  return c->nodes[key];
}

static int
is_command (int type)
{
  return type == MU_MSG_START || type == MU_MSG_STOP
         || type == MU_MSG_JOB_DONE;
}

static void
on_closed_timer (uv_timer_t *t);

void
mu_coord_unreachable (mu_coord_t *c, mu_node_t *n, int type, int rc)
{
  c->sends_failed++;
  if (!n->alive || n->unreachable)
    return;
  mu_log_err (c->log, "NODE-UNREACHABLE",
              "node %s: %s could not be sent (%s); declaring it lost",
              n->node_id, mu_msg_name (type), muster_strerror (rc));
  n->unreachable = 1;
  c->unreachable_pending = 1; /* zsrv: handle_closed looks only then */
  if (!c->stopping && c->started)
    uv_timer_start (&c->closed_timer, on_closed_timer, 0, 0);
}

/* The unit tests' fault: this send fails as an allocation would. */
static int
fault (const mu_coord_t *c, int type, const char *node_id)
{
  return c->fault_send_type != 0 && c->fault_send_type == type
         && (c->fault_send_node[0] == '\0'
             || (node_id != NULL && strcmp (node_id, c->fault_send_node) == 0));
}

/* zsrv: a message to the agent port, on whichever transport serves it. */
static int
agent_send (mu_coord_t *c, const mu_route_t *to, const mu_msg_t *m)
{
  if (c->agent_port == NULL)
    return mu_wire_send (c->agent_sock, to, m);
  char *buf = NULL;
  size_t len = 0;
  int rc = mu_msg_encode (m, &buf, &len);
  if (rc == 0)
    rc = mu_coord_agent_send_raw (c, to, buf, len);
  free (buf);
  return rc;
}

int
mu_coord_send_node (mu_coord_t *c, mu_node_t *n, const mu_msg_t *m)
{
  if (!n->alive || c->agent_sock == NULL)
    return MUSTER_EPEERLOST;
  /* Stamp the fencing term (standby.h) on what commands an agent: a copy,
   * the caller's message is not ours to change. */
  mu_msg_t stamped = *m;
  switch (m->type)
    {
    case MU_MSG_WELCOME: stamped.u.welcome.term = c->opts.term; break;
    case MU_MSG_HEARTBEAT: stamped.u.heartbeat.term = c->opts.term; break;
    case MU_MSG_START: stamped.u.start.term = c->opts.term; break;
    case MU_MSG_STOP: stamped.u.stop.term = c->opts.term; break;
    case MU_MSG_JOB_DONE: stamped.u.job_done.term = c->opts.term; break;
    default: break;
    }
  mu_route_t to;
  mu_node_route (n, &to);
  int rc = fault (c, (int)m->type, n->node_id)
               ? -ENOMEM
               : agent_send (c, &to, &stamped);
  if (rc == 0)
    return 0;
  if (is_command ((int)m->type))
    {
      mu_coord_unreachable (c, n, (int)m->type, rc);
      return rc;
    }
  /* Replies and notices: the agent's next message (heartbeat, retry)
   * asks again; a closed connection (EHOSTUNREACH) is the monitor's. */
  c->sends_failed++;
  if (rc == -EHOSTUNREACH)
    mu_log_debug (c->log, "SEND-FAILED", "%s to node %s: %s",
                  mu_msg_name (m->type), n->node_id, muster_strerror (rc));
  else
    mu_log_warn (c->log, "SEND-FAILED", "%s to node %s: %s",
                 mu_msg_name (m->type), n->node_id, muster_strerror (rc));
  return rc;
}

/* zsim: a message already encoded (one job.start of many: epoch.c), to a
 * node; as mu_coord_send_node, with its failure handling.  The caller
 * stamped the fencing term. */
int
mu_coord_send_node_encoded (mu_coord_t *c, mu_node_t *n, int type,
                            const char *buf, size_t len)
{
  if (!n->alive || c->agent_sock == NULL)
    return MUSTER_EPEERLOST;
  mu_route_t to;
  mu_node_route (n, &to);
  int rc = fault (c, type, n->node_id)
               ? -ENOMEM
               : mu_coord_agent_send_raw (c, &to, buf, len);
  if (rc == 0)
    return 0;
  if (is_command (type))
    {
      mu_coord_unreachable (c, n, type, rc);
      return rc;
    }
  c->sends_failed++;
  mu_log_warn (c->log, "SEND-FAILED", "%s to node %s: %s",
               mu_msg_name ((mu_msg_type_t)type), n->node_id,
               muster_strerror (rc));
  return rc;
}

int
mu_coord_send_route (mu_coord_t *c, void *sock, const mu_route_t *to,
                     const mu_msg_t *m)
{
  int rc = fault (c, (int)m->type, NULL) ? -ENOMEM
           : (c->agent_port != NULL && sock == c->agent_sock)
             ? agent_send (c, to, m)
             : mu_wire_send (sock, to, m);
  if (rc != 0)
    {
      c->sends_failed++;
      mu_log_warn (c->log, "SEND-FAILED", "%s (a reply): %s",
                   mu_msg_name (m->type), muster_strerror (rc));
    }
  return rc;
}

int
mu_coord_send_error (mu_coord_t *c, void *sock, const mu_route_t *to,
                     int code, const char *what, const char *text)
{
  int rc;
  if (fault (c, MU_MSG_ERROR, NULL))
    rc = -ENOMEM;
  else if (c->agent_port != NULL && sock == c->agent_sock)
    {
      mu_msg_t m;
      mu_wire_error_msg (&m, code, what, 0, NULL, text);
      rc = to->len == 0 ? MUSTER_EINVAL : agent_send (c, to, &m);
    }
  else
    rc = mu_wire_send_error (sock, to, code, what, 0, text);
  if (rc != 0)
    {
      c->sends_failed++;
      mu_log_warn (c->log, "SEND-FAILED", "error reply to %s (%s): %s",
                   what ? what : "a request", muster_err_name (code),
                   muster_strerror (rc));
    }
  return rc;
}

/* The node id a message names, when it names one (for a reconnect). */
static const char *
msg_node_id (const mu_msg_t *m)
{
  switch (m->type)
    {
    case MU_MSG_HEARTBEAT:
      return m->u.heartbeat.node_id;
    case MU_MSG_LEAVE:
      return m->u.leave.node_id;
    case MU_MSG_PREEMPT:
      return m->u.preempt.node_id;
    default:
      return NULL;
    }
}

static void
send_enrolled (mu_coord_t *c, const mu_route_t *to, int status,
               const char *job, const char *message)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_ENROLLED;
  m.u.enrolled.status = status;
  m.u.enrolled.job = (char *)job;
  m.u.enrolled.message = (char *)message;
  mu_coord_send_route (c, c->agent_sock, to, &m);
}

/* auth.enroll on a connection made with a join token's key: the token is
 * exchanged for the node's own key, scoped as the token was. */
static void
handle_enroll (mu_coord_t *c, const mu_route_t *from,
               const mu_principal_t *who, const mu_enroll_t *e)
{
  const char *nid = e->node_id ? e->node_id : "?";
  if (!mu_key_valid (e->node_key))
    {
      send_enrolled (c, from, MUSTER_EINVAL, NULL,
                     "node_key is not a 40-character Z85 CURVE key");
      return;
    }
  int rc = mu_auth_add_node (c->auth, e->node_key, who->job, who->uid,
                             who->gid, nid);
  if (rc == 0)
    mu_repl_keys (c); /* a standby knows the node at once (standby.h) */
  if (rc != 0)
    {
      mu_log_warn (c->log, "ENROLL-FAILED", "node %s: %s", nid,
                   muster_strerror (rc));
      send_enrolled (c, from, rc, NULL, muster_strerror (rc));
      return;
    }
  mu_log_info (c->log, "NODE-ENROLLED", "node %s key %.8s... %s%s", nid,
               e->node_key, who->job ? "for job " : "for the cluster",
               who->job ? who->job : "");
  send_enrolled (c, from, 0, who->job, "enrolled");
}

void
mu_coord_dispatch_agent (mu_coord_t *c, const mu_route_t *from, mu_msg_t *m)
{
  mu_principal_t who;
  if (mu_auth_who (c->auth, from->user, MU_AUTH_AGENT_PORT, &who) != 0
      || (who.kind != MU_PRIN_NODE && who.kind != MU_PRIN_ENROLL))
    {
      /* A job token's node whose job has ended, or a key withdrawn: no
       * reply, no state. */
      mu_log_debug (c->log, "AUTH-DROPPED", "%s from an unknown key",
                    mu_msg_name (m->type));
      return;
    }
  if (who.kind == MU_PRIN_ENROLL)
    {
      if (m->type == MU_MSG_ENROLL)
        handle_enroll (c, from, &who, &m->u.enroll);
      else
        mu_log_info (c->log, "AUTH-DROPPED", "%s on a join token's "
                     "connection (only auth.enroll is accepted there)",
                     mu_msg_name (m->type));
      return;
    }
  if (m->type == MU_MSG_REGISTER)
    {
      mu_nodes_register (c, from, &who, &m->u.reg);
      mu_sched_glue_dirty (c);
      return;
    }
  if (m->type == MU_MSG_ENROLL)
    {
      send_enrolled (c, from, 0, who.job, "already enrolled");
      return;
    }
  mu_node_t *n = mu_nodes_by_route (c, from);
  if (n == NULL)
    n = mu_nodes_rebind (c, from, &who, msg_node_id (m));
  if (n == NULL)
    {
      /* Not registered (or declared lost): tell it to register again. */
      mu_coord_send_error (c, c->agent_sock, from, MUSTER_ENOTFOUND,
                          mu_msg_name (m->type),
                          "unknown node: register first");
      return;
    }
  if (strcmp (n->pub, who.pub) != 0)
    {
      /* Cannot happen (a route is one connection, a connection one key);
       * checked anyway, since everything below trusts it. */
      mu_log_warn (c->log, "NODE-SPOOF", "%s for node %s from another key",
                   mu_msg_name (m->type), n->node_id);
      return;
    }
  mu_nodes_seen (c, n, mu_now_ms ());
  if (n->job != NULL && n->job->held.set)
    mu_epoch_member_heard (n->job);
  switch (m->type)
    {
    case MU_MSG_HEARTBEAT:
      mu_nodes_heartbeat (c, from, &m->u.heartbeat);
      break;
    case MU_MSG_LEAVE:
      mu_nodes_leave (c, n, m->u.leave.reason);
      break;
    case MU_MSG_WORKER_STATE:
      mu_ctl_note_worker (c, n, &m->u.worker_state); /* pids for ctl.get */
      mu_jobs_worker_state (c, n, &m->u.worker_state);
      break;
    case MU_MSG_LOAD: /* service: a replica's load (service_load.c) */
      mu_service_load (c, n, &m->u.load);
      break;
    case MU_MSG_AGENT_LOGS:
      mu_ctl_agent_logs (c, n, &m->u.agent_logs); /* ctl_logs.c */
      break;
    case MU_MSG_CKPT_SAVED:
      mu_ckpt_on_saved (c, n, &m->u.ckpt_saved);
      break;
    case MU_MSG_PREEMPT:
      mu_ckpt_preempt_node (c, n, m->u.preempt.grace_ms,
                            m->u.preempt.reason ? m->u.preempt.reason
                                                : "node preempted");
      break;
    case MU_MSG_MEMBERS_GET:
      mu_jobs_members (c, n, &m->u.members_get);
      break;
    case MU_MSG_KV_PUT:
      mu_kv_put (c, n, &m->u.kv_put);
      break;
    case MU_MSG_KV_GET:
      mu_kv_get (c, n, &m->u.kv_get);
      break;
    case MU_MSG_BARRIER:
      mu_kv_barrier (c, n, &m->u.barrier);
      break;
    case MU_MSG_KV_ADD: /* torch/kv */
      mu_kv_add (c, n, &m->u.kv_add);
      break;
    case MU_MSG_KV_CAS:
      mu_kv_cas (c, n, &m->u.kv_cas);
      break;
    case MU_MSG_KV_DEL:
      mu_kv_del (c, n, &m->u.kv_del);
      break;
    case MU_MSG_KV_COUNT:
      mu_kv_count (c, n, &m->u.kv_count);
      break;
    case MU_MSG_ERROR:
      mu_log_warn (c->log, "AGENT-ERROR", "node %s: %s", n->node_id,
                   m->u.error.message);
      break;
    default:
      mu_coord_send_error (c, c->agent_sock, from, MUSTER_ETYPE,
                          mu_msg_name (m->type),
                          "message type not accepted on the agent port");
      break;
    }
}

static int
on_agent_readable (void *sock, void *arg)
{
  mu_coord_t *c = arg;
  mu_route_t from;
  mu_msg_t m;
  char err[256];
  int rc = mu_wire_recv (sock, &from, &m, err, sizeof err);
  if (rc == -EAGAIN || (rc < 0 && rc > MUSTER_ERR_BASE))
    return -EAGAIN; /* nothing, or a socket error: stop draining */
  if (rc != 0)
    {
      mu_log_warn (c->log, "PROTO-ERROR", "agent port: %s", err);
      mu_coord_send_error (c, sock, &from, rc, NULL, err);
      return 0;
    }
  mu_coord_dispatch_agent (c, &from, &m);
  mu_msg_clear (&m);
  return 0;
}

static int
on_ctl_readable (void *sock, void *arg)
{
  mu_coord_t *c = arg;
  mu_route_t from;
  mu_msg_t m;
  char err[256];
  int rc = mu_wire_recv (sock, &from, &m, err, sizeof err);
  if (rc == -EAGAIN || (rc < 0 && rc > MUSTER_ERR_BASE))
    return -EAGAIN; /* nothing, or a socket error: stop draining */
  if (rc != 0)
    {
      mu_log_info (c->log, "PROTO-ERROR", "control port: %s", err);
      char field[160], what[64];
      mu_ctl_decode_field (err, field, sizeof field, what, sizeof what);
      mu_wire_send_error_field (sock, &from, rc, what[0] ? what : NULL, 0,
                                field, err);
      return 0;
    }
  mu_principal_t who;
  mu_auth_port_t port = sock == c->ctl_local_sock ? MU_AUTH_CTL_LOCAL
                                                  : MU_AUTH_CTL_PORT;
  if (mu_auth_who (c->auth, from.user, port, &who) != 0
      || who.kind != MU_PRIN_USER)
    {
      mu_log_info (c->log, "AUTH-DROPPED", "%s from an unknown control client",
                   mu_msg_name (m.type));
      mu_msg_clear (&m);
      return 0;
    }
  c->ctl_reply_sock = sock;
  mu_ctl_handle (c, &from, &who, &m);
  mu_sched_glue_dirty (c);
  mu_msg_clear (&m);
  return 0;
}

void
mu_coord_drain_agents (mu_coord_t *c)
{
  /* zwatch's check handle drains again each loop turn, so consuming
   * messages here loses no edge of ZMQ_FD. */
  /* The native port has no queue: its messages are handled as read. */
  for (int i = 0; i < 4096 && c->agent_sock != NULL && c->agent_port == NULL
                  && on_agent_readable (c->agent_sock, c) == 0;
       i++)
    ;
}

static void
on_closed_timer (uv_timer_t *t)
{
  mu_nodes_handle_closed (t->data);
}

/* Socket monitor: an agent connection closed.  Handled on the next loop
 * turn, never inside the monitor's drain (which registration runs). */
static void
on_agent_conn_closed (int fd, void *arg)
{
  mu_coord_t *c = arg;
  mu_nodes_conn_closed (fd, c);
  if (!c->stopping)
    uv_timer_start (&c->closed_timer, on_closed_timer, 0, 0);
}

static void
on_sweep (uv_timer_t *t)
{
  mu_coord_t *c = t->data;
  mu_nodes_sweep (c, mu_now_ms ());
  mu_ctl_sweep (c); /* shrinks waiting for a checkpoint (ctl_scale.c) */
  mu_sched_glue_dirty (c); /* a pass reconciles the scheduler */
  mu_service_sweep (c); /* service replicas, rollouts, autoscaler */
}

static int
open_router (mu_coord_t *c, const char *bind, mu_auth_port_t port,
             void **sock_out, char *ep, size_t eplen)
{
  void *s = zmq_socket (c->zctx, ZMQ_ROUTER);
  if (s == NULL)
    return -errno;
  int one = 1;
  int backlog = 4096; /* thousands of agents connect at once */
  int handshake = MU_CONN_HANDSHAKE_MS; /* stalled connections go */
  int rc = mu_wire_sockopts (s, AGENT_HWM);
  if (rc == 0 && zmq_setsockopt (s, ZMQ_BACKLOG, &backlog, sizeof backlog) != 0)
    rc = -errno;
  if (rc == 0 && zmq_setsockopt (s, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake) != 0)
    rc = -errno;
  /* No ROUTER_HANDOVER: routes are the ROUTER's own connection ids, and a
   * reconnecting agent is recognised by its key (mu_nodes_rebind), never by
   * an id a peer chose. */
  if (rc == 0 && zmq_setsockopt (s, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
    rc = -errno;
  if (rc == 0)
    rc = mu_auth_secure (c->auth, s, port);
  if (rc == 0)
    rc = mu_netaddr_zmq_prepare (s, bind);
  if (rc == 0 && zmq_bind (s, bind) != 0)
    rc = -errno;
  size_t len = eplen;
  if (rc == 0 && zmq_getsockopt (s, ZMQ_LAST_ENDPOINT, ep, &len) != 0)
    rc = -errno;
  if (rc != 0)
    {
      zmq_close (s);
      return rc;
    }
  *sock_out = s;
  return 0;
}

/* The local control socket: ipc in the state directory, open to every
 * local user (0666); who they are comes from the kernel, through ZAP. */
static int
open_ctl_local (mu_coord_t *c)
{
  char path[300];
  if (c->opts.ctl_local != NULL)
    mu_strlcpy (path, c->opts.ctl_local, sizeof path);
  else if (c->opts.state_dir != NULL)
    snprintf (path, sizeof path, "%s/ctl.sock", c->opts.state_dir);
  else
    return 0;
  if (strlen (path) >= 100)
    {
      mu_log_err (c->log, "BIND-FAILED", "local control socket %s: the path "
                  "is longer than a Unix socket allows (100 bytes)", path);
      return -ENAMETOOLONG;
    }
  unlink (path); /* a socket left by a musterd that was killed */
  void *s = zmq_socket (c->zctx, ZMQ_ROUTER);
  if (s == NULL)
    return -errno;
  int one = 1;
  int rc = mu_wire_sockopts (s, AGENT_HWM);
  if (rc == 0 && zmq_setsockopt (s, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0)
    rc = -errno;
  if (rc == 0)
    rc = mu_auth_secure (c->auth, s, MU_AUTH_CTL_LOCAL);
  snprintf (c->ctl_local_ep, sizeof c->ctl_local_ep, "ipc://%s", path);
  if (rc == 0 && zmq_bind (s, c->ctl_local_ep) != 0)
    rc = -errno;
  if (rc == 0 && chmod (path, 0666) != 0)
    rc = -errno;
  if (rc == 0)
    rc = mu_zwatch_start (c->loop, s, on_ctl_readable, c, &c->ctl_local_watch);
  if (rc != 0)
    {
      mu_log_err (c->log, "BIND-FAILED", "local control socket %s: %s", path,
                  muster_strerror (rc));
      zmq_close (s);
      c->ctl_local_ep[0] = '\0';
      return rc;
    }
  c->ctl_local_sock = s;
  return 0;
}

int
mu_coord_start (mu_coord_t *c, uv_loop_t *loop)
{
  c->loop = loop;
  char err[600] = "";
  int jrc = mu_jhooks_open (c); /* the journal first: unreadable, nothing starts */
  if (jrc != 0)
    return jrc;
  mu_auth_opts_t ao = { .state_dir = c->opts.state_dir,
                        .insecure = c->opts.insecure,
                        .self_uid = c->self_uid,
                        .server_secret = c->opts.server_secret,
                        .conns = &c->conns,
                        .log = c->log };
  int rc = mu_auth_new (&ao, &c->auth, err, sizeof err);
  if (rc != 0)
    {
      mu_log_err (c->log, "AUTH-FAILED", "%s", err[0] ? err : muster_strerror (rc));
      return rc;
    }
  c->zctx = zmq_ctx_new ();
  if (c->zctx == NULL)
    {
      rc = -errno;
      mu_auth_destroy (&c->auth);
      return rc;
    }
  rc = mu_auth_start (c->auth, c->zctx, loop);
  if (rc != 0)
    {
      mu_log_err (c->log, "AUTH-FAILED", "cannot serve ZAP: %s",
                  muster_strerror (rc));
      goto fail;
    }
  rc = c->opts.agent_zmq
         ? open_router (c, c->opts.agent_bind, MU_AUTH_AGENT_PORT,
                        &c->agent_sock, c->agent_ep, sizeof c->agent_ep)
         : mu_agent_port_open (c); /* zsrv */
  if (rc != 0)
    {
      mu_log_err (c->log, "BIND-FAILED", "agent port %s: %s",
                  c->opts.agent_bind, muster_strerror (rc));
      goto fail;
    }
  if (c->opts.ctl_bind != NULL)
    {
      rc = open_router (c, c->opts.ctl_bind, MU_AUTH_CTL_PORT, &c->ctl_sock,
                        c->ctl_ep, sizeof c->ctl_ep);
      if (rc != 0)
        {
          mu_log_err (c->log, "BIND-FAILED", "control port %s: %s",
                      c->opts.ctl_bind, muster_strerror (rc));
          goto fail;
        }
      rc = mu_zwatch_start (loop, c->ctl_sock, on_ctl_readable, c,
                            &c->ctl_watch);
      if (rc == 0)
        rc = mu_conn_watch_start (loop, c->zctx, c->ctl_sock, "control",
                                  &c->conns, c->log, &c->ctl_conns);
      if (rc != 0)
        goto fail;
    }
  rc = open_ctl_local (c);
  if (rc != 0)
    goto fail;
  if (c->agent_port == NULL)
    {
      rc = mu_zwatch_start (loop, c->agent_sock, on_agent_readable, c,
                            &c->agent_watch);
      if (rc == 0)
        rc = mu_conn_watch_start (loop, c->zctx, c->agent_sock, "agent",
                                  &c->conns, c->log, &c->agent_conns);
    }
  if (rc != 0)
    goto fail;
  mu_ev_coord_started (c);
  /* The job table as the journal left it, before any message is read. */
  if ((rc = mu_jhooks_start (c)) != 0)
    goto fail;
  if ((rc = mu_repl_start (c)) != 0) /* a standby's journal stream */
    goto fail;
  uv_timer_init (loop, &c->sweep_timer);
  c->sweep_timer.data = c;
  uv_timer_init (loop, &c->closed_timer);
  c->closed_timer.data = c;
  mu_welcome_init (c);
  mu_mem_trim_init (c, loop);
  mu_conn_watch_on_close (c->agent_conns, on_agent_conn_closed, c);
  mu_hb_udp_start (c); /* hb: a failure leaves ZeroMQ heartbeats, logged */
  /* Sweep twice per interval: a silent node is declared lost at most half
   * an interval after its limit. */
  uint64_t sweep = c->opts.heartbeat_ms / 2 ? c->opts.heartbeat_ms / 2 : 1;
  /* A stall before the first sweep is a stall too. */
  c->last_sweep_ms = mu_now_ms ();
  uv_timer_start (&c->sweep_timer, on_sweep, sweep, sweep);
  mu_sched_glue_start (c);
  c->started = 1;
  mu_log_info (c->log, "COORD-STARTED", "agent port %s%s%s%s%s", c->agent_ep,
               c->ctl_sock ? ", control port " : "",
               c->ctl_sock ? c->ctl_ep : "",
               c->ctl_local_sock ? ", local control socket " : "",
               c->ctl_local_sock ? c->ctl_local_ep : "");
  if (c->opts.insecure)
    mu_log_warn (c->log, "SECURITY-OFF",
                 "--insecure: TCP ports accept anyone without a key; any "
                 "peer that reaches them can run jobs as this coordinator's "
                 "agents' users");
  else
    mu_log_notice (c->log, "SECURITY", "CURVE on TCP ports, server key %s%s%s",
                 mu_auth_server_public (c->auth),
                 mu_auth_cluster_token_path (c->auth) ? ", join token in " : "",
                 mu_auth_cluster_token_path (c->auth)
                   ? mu_auth_cluster_token_path (c->auth) : "");
  return 0;
fail:
  mu_conn_watch_stop (&c->ctl_conns);
  mu_conn_watch_stop (&c->agent_conns);
  mu_zwatch_stop (&c->ctl_watch);
  mu_zwatch_stop (&c->ctl_local_watch);
  mu_zwatch_stop (&c->agent_watch);
  if (c->ctl_sock)
    zmq_close (c->ctl_sock);
  if (c->ctl_local_sock)
    zmq_close (c->ctl_local_sock);
  if (c->agent_port != NULL)
    mu_agent_port_close (c);
  else if (c->agent_sock)
    zmq_close (c->agent_sock);
  c->ctl_sock = c->agent_sock = c->ctl_local_sock = NULL;
  mu_auth_stop (c->auth);
  zmq_ctx_term (c->zctx);
  c->zctx = NULL;
  mu_auth_destroy (&c->auth);
  return rc;
}

size_t
mu_coord_nodes_alive (const mu_coord_t *c)
{
  size_t n = 0;
  for (size_t k = 0; k < c->nodes_used; k++)
    if (c->nodes[k] != NULL && c->nodes[k]->in_use && c->nodes[k]->alive)
      n++;
  return n;
}

const char *
mu_coord_agent_endpoint (const mu_coord_t *c)
{
  return c->agent_ep;
}

const char *
mu_coord_ctl_endpoint (const mu_coord_t *c)
{
  return c->ctl_sock ? c->ctl_ep : NULL;
}

const char *
mu_coord_ctl_local_endpoint (const mu_coord_t *c)
{
  return c->ctl_local_sock ? c->ctl_local_ep : NULL;
}

const char *
mu_coord_server_key (const mu_coord_t *c)
{
  return c->auth ? mu_auth_server_public (c->auth) : "";
}

int
mu_coord_authorize_node (mu_coord_t *c, const char *pub)
{
  if (c->auth == NULL)
    return MUSTER_EINVAL;
  if (mu_auth_insecure (c->auth))
    return 0;
  return mu_auth_add_node (c->auth, pub, NULL, c->self_uid, c->self_gid,
                           "local");
}

int
mu_coord_in_process_node (mu_coord_t *c, const char *node_id, const char *pub)
{
  if (node_id == NULL
      || mu_strlcpy (c->in_process_node, node_id, sizeof c->in_process_node)
           != 0
      || mu_strlcpy (c->in_process_pub, pub ? pub : "",
                     sizeof c->in_process_pub) != 0)
    {
      c->in_process_node[0] = '\0';
      return MUSTER_EINVAL;
    }
  return 0;
}

int
mu_coord_job_enroll_key (mu_coord_t *c, const char *id, const char *pub)
{
  if (c->auth == NULL)
    return MUSTER_EINVAL;
  return mu_auth_add_enroll (c->auth, pub, id, c->self_uid, c->self_gid);
}

int
mu_coord_job_token (mu_coord_t *c, const char *id, char *buf, size_t cap)
{
  if (c->auth == NULL)
    return MUSTER_EINVAL;
  return mu_auth_job_token (c->auth, id, c->self_uid, c->self_gid, buf, cap);
}

void
mu_coord_stop (mu_coord_t *c)
{
  if (!c->started || c->stopping)
    return;
  c->stopping = 1;
  mu_events_stop (c);
  mu_jhooks_stop (c); /* a last snapshot: the next start replays little */
  mu_repl_stop (c);   /* after it: a standby gets that snapshot */
  mu_jobs_close_all (c);
  mu_zwatch_stop (&c->agent_watch);
  mu_zwatch_stop (&c->ctl_watch);
  mu_zwatch_stop (&c->ctl_local_watch);
  mu_conn_watch_stop (&c->agent_conns);
  mu_conn_watch_stop (&c->ctl_conns);
  uv_close ((uv_handle_t *)&c->sweep_timer, NULL);
  uv_close ((uv_handle_t *)&c->closed_timer, NULL);
  mu_welcome_close (c);
  mu_sched_glue_stop (c);
  mu_hb_udp_stop (c);
  mu_mem_trim_close (c);
  /* Give final messages (job.done) a moment to leave. */
  int linger = 500;
  if (c->agent_port != NULL)
    mu_agent_port_close (c); /* what the kernel took is sent */
  if (c->agent_sock)
    zmq_setsockopt (c->agent_sock, ZMQ_LINGER, &linger, sizeof linger);
  /* ... and the last answers (ctl.events: mu_events_stop). */
  if (c->ctl_sock)
    zmq_setsockopt (c->ctl_sock, ZMQ_LINGER, &linger, sizeof linger);
  if (c->ctl_local_sock)
    zmq_setsockopt (c->ctl_local_sock, ZMQ_LINGER, &linger, sizeof linger);
  if (c->agent_sock)
    zmq_close (c->agent_sock);
  if (c->ctl_sock)
    zmq_close (c->ctl_sock);
  if (c->ctl_local_sock)
    {
      zmq_close (c->ctl_local_sock);
      unlink (c->ctl_local_ep + strlen ("ipc://"));
    }
  c->agent_sock = c->ctl_sock = c->ctl_local_sock = NULL;
  mu_auth_stop (c->auth);
  zmq_ctx_term (c->zctx);
  c->zctx = NULL;
}

void
mu_coord_destroy (mu_coord_t **c_p)
{
  if (c_p == NULL || *c_p == NULL)
    return;
  mu_coord_t *c = *c_p;
  mu_jhooks_destroy (c);
  mu_events_destroy (c);
  mu_jobs_free_all (c);
  mu_nodes_free_all (c);
  mu_smap_destroy (&c->node_ids);
  mu_smap_destroy (&c->jobs);
  mu_smap_destroy (&c->routes);
  mu_smap_destroy (&c->node_keys);
  mu_auth_destroy (&c->auth);
  mu_cm_close (c);
  mu_sched_glue_free (c);
  free (c);
  *c_p = NULL;
}
