/*
 * agent_enroll.c — exchanging a join token for the agent's own key.
 *
 * A join token (common/keys.h) holds the coordinator's public key and an
 * enrolment key pair.  The agent opens a second DEALER made with the
 * enrolment key, sends "auth.enroll" naming its own public key, and waits
 * for "auth.enrolled".  On success it closes that connection and connects
 * its real one, with its own key, which the coordinator now knows; from
 * then on the node is known by that key, never by the token.  The
 * coordinator answers nothing on a token connection but auth.enrolled, so
 * a token grants exactly this exchange.  Resends ride on the agent's
 * registration timer (its backoff and connect timeout apply unchanged).
 */
#include "worker/agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/wire.h"
#include "common/zwatch.h"

static void
on_enrolled (mu_agent_t *a, const mu_enrolled_t *e)
{
  if (a->enrolled)
    return;
  if (e->status != 0)
    {
      char why[512];
      snprintf (why, sizeof why, "the coordinator at %s refused the join "
                "token: %s", a->coordinator,
                e->message ? e->message : muster_strerror ((int)e->status));
      mu_agent_give_up (a, why);
      return;
    }
  a->enrolled = 1;
  mu_log_info (a->log, "ENROLLED", "node %s key %.8s... enrolled with %s%s%s",
               a->node_id, a->key.pub, a->coordinator,
               e->job ? " for job " : "", e->job ? e->job : "");
  if (mu_agent_connect_coord (a) != 0)
    {
      mu_agent_give_up (a, "cannot connect to the coordinator");
      return;
    }
  mu_agent_register_now (a);
}

static int
on_enroll_readable (void *sock, void *arg)
{
  mu_agent_t *a = arg;
  mu_msg_t m;
  char err[256];
  int rc = mu_wire_recv (sock, NULL, &m, err, sizeof err);
  if (rc == -EAGAIN || (rc < 0 && rc > MUSTER_ERR_BASE))
    return -EAGAIN;
  if (rc != 0)
    {
      mu_log_warn (a->log, "PROTO-ERROR", "enrolment answer: %s", err);
      return 0;
    }
  if (m.type == MU_MSG_ENROLLED)
    on_enrolled (a, &m.u.enrolled);
  else if (m.type == MU_MSG_ERROR)
    mu_log_warn (a->log, "ENROLL-ERROR", "%s", m.u.error.message);
  mu_msg_clear (&m);
  return 0;
}

int
mu_agent_enroll_open (mu_agent_t *a)
{
  void *s = zmq_socket (a->zctx, ZMQ_DEALER);
  if (s == NULL)
    return -errno;
  int one = 1;
  int ivl = 5, ivl_max = 1000;
  int rc = mu_wire_sockopts (s, 16);
  if (rc == 0
      && (zmq_setsockopt (s, ZMQ_IMMEDIATE, &one, sizeof one) != 0
          || zmq_setsockopt (s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0
          || zmq_setsockopt (s, ZMQ_RECONNECT_IVL_MAX, &ivl_max,
                             sizeof ivl_max) != 0
          || zmq_setsockopt (s, ZMQ_CURVE_SERVERKEY, a->token.server_pub,
                             MU_KEY_Z85_LEN) != 0
          || zmq_setsockopt (s, ZMQ_CURVE_PUBLICKEY, a->token.enroll.pub,
                             MU_KEY_Z85_LEN) != 0
          || zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, a->token.enroll.sec,
                             MU_KEY_Z85_LEN) != 0))
    rc = -errno;
  if (rc == 0 && zmq_connect (s, a->coordinator) != 0)
    {
      rc = -errno;
      mu_log_err (a->log, "BAD-ENDPOINT", "cannot use coordinator endpoint %s: %s",
                  a->coordinator, zmq_strerror (-rc));
    }
  if (rc == 0)
    rc = mu_zwatch_start (a->loop, s, on_enroll_readable, a, &a->enroll_watch);
  if (rc != 0)
    {
      zmq_close (s);
      return rc;
    }
  a->enroll_sock = s;
  return 0;
}

int
mu_agent_enroll_send (mu_agent_t *a)
{
  if (a->enroll_sock == NULL)
    return MUSTER_ECLOSED;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_ENROLL;
  m.u.enroll.node_key = a->key.pub;
  m.u.enroll.node_id = a->node_id;
  return mu_wire_send (a->enroll_sock, NULL, &m);
}

void
mu_agent_enroll_close (mu_agent_t *a)
{
  mu_zwatch_stop (&a->enroll_watch);
  if (a->enroll_sock != NULL)
    zmq_close (a->enroll_sock);
  a->enroll_sock = NULL;
}
