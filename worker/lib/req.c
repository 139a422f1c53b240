/*
 * req.c — the request object shared by the caller's thread and the actor.
 *
 * A request is reference-counted under its own mutex.  The front end
 * creates it holding one reference and gives a second to the actor with
 * the REQ command; the actor drops its reference right after completing
 * the request (reply, error, deadline, membership change, cancel or
 * shutdown), the caller drops its own in muster_req_free().  The last one
 * out frees it, so
 *   - freeing an unfinished request is safe: the actor's completion later
 *     lands in memory it still owns a reference to, then frees it;
 *   - a request outlives its handle: finalize completes every pending
 *     request with MUSTER_ECLOSED before it returns, and a finished request
 *     never touches the handle again.
 * Each request has its own mutex and condition variable (rather than the
 * handle's) for exactly that reason: waiting on or freeing a request after
 * muster_worker_finalize() must not touch the freed handle.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include <muster/error.h>

#include "worker/lib/worker_int.h"

muster_req_t *
mu_req_new (mu_req_kind_t kind)
{
  muster_req_t *req = calloc (1, sizeof *req);
  if (req == NULL)
    return NULL;
  pthread_condattr_t ca;
  if (pthread_condattr_init (&ca) != 0)
    goto fail_free;
  if (pthread_condattr_setclock (&ca, CLOCK_MONOTONIC) != 0
      || pthread_cond_init (&req->cv, &ca) != 0)
    {
      pthread_condattr_destroy (&ca);
      goto fail_free;
    }
  pthread_condattr_destroy (&ca);
  if (pthread_mutex_init (&req->mu, NULL) != 0)
    {
      pthread_cond_destroy (&req->cv);
      goto fail_free;
    }
  req->refs = 1;
  req->kind = kind;
  req->deadline_ms = MU_NO_DEADLINE;
  return req;
fail_free:
  free (req);
  return NULL;
}

void
mu_req_ref (muster_req_t *req)
{
  pthread_mutex_lock (&req->mu);
  req->refs++;
  pthread_mutex_unlock (&req->mu);
}

void
mu_req_unref (muster_req_t *req)
{
  if (req == NULL)
    return;
  pthread_mutex_lock (&req->mu);
  int left = --req->refs;
  pthread_mutex_unlock (&req->mu);
  if (left > 0)
    return;
  pthread_mutex_destroy (&req->mu);
  pthread_cond_destroy (&req->cv);
  free (req->val);
  free (req->buf);
  free (req);
}

bool
mu_req_complete (muster_req_t *req, int status, uint8_t *val, size_t len)
{
  pthread_mutex_lock (&req->mu);
  if (req->done)
    {
      pthread_mutex_unlock (&req->mu);
      free (val);
      return false;
    }
  req->done = true;
  req->status = status;
  req->val = val;
  req->len = val ? len : 0;
  pthread_cond_broadcast (&req->cv);
  pthread_mutex_unlock (&req->mu);
  return true;
}

int
muster_req_done (muster_req_t *req)
{
  if (req == NULL)
    return MUSTER_EINVAL;
  pthread_mutex_lock (&req->mu);
  int done = req->done;
  pthread_mutex_unlock (&req->mu);
  return done;
}

/* Absolute CLOCK_MONOTONIC time `ms` from now. */
static struct timespec
mu_req_abstime (int ms)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L)
    {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
  return ts;
}

int
muster_req_wait (muster_req_t *req, int timeout_ms, void **val, size_t *len)
{
  if (val != NULL)
    *val = NULL;
  if (len != NULL)
    *len = 0;
  if (req == NULL || timeout_ms < -1)
    return MUSTER_EINVAL;
  pthread_mutex_lock (&req->mu);
  if (timeout_ms < 0)
    {
      while (!req->done)
        pthread_cond_wait (&req->cv, &req->mu);
    }
  else if (!req->done)
    {
      struct timespec until = mu_req_abstime (timeout_ms);
      while (!req->done)
        if (pthread_cond_timedwait (&req->cv, &req->mu, &until) == ETIMEDOUT)
          break;
    }
  if (!req->done)
    {
      pthread_mutex_unlock (&req->mu);
      return MUSTER_ETIMEDOUT;
    }
  int status = req->status;
  /* The value goes to the first wait that asks for it. */
  if (status == 0 && val != NULL && req->val != NULL)
    {
      *val = req->val;
      if (len != NULL)
        *len = req->len;
      req->val = NULL;
      req->len = 0;
    }
  pthread_mutex_unlock (&req->mu);
  return status;
}

void
muster_req_free (muster_req_t **req_p)
{
  if (req_p == NULL || *req_p == NULL)
    return;
  muster_req_t *req = *req_p;
  *req_p = NULL;
  pthread_mutex_lock (&req->mu);
  bool done = req->done;
  muster_worker_t *w = req->w;
  uint64_t id = req->id;
  pthread_mutex_unlock (&req->mu);
  /* Unfinished: the handle is still alive (finalize finishes every
   * request), so tell the actor to drop it rather than keep waiting.  If
   * the command cannot be sent the request still ends at its deadline. */
  if (!done && w != NULL)
    {
      mu_cmd_t cmd = { .op = MU_CMD_CANCEL, .arg = id };
      (void)mu_worker_send_cmd (w, &cmd, 0);
    }
  mu_req_unref (req);
}
