/*
 * ctl_error.c — what every control-port handler shares: structured error
 * replies (code, the code's name, the request field at fault, a sentence
 * naming it), the plain "done" reply, and the authorization of a request
 * about one job (its owner, or an admin).
 *
 * Errors are values all the way to the wire: a handler returns nothing
 * and answers exactly once, through these helpers.
 */
#include "coordinator/ctl_ops.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <muster/error.h>

void
mu_ctl_error (mu_coord_t *c, const mu_route_t *to, int code,
              const char *in_reply_to, const char *field, const char *fmt,
              ...)
{
  char msg[768];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  int rc = mu_wire_send_error_field (c->ctl_reply_sock, to, code,
                                     in_reply_to, 0, field, msg);
  if (rc != 0)
    {
      c->sends_failed++;
      mu_log_warn (c->log, "SEND-FAILED", "error reply to %s (%s): %s",
                   in_reply_to ? in_reply_to : "a request",
                   muster_err_name (code), muster_strerror (rc));
    }
}

void
mu_ctl_decode_field (const char *err, char *buf, size_t cap, char *msg,
                     size_t msgcap)
{
  /* proto_decode.c writes "<msg>: field '<path>': <what>" (or "<msg>:
   * <what>" when no field is at fault). */
  if (cap == 0 || msgcap == 0)
    return;
  buf[0] = '\0';
  msg[0] = '\0';
  const char *colon = err ? strchr (err, ':') : NULL;
  if (colon != NULL && strncmp (err, "ctl.", 4) == 0
      && strcspn (err, " ") > (size_t)(colon - err))
    {
      size_t n = (size_t)(colon - err) < msgcap - 1 ? (size_t)(colon - err)
                                                    : msgcap - 1;
      memcpy (msg, err, n);
      msg[n] = '\0';
    }
  const char *p = err ? strstr (err, ": field '") : NULL;
  if (p == NULL)
    return;
  p += strlen (": field '");
  const char *q = strchr (p, '\'');
  if (q == NULL)
    return;
  size_t n = (size_t)(q - p) < cap - 1 ? (size_t)(q - p) : cap - 1;
  memcpy (buf, p, n);
  buf[n] = '\0';
}

void
mu_ctl_ok (mu_coord_t *c, const mu_route_t *to, const char *message)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_CTL_REPLY;
  m.u.ctl_reply.status = 0;
  m.u.ctl_reply.message = (char *)message;
  mu_coord_send_route (c, c->ctl_reply_sock, to, &m);
}

int
mu_ctl_may_act (const mu_principal_t *who, const mu_job_t *j)
{
  return who->admin || who->uid == j->owner_uid;
}

mu_job_t *
mu_ctl_job (mu_coord_t *c, const mu_route_t *from, const mu_principal_t *who,
            const char *id, const char *what)
{
  mu_job_t *j = mu_smap_get (c->jobs, id);
  if (j == NULL)
    {
      mu_ctl_error (c, from, MUSTER_ENOTFOUND, what, "job", "%s: no job %s",
                    what, id);
      return NULL;
    }
  if (!mu_ctl_may_act (who, j))
    {
      mu_log_notice (c->log, "CTL-REFUSED", "uid %u: %s of job %s",
                     (unsigned)who->uid, what, j->id);
      mu_ctl_error (c, from, MUSTER_EPERM, what, "job",
                    "%s of job %s refused: it belongs to %s", what, j->id,
                    j->owner);
      return NULL;
    }
  return j;
}
