/*
 * standby_follow.c — the standby's side of the journal stream (standby.h):
 * follow the primary into STATE_DIR/journal, written in the journal's own
 * format, until the primary is silent for the lease; then take the next
 * term.  And, once serving, fence the old primary.
 *
 * Following blocks on zmq_poll: a standby does nothing else until it
 * takes over, and its libuv loop starts only then.
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

#include "common/crc32c.h"
#include "common/journal.h"
#include "common/keys.h"
#include "common/state_dir.h"
#include "common/util.h"

#define HELLO_EVERY_MS 1000u
#define WAIT_LOG_EVERY_MS 2000u
#define LEASE_POLLS 3u /* polls (20 ms each) past the lease before taking over */

typedef struct follow_io
{
  char dir[4200]; /* STATE_DIR/journal */
  int seg_fd;     /* journal-S being appended to; -1 = none */
  uint64_t records, bytes;
} follow_io_t;

static int
fsync_dir (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  int rc = fsync (fd) == 0 ? 0 : -errno;
  close (fd);
  return rc;
}

static int
write_all (int fd, const void *p, size_t len)
{
  const char *s = p;
  while (len > 0)
    {
      ssize_t n = write (fd, s, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return n < 0 ? -errno : -EIO;
      s += n;
      len -= (size_t)n;
    }
  return 0;
}

static void
header (unsigned char *h, const char *magic)
{
  memset (h, 0, MU_JOURNAL_HEADER_SIZE);
  memcpy (h, magic, 8);
  uint32_t v = MU_JOURNAL_FORMAT_VERSION;
  for (int i = 0; i < 4; i++)
    h[8 + i] = (unsigned char)(v >> (8 * i));
}

/* A sync: replace the journal directory's pair with this snapshot (bytes
 * as the primary wrote them; none for segment 0) and an empty segment. */
static int
apply_sync (follow_io_t *io, uint64_t seg, const void *snap, size_t len)
{
  if (io->seg_fd >= 0)
    close (io->seg_fd);
  io->seg_fd = -1;
  int rc = mu_mkdir_p (io->dir, 0700);
  if (rc != 0)
    return rc;
  DIR *d = opendir (io->dir);
  if (d == NULL)
    return -errno;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    if (strncmp (e->d_name, "snapshot-", 9) == 0
        || strncmp (e->d_name, "journal-", 8) == 0)
      {
        char p[4500];
        snprintf (p, sizeof p, "%s/%s", io->dir, e->d_name);
        unlink (p);
      }
  closedir (d);
  char path[4500];
  if (seg > 0)
    {
      snprintf (path, sizeof path, "%s/snapshot-%llu", io->dir,
                (unsigned long long)seg);
      rc = mu_write_file_atomic (path, snap, len, 0600);
      if (rc != 0)
        return rc;
    }
  snprintf (path, sizeof path, "%s/journal-%llu", io->dir,
            (unsigned long long)seg);
  io->seg_fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (io->seg_fd < 0)
    return -errno;
  unsigned char h[MU_JOURNAL_HEADER_SIZE];
  header (h, "MUSTERJL");
  rc = write_all (io->seg_fd, h, sizeof h);
  if (rc == 0 && fdatasync (io->seg_fd) != 0)
    rc = -errno;
  if (rc == 0)
    rc = fsync_dir (io->dir);
  io->records = 0;
  io->bytes = len;
  return rc;
}

static int
apply_rec (follow_io_t *io, const void *p, size_t len)
{
  if (io->seg_fd < 0 || len == 0 || len > MU_JOURNAL_MAX_RECORD)
    return MUSTER_EINVAL;
  unsigned char h[MU_JOURNAL_RECORD_HEADER];
  uint32_t l = (uint32_t)len, crc = mu_crc32c (0, p, len);
  for (int i = 0; i < 4; i++)
    {
      h[i] = (unsigned char)(l >> (8 * i));
      h[4 + i] = (unsigned char)(crc >> (8 * i));
    }
  int rc = write_all (io->seg_fd, h, sizeof h);
  if (rc == 0)
    rc = write_all (io->seg_fd, p, len);
  if (rc == 0 && fdatasync (io->seg_fd) != 0)
    rc = -errno;
  io->records++;
  io->bytes += len;
  return rc;
}

/* A node key file of the primary's authorized/ (name NUL bytes). */
static void
apply_key (const char *state_dir, const char *p, size_t len)
{
  const char *nul = memchr (p, '\0', len);
  if (nul == NULL || nul == p || strchr (p, '/') != NULL || p[0] == '.')
    return;
  char path[4500];
  snprintf (path, sizeof path, "%s/authorized", state_dir);
  mu_mkdir_p (path, 0700);
  snprintf (path, sizeof path, "%s/authorized/%s", state_dir, p);
  mu_write_file_atomic (path, nul + 1, len - (size_t)(nul + 1 - p), 0644);
}

/* The key pair copied from the primary: STATE_DIR/server.key(_secret). */
static int
open_socket (void *ctx, const mu_standby_opts_t *o, void **out, char *err,
             size_t errlen)
{
  void *s = zmq_socket (ctx, ZMQ_DEALER);
  if (s == NULL)
    return -errno;
  int zero = 0, ivl = 20, ivl_max = 200, hwm = 1000000;
  zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero);
  zmq_setsockopt (s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
  zmq_setsockopt (s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
  zmq_setsockopt (s, ZMQ_RCVHWM, &hwm, sizeof hwm);
  if (!o->insecure)
    {
      char path[4200];
      snprintf (path, sizeof path, "%s/server.key", o->state_dir);
      mu_cert_t cert;
      char why[512] = "";
      int rc = mu_cert_load (path, 1, &cert, why, sizeof why);
      if (rc != 0)
        {
          snprintf (err, errlen, "no server key pair at %s%s%s: copy the "
                    "primary's server.key and server.key_secret (and "
                    "authorized/) into the standby's state directory",
                    path, why[0] ? ": " : "", why);
          zmq_close (s);
          return rc;
        }
      if (zmq_setsockopt (s, ZMQ_CURVE_SERVERKEY, cert.kp.pub, MU_KEY_Z85_LEN) != 0
          || zmq_setsockopt (s, ZMQ_CURVE_PUBLICKEY, cert.kp.pub, MU_KEY_Z85_LEN) != 0
          || zmq_setsockopt (s, ZMQ_CURVE_SECRETKEY, cert.kp.sec, MU_KEY_Z85_LEN) != 0)
        {
          int rc2 = -errno;
          memset (&cert, 0, sizeof cert);
          zmq_close (s);
          return rc2;
        }
      memset (&cert, 0, sizeof cert);
    }
  if (zmq_connect (s, o->primary) != 0)
    {
      int rc = -errno;
      snprintf (err, errlen, "--standby-of %s: %s", o->primary,
                zmq_strerror (-rc));
      zmq_close (s);
      return rc;
    }
  *out = s;
  return 0;
}

/* Sent again every HELLO_EVERY_MS: a hello or ack that could not go is
 * the next one's to carry (the primary drops a standby silent for
 * FOLLOWER_SILENT_MS, and it syncs again). */
static void
say (void *s, const char *kind, uint64_t term, uint64_t seg, uint64_t seq)
{
  unsigned char h[MU_STREAM_HDR];
  mu_stream_hdr_put (h, term, seg, seq);
  zmq_send (s, kind, strlen (kind), ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send (s, h, sizeof h, ZMQ_DONTWAIT);
}

int
mu_standby_follow (const mu_standby_opts_t *o, uint64_t *term_out, char *err,
                   size_t errlen)
{
  uint64_t lease = o->lease_ms ? o->lease_ms : MU_STANDBY_LEASE_MS;
  uint64_t own = 0;
  int rc = mu_term_load (o->state_dir, &own, err, errlen);
  if (rc != 0)
    return rc;
  follow_io_t io;
  memset (&io, 0, sizeof io);
  io.seg_fd = -1;
  snprintf (io.dir, sizeof io.dir, "%s/journal", o->state_dir);
  void *ctx = zmq_ctx_new ();
  void *s = NULL;
  if (ctx == NULL)
    return -errno;
  rc = open_socket (ctx, o, &s, err, errlen);
  if (rc != 0)
    {
      zmq_ctx_term (ctx);
      return rc;
    }
  mu_log_notice (o->log, "STANDBY", "following the primary at %s (lease "
                 "%llu ms)", o->primary, (unsigned long long)lease);
  mu_follow_t f;
  memset (&f, 0, sizeof f);
  int ever_synced = 0;
  uint64_t now = mu_now_ms (), heard = 0, hello_ms = 0, wait_log = now;
  uint64_t started = now;
  unsigned over = 0; /* polls in a row past the lease */
  zmq_msg_t part[3];
  for (;;)
    {
      now = mu_now_ms ();
      if (!f.synced && now - hello_ms >= HELLO_EVERY_MS)
        {
          say (s, "hello", f.term, f.seg, 0);
          hello_ms = now;
        }
      /* The lease is judged only after a few polls have found nothing:
       * a standby that was itself stalled (SIGSTOP, swapped out) first
       * reads the heartbeats that queued while it slept, instead of
       * taking over from a primary that never stopped talking. */
      if (ever_synced && now - heard > lease)
        {
          if (++over >= LEASE_POLLS)
            break;
        }
      else
        over = 0;
      if (!ever_synced && now - wait_log >= WAIT_LOG_EVERY_MS)
        {
          mu_log_warn (o->log, "STANDBY-WAIT",
                       "no journal from the primary at %s after %.1f s: is "
                       "it running with --standby-bind there, and does this "
                       "state directory hold its server key? Not taking over "
                       "without its journal",
                       o->primary, (double)(now - started) / 1000.0);
          wait_log = now;
        }
      zmq_pollitem_t pi = { s, 0, ZMQ_POLLIN, 0 };
      int pr = zmq_poll (&pi, 1, 20);
      if (pr < 0 && zmq_errno () != EINTR)
        {
          rc = -zmq_errno ();
          break;
        }
      while (zmq_poll (&pi, 1, 0) > 0)
        {
          int n = 0, more = 1;
          size_t ml = sizeof more;
          while (more && n < 3)
            {
              zmq_msg_init (&part[n]);
              if (zmq_msg_recv (&part[n], s, 0) < 0)
                break;
              n++;
              zmq_getsockopt (s, ZMQ_RCVMORE, &more, &ml);
            }
          while (more)
            {
              zmq_msg_t junk;
              zmq_msg_init (&junk);
              zmq_msg_recv (&junk, s, 0);
              zmq_getsockopt (s, ZMQ_RCVMORE, &more, &ml);
              zmq_msg_close (&junk);
            }
          if (n == 3 && zmq_msg_size (&part[1]) == MU_STREAM_HDR)
            {
              char kind[8] = "";
              size_t kl = zmq_msg_size (&part[0]);
              if (kl < sizeof kind)
                memcpy (kind, zmq_msg_data (&part[0]), kl);
              uint64_t term, seg, seq;
              mu_stream_hdr_get (zmq_msg_data (&part[1]), &term, &seg, &seq);
              const void *p = zmq_msg_data (&part[2]);
              size_t plen = zmq_msg_size (&part[2]);
              heard = mu_now_ms ();
              mu_stream_kind_t k = strcmp (kind, "sync") == 0  ? MU_STREAM_SYNC
                                   : strcmp (kind, "rec") == 0 ? MU_STREAM_REC
                                                               : MU_STREAM_HB;
              if (strcmp (kind, "key") == 0)
                apply_key (o->state_dir, p, plen);
              else
                {
                  mu_follow_decision_t d = mu_follow_on (&f, k, term, seg, seq);
                  int wrc = 0;
                  if (d == MU_FOLLOW_APPLY && k == MU_STREAM_SYNC)
                    {
                      wrc = apply_sync (&io, seg, p, plen);
                      if (wrc == 0 && !ever_synced)
                        mu_log_notice (o->log, "STANDBY-SYNCED",
                                       "following the primary at %s: term "
                                       "%llu, snapshot %llu (%zu bytes)",
                                       o->primary, (unsigned long long)term,
                                       (unsigned long long)seg, plen);
                      if (wrc == 0)
                        ever_synced = 1;
                    }
                  else if (d == MU_FOLLOW_APPLY)
                    wrc = apply_rec (&io, p, plen);
                  else if (d == MU_FOLLOW_RESYNC)
                    hello_ms = 0;
                  if (k == MU_STREAM_HB && f.synced)
                    say (s, "ack", f.term, f.seg, f.next - 1);
                  if (wrc != 0)
                    {
                      mu_log_err (o->log, "STANDBY-WRITE", "%s: %s; asking "
                                  "for a new sync", io.dir,
                                  muster_strerror (wrc));
                      f.synced = 0;
                      hello_ms = 0;
                    }
                }
            }
          for (int i = 0; i < n; i++)
            zmq_msg_close (&part[i]);
        }
    }
  if (io.seg_fd >= 0)
    close (io.seg_fd);
  zmq_close (s);
  zmq_ctx_term (ctx);
  if (rc != 0)
    return rc;
  uint64_t term = (f.term > own ? f.term : own) + 1;
  rc = mu_term_store (o->state_dir, term);
  if (rc != 0)
    {
      snprintf (err, errlen, "cannot store the new term in %s/term: %s",
                o->state_dir, muster_strerror (rc));
      return rc;
    }
  mu_log_warn (o->log, "TAKEOVER",
               "no word from the primary at %s for %llu ms: taking over as "
               "term %llu (%llu record(s) since snapshot %llu)",
               o->primary, (unsigned long long)(mu_now_ms () - heard),
               (unsigned long long)term, (unsigned long long)io.records,
               (unsigned long long)f.seg);
  *term_out = term;
  return 0;
}

/* ------------------------------------------------------------ fencing */

struct mu_fence
{
  void *ctx, *sock;
  uv_timer_t t;
  uint64_t term;
};

static void
on_fence (uv_timer_t *t)
{
  mu_fence_t *f = t->data;
  say (f->sock, "fence", f->term, 0, 0);
}

int
mu_fence_start (uv_loop_t *loop, const mu_standby_opts_t *o, uint64_t term,
                mu_fence_t **out)
{
  mu_fence_t *f = calloc (1, sizeof *f);
  if (f == NULL)
    return -ENOMEM;
  char err[600];
  f->ctx = zmq_ctx_new ();
  int rc = f->ctx ? open_socket (f->ctx, o, &f->sock, err, sizeof err) : -errno;
  if (rc != 0)
    {
      if (f->ctx)
        zmq_ctx_term (f->ctx);
      free (f);
      return rc;
    }
  f->term = term;
  uv_timer_init (loop, &f->t);
  f->t.data = f;
  uv_timer_start (&f->t, on_fence, 0, MU_STANDBY_FENCE_MS);
  *out = f;
  return 0;
}

static void
on_fence_closed (uv_handle_t *h)
{
  mu_fence_t *f = h->data;
  zmq_close (f->sock);
  zmq_ctx_term (f->ctx);
  free (f);
}

void
mu_fence_stop (mu_fence_t **f_p)
{
  if (f_p == NULL || *f_p == NULL)
    return;
  uv_close ((uv_handle_t *)&(*f_p)->t, on_fence_closed);
  *f_p = NULL;
}
