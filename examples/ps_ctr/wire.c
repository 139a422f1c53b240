/*
 * wire.c — sending and receiving the example's data-plane messages: a
 * header frame and up to three raw array frames, with the ROUTER's
 * routing id in front on the server side.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "wire.h"

uint64_t
ps_now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
ps_send (void *sock, const zmq_msg_t *rid, const ps_hdr_t *h,
         const void *p1, size_t l1, const void *p2, size_t l2)
{
  int more1 = p1 != NULL ? ZMQ_SNDMORE : 0;
  int more2 = p2 != NULL ? ZMQ_SNDMORE : 0;
  if (rid != NULL)
    {
      zmq_msg_t c;
      zmq_msg_init (&c);
      zmq_msg_copy (&c, (zmq_msg_t *)rid);
      if (zmq_msg_send (&c, sock, ZMQ_SNDMORE) < 0)
        {
          zmq_msg_close (&c);
          return -1;
        }
    }
  if (zmq_send (sock, h, sizeof *h, more1) < 0)
    return -1;
  if (p1 != NULL && zmq_send (sock, p1, l1, more2) < 0)
    return -1;
  if (p2 != NULL && zmq_send (sock, p2, l2, 0) < 0)
    return -1;
  return 0;
}

void
ps_in_close (ps_in_t *m)
{
  for (int i = 0; i < m->nparts; i++)
    {
      zmq_msg_close (&m->part[i]);
      free (m->aligned[i]);
    }
  if (m->has_rid)
    zmq_msg_close (&m->rid);
  memset (m, 0, sizeof *m);
}

int
ps_recv (void *sock, int with_rid, int flags, ps_in_t *m)
{
  memset (m, 0, sizeof *m);
  int more = 1, first = 1;
  while (more)
    {
      zmq_msg_t f;
      zmq_msg_init (&f);
      if (zmq_msg_recv (&f, sock, first ? flags : 0) < 0)
        {
          int e = errno;
          zmq_msg_close (&f);
          ps_in_close (m);
          errno = e;
          return -1;
        }
      more = zmq_msg_more (&f);
      if (first && with_rid)
        {
          m->rid = f;
          m->has_rid = 1;
        }
      else if (m->nparts < PS_MAX_PARTS)
        m->part[m->nparts++] = f;
      else
        zmq_msg_close (&f);
      first = 0;
    }
  if (m->nparts < 1 || zmq_msg_size (&m->part[0]) != sizeof m->h)
    {
      ps_in_close (m);
      errno = EPROTO;
      return -1;
    }
  memcpy (&m->h, zmq_msg_data (&m->part[0]), sizeof m->h);
  return 0;
}

const void *
ps_in_data (ps_in_t *m, int i, size_t want)
{
  if (i >= m->nparts || zmq_msg_size (&m->part[i]) != want)
    return NULL;
  void *p = zmq_msg_data (&m->part[i]);
  if ((uintptr_t)p % sizeof (uint64_t) == 0)
    return p;
  if (m->aligned[i] == NULL && (m->aligned[i] = malloc (want ? want : 1)))
    memcpy (m->aligned[i], p, want);
  return m->aligned[i];
}
