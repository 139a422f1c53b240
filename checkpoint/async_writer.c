/*
 * async_writer.c — one thread writing queued shards (contract in
 * async_writer.h).
 *
 * DESIGN.  A mutex protects a FIFO of jobs, a count of jobs not yet
 * reported (queued or being written), the spare snapshot buffer and the
 * stop flag; one condition variable wakes the thread, another wakes
 * flushers.  The thread takes a job, drops the lock for the write (so
 * snapshots and submits never wait on I/O) and calls the callback without
 * the lock, so a callback may queue more work.  A reservation is a job
 * with no file: the thread allocates and touches the buffer and parks it
 * as the spare.
 */
#include "checkpoint/async_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/shard.h"

typedef struct job
{
  struct job *next;
  char *dir;
  char *file; /* NULL: a reservation of `len` bytes */
  void *buf;
  size_t len;
  size_t cap;      /* snapshot buffers: allocated size */
  bool snapshot;   /* buf is the writer's (recycled), not the caller's */
  const void *src; /* snapshot_start: copy from here on the writer thread */
  uint64_t ticket; /* snapshot_start: its ticket */
  mu_async_done_fn done;
  void *arg;
} job_t;

struct mu_async_writer
{
  pthread_mutex_t mu;
  pthread_cond_t work;      /* queue non-empty or stopping */
  pthread_cond_t idle;      /* pending dropped */
  pthread_cond_t copied_cv; /* `copied` moved */
  job_t *head, *tail;
  uint64_t tickets;    /* last ticket handed out by snapshot_start */
  uint64_t copied;     /* tickets up to this one no longer need their src */
  uint64_t err_ticket; /* the last ticket whose copy failed, and why */
  int err;
  size_t pending; /* jobs queued or in progress */
  bool started, stopping;
  pthread_t thread;
  void *spare; /* a snapshot buffer ready for reuse */
  size_t spare_cap;
};

/* Keep the larger of the spare and `buf`; free the other.  Locked. */
static void
park_spare (mu_async_writer_t *w, void *buf, size_t cap)
{
  if (!buf)
    return;
  if (w->spare && w->spare_cap >= cap)
    {
      free (buf);
      return;
    }
  free (w->spare);
  w->spare = buf;
  w->spare_cap = cap;
}

static void
job_free (job_t *j)
{
  free (j->dir);
  free (j->file);
  free (j);
}

static void
touch (void *buf, size_t len)
{
  long pg = sysconf (_SC_PAGESIZE);
  size_t step = pg > 0 ? (size_t)pg : 4096;
  volatile unsigned char *p = buf;
  for (size_t i = 0; i < len; i += step)
    p[i] = 0;
}

/* snapshot_start's copy, on the writer thread: into the spare buffer if it
 * is big enough, else a new one; then release the caller's source. */
static int
copy_stage (mu_async_writer_t *w, job_t *j)
{
  pthread_mutex_lock (&w->mu);
  if (w->spare && w->spare_cap >= j->len)
    {
      j->buf = w->spare;
      j->cap = w->spare_cap;
      w->spare = NULL;
      w->spare_cap = 0;
    }
  pthread_mutex_unlock (&w->mu);
  if (!j->buf)
    {
      j->cap = j->len ? j->len : 1;
      j->buf = malloc (j->cap);
    }
  if (j->buf && j->len)
    memcpy (j->buf, j->src, j->len);
  int rc = j->buf ? 0 : -ENOMEM;
  pthread_mutex_lock (&w->mu);
  w->copied = j->ticket;
  if (rc)
    {
      w->err_ticket = j->ticket;
      w->err = rc;
    }
  pthread_cond_broadcast (&w->copied_cv);
  pthread_mutex_unlock (&w->mu);
  j->src = NULL;
  j->snapshot = true;
  return rc;
}

static void *
writer_main (void *arg)
{
  mu_async_writer_t *w = arg;
  pthread_mutex_lock (&w->mu);
  for (;;)
    {
      while (!w->head && !w->stopping)
        pthread_cond_wait (&w->work, &w->mu);
      job_t *j = w->head;
      if (!j)
        break; /* stopping with an empty queue */
      w->head = j->next;
      if (!w->head)
        w->tail = NULL;
      pthread_mutex_unlock (&w->mu);

      if (!j->file)
        {
          void *buf = malloc (j->len);
          if (buf)
            touch (buf, j->len);
          pthread_mutex_lock (&w->mu);
          park_spare (w, buf, j->len);
        }
      else
        {
          int rc = 0;
          if (j->src)
            rc = copy_stage (w, j);
          mu_shard_info_t info;
          memset (&info, 0, sizeof info);
          if (rc == 0)
            rc = mu_shard_write_buf (j->dir, j->file, j->buf, j->len, &info);
          j->done (j->arg, rc, rc == 0 ? &info : NULL,
                   j->snapshot ? NULL : j->buf);
          mu_shard_info_clear (&info);
          pthread_mutex_lock (&w->mu);
          if (j->snapshot)
            park_spare (w, j->buf, j->cap);
        }
      job_free (j);
      w->pending--;
      pthread_cond_broadcast (&w->idle);
    }
  pthread_mutex_unlock (&w->mu);
  return NULL;
}

int
mu_async_writer_new (mu_async_writer_t **out)
{
  if (!out)
    return MUSTER_EINVAL;
  mu_async_writer_t *w = calloc (1, sizeof *w);
  if (!w)
    return -ENOMEM;
  if (pthread_mutex_init (&w->mu, NULL) != 0)
    {
      free (w);
      return -ENOMEM;
    }
  if (pthread_cond_init (&w->work, NULL) != 0)
    {
      pthread_mutex_destroy (&w->mu);
      free (w);
      return -ENOMEM;
    }
  if (pthread_cond_init (&w->idle, NULL) != 0)
    {
      pthread_cond_destroy (&w->work);
      pthread_mutex_destroy (&w->mu);
      free (w);
      return -ENOMEM;
    }
  if (pthread_cond_init (&w->copied_cv, NULL) != 0)
    {
      pthread_cond_destroy (&w->idle);
      pthread_cond_destroy (&w->work);
      pthread_mutex_destroy (&w->mu);
      free (w);
      return -ENOMEM;
    }
  *out = w;
  return 0;
}

int
mu_async_writer_start (mu_async_writer_t *w)
{
  if (!w)
    return MUSTER_EINVAL;
  pthread_mutex_lock (&w->mu);
  if (w->started || w->stopping)
    {
      pthread_mutex_unlock (&w->mu);
      return MUSTER_EINVAL;
    }
  int rc = pthread_create (&w->thread, NULL, writer_main, w);
  if (rc == 0)
    w->started = true;
  pthread_mutex_unlock (&w->mu);
  return -rc;
}

/* Append a job, or fail if stopping.  A copy job gets its ticket here,
 * under the lock, and *ticket receives it: once the lock is released the
 * writer may already have finished and freed the job. */
static int
enqueue_t (mu_async_writer_t *w, job_t *j, uint64_t *ticket)
{
  pthread_mutex_lock (&w->mu);
  if (w->stopping)
    {
      pthread_mutex_unlock (&w->mu);
      return MUSTER_ECLOSED;
    }
  if (j->src)
    *ticket = j->ticket = ++w->tickets;
  if (w->tail)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
  w->pending++;
  pthread_cond_signal (&w->work);
  pthread_mutex_unlock (&w->mu);
  return 0;
}

static int
enqueue (mu_async_writer_t *w, job_t *j)
{
  return enqueue_t (w, j, NULL);
}

static job_t *
job_new (const char *dir, const char *file, mu_async_done_fn done, void *arg)
{
  job_t *j = calloc (1, sizeof *j);
  if (!j)
    return NULL;
  j->dir = strdup (dir);
  j->file = strdup (file);
  j->done = done;
  j->arg = arg;
  if (!j->dir || !j->file)
    {
      job_free (j);
      return NULL;
    }
  return j;
}

int
mu_async_writer_submit (mu_async_writer_t *w, const char *dir, const char *file,
                        void **buf_p, size_t len, mu_async_done_fn done,
                        void *arg)
{
  if (!w || !dir || !buf_p || (!*buf_p && len) || !done
      || !mu_shard_name_ok (file))
    return MUSTER_EINVAL;
  job_t *j = job_new (dir, file, done, arg);
  if (!j)
    return -ENOMEM;
  j->buf = *buf_p;
  j->len = len;
  int rc = enqueue (w, j);
  if (rc)
    {
      job_free (j);
      return rc;
    }
  *buf_p = NULL;
  return 0;
}

int
mu_async_writer_snapshot (mu_async_writer_t *w, const char *dir,
                          const char *file, const void *src, size_t len,
                          mu_async_done_fn done, void *arg)
{
  if (!w || !dir || (!src && len) || !done || !mu_shard_name_ok (file))
    return MUSTER_EINVAL;
  job_t *j = job_new (dir, file, done, arg);
  if (!j)
    return -ENOMEM;
  pthread_mutex_lock (&w->mu);
  if (w->spare && w->spare_cap >= len)
    {
      j->buf = w->spare;
      j->cap = w->spare_cap;
      w->spare = NULL;
      w->spare_cap = 0;
    }
  pthread_mutex_unlock (&w->mu);
  if (!j->buf)
    {
      j->cap = len ? len : 1;
      if (!(j->buf = malloc (j->cap)))
        {
          job_free (j);
          return -ENOMEM;
        }
    }
  if (len)
    memcpy (j->buf, src, len);
  j->len = len;
  j->snapshot = true;
  int rc = enqueue (w, j);
  if (rc)
    {
      pthread_mutex_lock (&w->mu);
      park_spare (w, j->buf, j->cap);
      pthread_mutex_unlock (&w->mu);
      job_free (j);
    }
  return rc;
}

int
mu_async_writer_snapshot_start (mu_async_writer_t *w, const char *dir,
                                const char *file, const void *src, size_t len,
                                mu_async_done_fn done, void *arg,
                                uint64_t *ticket)
{
  if (!w || !dir || !src || !done || !ticket || !mu_shard_name_ok (file))
    return MUSTER_EINVAL;
  job_t *j = job_new (dir, file, done, arg);
  if (!j)
    return -ENOMEM;
  j->src = src;
  j->len = len;
  int rc = enqueue_t (w, j, ticket);
  if (rc)
    job_free (j);
  return rc;
}

int
mu_async_writer_wait_copied (mu_async_writer_t *w, uint64_t ticket)
{
  if (!w)
    return MUSTER_EINVAL;
  pthread_mutex_lock (&w->mu);
  int rc = 0;
  if (ticket > w->tickets || (!w->started && w->copied < ticket))
    rc = MUSTER_EINVAL;
  else
    {
      while (w->copied < ticket)
        pthread_cond_wait (&w->copied_cv, &w->mu);
      if (w->err_ticket == ticket)
        rc = w->err;
    }
  pthread_mutex_unlock (&w->mu);
  return rc;
}

int
mu_async_writer_reserve (mu_async_writer_t *w, size_t len)
{
  if (!w || len == 0)
    return MUSTER_EINVAL;
  job_t *j = calloc (1, sizeof *j);
  if (!j)
    return -ENOMEM;
  j->len = len;
  int rc = enqueue (w, j);
  if (rc)
    job_free (j);
  return rc;
}

int
mu_async_writer_flush (mu_async_writer_t *w)
{
  if (!w)
    return MUSTER_EINVAL;
  pthread_mutex_lock (&w->mu);
  if (!w->started)
    {
      int rc = w->pending ? MUSTER_EINVAL : 0;
      pthread_mutex_unlock (&w->mu);
      return rc;
    }
  while (w->pending)
    pthread_cond_wait (&w->idle, &w->mu);
  pthread_mutex_unlock (&w->mu);
  return 0;
}

size_t
mu_async_writer_pending (mu_async_writer_t *w)
{
  if (!w)
    return 0;
  pthread_mutex_lock (&w->mu);
  size_t n = w->pending;
  pthread_mutex_unlock (&w->mu);
  return n;
}

void
mu_async_writer_destroy (mu_async_writer_t **w_p)
{
  if (!w_p || !*w_p)
    return;
  mu_async_writer_t *w = *w_p;
  *w_p = NULL;
  pthread_mutex_lock (&w->mu);
  w->stopping = true;
  bool started = w->started;
  pthread_cond_signal (&w->work);
  pthread_mutex_unlock (&w->mu);
  if (started)
    pthread_join (w->thread, NULL); /* drains the queue first */
  /* Never started: report what was queued as cancelled. */
  for (job_t *j = w->head, *next; j; j = next)
    {
      next = j->next;
      if (j->file)
        j->done (j->arg, MUSTER_ECANCELED, NULL, j->snapshot ? NULL : j->buf);
      if (j->snapshot)
        free (j->buf);
      job_free (j);
    }
  free (w->spare);
  pthread_cond_destroy (&w->copied_cv);
  pthread_cond_destroy (&w->idle);
  pthread_cond_destroy (&w->work);
  pthread_mutex_destroy (&w->mu);
  free (w);
}
