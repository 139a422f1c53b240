/*
 * standby_serve.c — the primary's side of the journal stream (standby.h):
 * a ROUTER socket on --standby-bind that admits the server's own key,
 * syncs each standby that says hello with a fresh snapshot, then streams
 * every appended record and a heartbeat; a "fence" with a higher term
 * (a standby took over while this musterd was stalled) makes it exit.
 */
#include "coordinator/standby.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/zwatch.h"
#include "coordinator/auth.h"
#include "coordinator/journal.h"

#define MAX_FOLLOWERS 8
#define FOLLOWER_SILENT_MS 5000u /* a standby that stopped acking is dropped */
#define STREAM_HWM 100000

typedef struct follower
{
  unsigned char rid[256];
  size_t rid_len;
  uint64_t seen_ms;
} follower_t;

struct mu_repl
{
  mu_coord_t *c;
  void *sock;
  mu_zwatch_t *watch;
  uv_timer_t hb;
  char ep[300];
  follower_t f[MAX_FOLLOWERS];
  size_t nf;
  uint64_t seg, seq;
  uint64_t keys_sig; /* authorized/: entries and newest mtime */
};

void
mu_stream_hdr_put (unsigned char *h, uint64_t term, uint64_t seg, uint64_t seq)
{
  uint64_t v[3] = { term, seg, seq };
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 8; i++)
      h[k * 8 + i] = (unsigned char)(v[k] >> (8 * i));
}

void
mu_stream_hdr_get (const unsigned char *h, uint64_t *term, uint64_t *seg,
                   uint64_t *seq)
{
  uint64_t v[3] = { 0, 0, 0 };
  for (int k = 0; k < 3; k++)
    for (int i = 0; i < 8; i++)
      v[k] |= (uint64_t)h[k * 8 + i] << (8 * i);
  *term = v[0];
  *seg = v[1];
  *seq = v[2];
}

/* Send one message to follower i; a follower that cannot take it (gone,
 * or its queue full) is dropped: it says hello again and is synced. */
static int
send_one (mu_repl_t *r, size_t i, const char *kind, uint64_t seq,
          const void *p, size_t len)
{
  unsigned char h[MU_STREAM_HDR];
  mu_stream_hdr_put (h, r->c->opts.term, r->seg, seq);
  follower_t *f = &r->f[i];
  if (zmq_send (r->sock, f->rid, f->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
      || zmq_send (r->sock, kind, strlen (kind), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
      || zmq_send (r->sock, h, sizeof h, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
      || zmq_send (r->sock, p, len, ZMQ_DONTWAIT) < 0)
    {
      mu_log_warn (r->c->log, "STANDBY-DROPPED",
                   "the standby cannot take the journal stream (%s); it "
                   "will be synced again when it asks",
                   zmq_strerror (errno));
      r->f[i] = r->f[--r->nf];
      return -1;
    }
  return 0;
}

static void
send_all (mu_repl_t *r, const char *kind, uint64_t seq, const void *p,
          size_t len)
{
  for (size_t i = r->nf; i-- > 0;)
    send_one (r, i, kind, seq, p, len);
}

/* The live snapshot's bytes and its segment number (0, no bytes, when the
 * journal was never compacted).  Caller frees *buf. */
static int
read_snapshot (mu_coord_t *c, uint64_t *seg, char **buf, size_t *len)
{
  char dir[4200];
  snprintf (dir, sizeof dir, "%s/journal", c->opts.state_dir);
  *seg = 0;
  *buf = NULL;
  *len = 0;
  DIR *d = opendir (dir);
  if (d == NULL)
    return -errno;
  struct dirent *e;
  int found = 0;
  while ((e = readdir (d)) != NULL)
    {
      unsigned long long s;
      char tail;
      if (sscanf (e->d_name, "snapshot-%llu%c", &s, &tail) == 1
          && (!found || s > *seg))
        {
          *seg = s;
          found = 1;
        }
    }
  closedir (d);
  if (!found)
    return 0;
  char path[4300];
  snprintf (path, sizeof path, "%s/snapshot-%llu", dir, (unsigned long long)*seg);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) != 0)
    {
      int rc = -errno;
      if (fd >= 0)
        close (fd);
      return rc;
    }
  *buf = malloc ((size_t)st.st_size + 1);
  ssize_t n = *buf ? read (fd, *buf, (size_t)st.st_size) : -1;
  close (fd);
  if (n != st.st_size)
    {
      free (*buf);
      *buf = NULL;
      return -EIO;
    }
  *len = (size_t)n;
  return 0;
}

void
mu_repl_resync (mu_coord_t *c)
{
  mu_repl_t *r = c->repl;
  if (r == NULL || r->nf == 0)
    return;
  char *buf;
  size_t len;
  uint64_t seg;
  int rc = read_snapshot (c, &seg, &buf, &len);
  if (rc != 0)
    {
      mu_log_err (c->log, "STANDBY-SYNC", "cannot read the snapshot to send: "
                  "%s", muster_strerror (rc));
      return;
    }
  r->seg = seg;
  r->seq = 0;
  send_all (r, "sync", 0, buf ? buf : "", len);
  free (buf);
}

void
mu_repl_record (mu_coord_t *c, const void *payload, size_t len)
{
  mu_repl_t *r = c->repl;
  if (r == NULL)
    return;
  r->seq++;
  send_all (r, "rec", r->seq, payload, len);
}

/* authorized/ changed (a node enrolled): send its files. */
static void
send_keys (mu_repl_t *r, int force)
{
  char dir[4200];
  snprintf (dir, sizeof dir, "%s/authorized", r->c->opts.state_dir);
  DIR *d = opendir (dir);
  if (d == NULL)
    return;
  /* Key files are written whole and renamed into place: each one added
   * changes the directory's modification time. */
  struct stat dst;
  uint64_t sig = 0;
  if (fstat (dirfd (d), &dst) == 0)
    sig = (uint64_t)dst.st_mtim.tv_sec * 1000000000u
          + (uint64_t)dst.st_mtim.tv_nsec + (uint64_t)dst.st_nlink;
  struct dirent *e;
  if (sig == r->keys_sig && !force)
    {
      closedir (d);
      return;
    }
  r->keys_sig = sig;
  while ((e = readdir (d)) != NULL)
    {
      if (e->d_name[0] == '.')
        continue;
      char path[4500], buf[4096];
      snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
      int fd = open (path, O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        continue;
      ssize_t n = read (fd, buf, sizeof buf);
      close (fd);
      if (n <= 0)
        continue;
      /* payload: name, NUL, bytes */
      size_t nl = strlen (e->d_name) + 1;
      char msg[4400];
      if (nl + (size_t)n > sizeof msg)
        continue;
      memcpy (msg, e->d_name, nl);
      memcpy (msg + nl, buf, (size_t)n);
      send_all (r, "key", r->seq, msg, nl + (size_t)n);
    }
  closedir (d);
}

void
mu_repl_keys (mu_coord_t *c)
{
  if (c->repl != NULL && c->repl->nf > 0)
    send_keys (c->repl, 0);
}

static void
on_hb (uv_timer_t *t)
{
  mu_repl_t *r = t->data;
  uint64_t now = mu_now_ms ();
  for (size_t i = r->nf; i-- > 0;)
    if (now - r->f[i].seen_ms > FOLLOWER_SILENT_MS)
      {
        mu_log_warn (r->c->log, "STANDBY-LOST",
                     "no word from the standby for %u ms", FOLLOWER_SILENT_MS);
        r->f[i] = r->f[--r->nf];
      }
  send_keys (r, 0);
  send_all (r, "hb", r->seq, "", 0);
}

void
mu_repl_step_down (mu_coord_t *c, uint64_t term, const char *told_by)
{
  /* A standby took over while this musterd was stalled: it rules now.
   * Exit without another word to any agent (a clean stop would tell them
   * their jobs are done). */
  mu_log_err (c->log, "STEP-DOWN",
              "a coordinator of term %llu took over (this one is term %llu; "
              "told by %s): exiting without acting",
              (unsigned long long)term, (unsigned long long)c->opts.term,
              told_by);
  _exit (3);
}

static int
find (mu_repl_t *r, const unsigned char *rid, size_t len)
{
  for (size_t i = 0; i < r->nf; i++)
    if (r->f[i].rid_len == len && memcmp (r->f[i].rid, rid, len) == 0)
      return (int)i;
  return -1;
}

static int
on_readable (void *sock, void *arg)
{
  mu_repl_t *r = arg;
  unsigned char rid[256], kind[16], h[MU_STREAM_HDR];
  int rl = zmq_recv (sock, rid, sizeof rid, ZMQ_DONTWAIT);
  if (rl < 0)
    return -EAGAIN;
  int more = 0;
  size_t ml = sizeof more;
  int kl = -1, hl = -1;
  zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &ml);
  if (more)
    kl = zmq_recv (sock, kind, sizeof kind - 1, 0);
  zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &ml);
  if (more)
    hl = zmq_recv (sock, h, sizeof h, 0);
  for (zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &ml); more;
       zmq_getsockopt (sock, ZMQ_RCVMORE, &more, &ml))
    {
      char junk[64];
      zmq_recv (sock, junk, sizeof junk, 0);
    }
  if (kl <= 0 || kl >= (int)sizeof kind || hl != MU_STREAM_HDR
      || (size_t)rl > sizeof rid)
    return 0;
  kind[kl] = '\0';
  uint64_t term, seg, seq;
  mu_stream_hdr_get (h, &term, &seg, &seq);
  mu_coord_t *c = r->c;
  if (strcmp ((char *)kind, "fence") == 0)
    {
      if (term > c->opts.term)
        mu_repl_step_down (c, term, "fence from the new primary");
      return 0;
    }
  int i = find (r, rid, (size_t)rl);
  if (strcmp ((char *)kind, "hello") == 0 || i < 0)
    {
      if (i < 0)
        {
          if (r->nf == MAX_FOLLOWERS)
            return 0;
          i = (int)r->nf++;
          memcpy (r->f[i].rid, rid, (size_t)rl);
          r->f[i].rid_len = (size_t)rl;
        }
      r->f[i].seen_ms = mu_now_ms ();
      mu_log_notice (c->log, "STANDBY-HELLO",
                     "a standby follows the journal (term %llu): syncing it",
                     (unsigned long long)c->opts.term);
      /* A fresh snapshot: what the standby gets is the table as it is
       * now, then every record after it. */
      mu_jhooks_compact (c);
      mu_repl_resync (c);
      send_keys (r, 1);
      return 0;
    }
  r->f[i].seen_ms = mu_now_ms (); /* "ack" */
  return 0;
}

int
mu_repl_start (mu_coord_t *c)
{
  if (c->opts.standby_bind == NULL)
    return 0;
  if (c->journal == NULL)
    {
      mu_log_err (c->log, "STANDBY-BIND", "--standby-bind needs a journal "
                  "(a state directory)");
      return MUSTER_EINVAL;
    }
  mu_repl_t *r = calloc (1, sizeof *r);
  if (r == NULL)
    return -ENOMEM;
  r->c = c;
  int rc = 0, hwm = STREAM_HWM, one = 1;
  r->sock = zmq_socket (c->zctx, ZMQ_ROUTER);
  if (r->sock == NULL)
    rc = -errno;
  if (rc == 0
      && (zmq_setsockopt (r->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0
          || zmq_setsockopt (r->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one)
                 != 0))
    rc = -errno;
  if (rc == 0)
    rc = mu_auth_secure (c->auth, r->sock, MU_AUTH_STANDBY_PORT);
  if (rc == 0 && zmq_bind (r->sock, c->opts.standby_bind) != 0)
    rc = -errno;
  size_t len = sizeof r->ep;
  if (rc == 0 && zmq_getsockopt (r->sock, ZMQ_LAST_ENDPOINT, r->ep, &len) != 0)
    rc = -errno;
  if (rc == 0)
    rc = mu_zwatch_start (c->loop, r->sock, on_readable, r, &r->watch);
  if (rc != 0)
    {
      mu_log_err (c->log, "BIND-FAILED", "standby port %s: %s",
                  c->opts.standby_bind, muster_strerror (rc));
      if (r->sock)
        zmq_close (r->sock);
      free (r);
      return rc;
    }
  uv_timer_init (c->loop, &r->hb);
  r->hb.data = r;
  uv_timer_start (&r->hb, on_hb, MU_STANDBY_HB_MS, MU_STANDBY_HB_MS);
  c->repl = r;
  mu_log_notice (c->log, "STANDBY-PORT", "journal stream for a standby at %s "
                 "(term %llu)", r->ep, (unsigned long long)c->opts.term);
  return 0;
}

static void
on_hb_closed (uv_handle_t *h)
{
  free (h->data);
}

void
mu_repl_stop (mu_coord_t *c)
{
  mu_repl_t *r = c->repl;
  if (r == NULL)
    return;
  c->repl = NULL;
  mu_zwatch_stop (&r->watch);
  int linger = 500;
  zmq_setsockopt (r->sock, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close (r->sock);
  uv_close ((uv_handle_t *)&r->hb, on_hb_closed);
}

const char *
mu_coord_standby_endpoint (const mu_coord_t *c)
{
  return c->repl ? c->repl->ep : NULL;
}
