/*
 * async_writer_test.c — the background shard writer.
 *
 * Submitted and snapshotted shards arrive on disk with the right bytes and
 * are reported in order with the right record; a snapshot is a copy (the
 * source may change at once); buffers come back to the submitter; errors
 * reach the callback; a callback may queue more work; flush waits; work
 * queued before start runs after it; destroy drains the queue, or reports
 * ECANCELED when the thread never started.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>

#include <muster/error.h>

#include "checkpoint/async_writer.h"
#include "checkpoint/crc32c.h"
#include "checkpoint/shard.h"
#include "checkpoint/test_util.h"

static int
setup (void **state)
{
  *state = tu_mkdtemp ("async");
  return *state ? 0 : -1;
}

static int
teardown (void **state)
{
  char *dir = *state;
  tu_rmtree (&dir);
  return 0;
}

typedef struct seen
{
  pthread_mutex_t mu;
  int n;
  int status[64];
  char file[64][32];
  uint64_t size[64];
  uint32_t crc[64];
  void *buf[64];
  pthread_t thread[64];
} seen_t;

static void
on_done (void *arg, int status, const mu_shard_info_t *info, void *buf)
{
  seen_t *s = arg;
  pthread_mutex_lock (&s->mu);
  int i = s->n++;
  if (i < 64)
    {
      s->status[i] = status;
      s->buf[i] = buf;
      s->thread[i] = pthread_self ();
      if (info)
        {
          snprintf (s->file[i], sizeof s->file[0], "%s", info->file);
          s->size[i] = info->size;
          s->crc[i] = info->crc32c;
        }
    }
  pthread_mutex_unlock (&s->mu);
}

static void
seen_init (seen_t *s)
{
  memset (s, 0, sizeof *s);
  pthread_mutex_init (&s->mu, NULL);
}

static void
test_submit_and_snapshot (void **state)
{
  const char *dir = *state;
  mu_async_writer_t *w = NULL;
  assert_int_equal (mu_async_writer_new (&w), 0);
  assert_int_equal (mu_async_writer_start (w), 0);
  assert_int_equal (mu_async_writer_start (w), MUSTER_EINVAL);
  seen_t s;
  seen_init (&s);

  size_t len = (6u << 20) + 5;
  unsigned char *state_buf = malloc (len);
  tu_fill (state_buf, len, 1);
  uint32_t crc1 = mu_crc32c (0, state_buf, len);
  /* Snapshot, then scribble on the source at once: the file has the
   * bytes as they were. */
  assert_int_equal (
      mu_async_writer_snapshot (w, dir, "snap-1", state_buf, len, on_done, &s),
      0);
  memset (state_buf, 0, len);
  uint32_t crc0 = mu_crc32c (0, state_buf, len);
  assert_int_equal (
      mu_async_writer_snapshot (w, dir, "snap-2", state_buf, len, on_done, &s),
      0);
  /* Hand over a buffer: ownership moves, then comes back. */
  void *mine = malloc (1000);
  memset (mine, 7, 1000);
  void *given = mine;
  assert_int_equal (
      mu_async_writer_submit (w, dir, "sub-3", &mine, 1000, on_done, &s), 0);
  assert_null (mine);
  /* Into a directory that does not exist: the error is reported. */
  char *nodir = tu_join (dir, "none");
  assert_int_equal (
      mu_async_writer_snapshot (w, nodir, "bad-4", "x", 1, on_done, &s), 0);
  free (nodir);
  assert_int_equal (mu_async_writer_flush (w), 0);
  assert_int_equal (mu_async_writer_pending (w), 0);

  assert_int_equal (s.n, 4);
  assert_int_equal (s.status[0], 0);
  assert_string_equal (s.file[0], "snap-1");
  assert_int_equal (s.size[0], len);
  assert_int_equal (s.crc[0], crc1);
  assert_null (s.buf[0]);
  assert_int_equal (s.status[1], 0);
  assert_string_equal (s.file[1], "snap-2");
  assert_int_equal (s.crc[1], crc0);
  assert_int_equal (s.status[2], 0);
  assert_ptr_equal (s.buf[2], given);
  assert_int_equal (s.status[3], -ENOENT);
  assert_false (pthread_equal (s.thread[0], pthread_self ()));
  free (given);

  size_t n = 0;
  unsigned char *got = tu_read (dir, "snap-1", &n);
  assert_int_equal (n, len);
  assert_int_equal (mu_crc32c (0, got, n), crc1);
  free (got);
  assert_int_equal (tu_size (dir, "sub-3"), 1000);
  assert_false (tu_exists (dir, "snap-1.tmp"));

  /* Refused submissions: nothing queued, the buffer stays ours. */
  void *keep = malloc (10);
  assert_int_equal (
      mu_async_writer_submit (w, dir, "../x", &keep, 10, on_done, &s),
      MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_submit (w, dir, "ok", &keep, 10, NULL, &s),
                    MUSTER_EINVAL);
  assert_non_null (keep);
  free (keep);
  assert_int_equal (
      mu_async_writer_snapshot (w, dir, "MANIFEST", "x", 1, on_done, &s),
      MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_reserve (w, 0), MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_flush (NULL), MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_pending (NULL), 0);

  mu_async_writer_destroy (&w);
  assert_null (w);
  mu_async_writer_destroy (&w);
  mu_async_writer_destroy (NULL);
  free (state_buf);
  pthread_mutex_destroy (&s.mu);
}

/* Reserve, then many snapshots of a changing state; each file holds the
 * state of its moment.  Destroy without flush drains the queue. */
static void
test_reserve_and_drain (void **state)
{
  const char *dir = *state;
  mu_async_writer_t *w = NULL;
  assert_int_equal (mu_async_writer_new (&w), 0);
  assert_int_equal (mu_async_writer_start (w), 0);
  size_t len = 1u << 20;
  assert_int_equal (mu_async_writer_reserve (w, len), 0);
  seen_t s;
  seen_init (&s);
  unsigned char *st = malloc (len);
  uint32_t crc[20];
  for (int i = 0; i < 20; i++)
    {
      tu_fill (st, len, (uint64_t)i + 100);
      crc[i] = mu_crc32c (0, st, len);
      char name[32];
      snprintf (name, sizeof name, "step-%02d", i);
      assert_int_equal (
          mu_async_writer_snapshot (w, dir, name, st, len, on_done, &s), 0);
    }
  mu_async_writer_destroy (&w); /* waits for all 20 */
  assert_int_equal (s.n, 20);
  for (int i = 0; i < 20; i++)
    {
      char name[32];
      snprintf (name, sizeof name, "step-%02d", i);
      assert_int_equal (s.status[i], 0);
      assert_string_equal (s.file[i], name); /* in submission order */
      assert_int_equal (s.crc[i], crc[i]);
      size_t n = 0;
      unsigned char *got = tu_read (dir, name, &n);
      assert_int_equal (mu_crc32c (0, got, n), crc[i]);
      free (got);
    }
  free (st);
  pthread_mutex_destroy (&s.mu);
}

/* snapshot_start: the copy is made on the writer thread; after
 * wait_copied the source may change and the file still holds the bytes of
 * the moment of the call.  Tickets grow; bad tickets are refused. */
static void
test_snapshot_start (void **state)
{
  const char *dir = *state;
  mu_async_writer_t *w = NULL;
  assert_int_equal (mu_async_writer_new (&w), 0);
  seen_t s;
  seen_init (&s);
  size_t len = 3u << 20;
  unsigned char *st = malloc (len);
  uint64_t t = 0, prev = 0;
  /* Not started: queued, but waiting would never end. */
  tu_fill (st, len, 1);
  uint32_t crc1 = mu_crc32c (0, st, len);
  assert_int_equal (
      mu_async_writer_snapshot_start (w, dir, "ov-0", st, len, on_done, &s, &t),
      0);
  assert_int_equal (t, 1);
  assert_int_equal (mu_async_writer_wait_copied (w, t), MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_start (w), 0);
  assert_int_equal (mu_async_writer_wait_copied (w, t), 0);
  prev = t;
  uint32_t crc[8];
  for (int i = 1; i <= 8; i++)
    {
      tu_fill (st, len, (uint64_t)i + 10); /* the optimizer step */
      crc[i - 1] = mu_crc32c (0, st, len);
      char name[16];
      snprintf (name, sizeof name, "ov-%d", i);
      assert_int_equal (mu_async_writer_snapshot_start (w, dir, name, st, len,
                                                        on_done, &s, &t),
                        0);
      assert_true (t > prev);
      prev = t;
      /* ... forward and backward would run here, reading st ... */
      assert_int_equal (mu_async_writer_wait_copied (w, t), 0);
      memset (st, 0xee, len); /* now it may change */
    }
  assert_int_equal (mu_async_writer_wait_copied (w, 1), 0); /* old: done */
  assert_int_equal (mu_async_writer_wait_copied (w, t + 1), MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_wait_copied (NULL, 1), MUSTER_EINVAL);
  assert_int_equal (
      mu_async_writer_snapshot_start (w, dir, "x", NULL, 1, on_done, &s, &t),
      MUSTER_EINVAL);
  assert_int_equal (
      mu_async_writer_snapshot_start (w, dir, "x", st, 1, on_done, &s, NULL),
      MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_flush (w), 0);
  assert_int_equal (s.n, 9);
  assert_int_equal (s.status[0], 0);
  assert_int_equal (s.crc[0], crc1);
  assert_null (s.buf[0]);
  for (int i = 1; i <= 8; i++)
    {
      assert_int_equal (s.status[i], 0);
      assert_int_equal (s.crc[i], crc[i - 1]);
      char name[16];
      snprintf (name, sizeof name, "ov-%d", i);
      size_t n = 0;
      unsigned char *got = tu_read (dir, name, &n);
      assert_int_equal (n, len);
      assert_int_equal (mu_crc32c (0, got, n), crc[i - 1]);
      free (got);
    }
  mu_async_writer_destroy (&w);

  /* Never started: a pending snapshot_start is reported cancelled. */
  pthread_mutex_destroy (&s.mu);
  seen_init (&s);
  assert_int_equal (mu_async_writer_new (&w), 0);
  assert_int_equal (mu_async_writer_snapshot_start (w, dir, "never", st, len,
                                                    on_done, &s, &t),
                    0);
  mu_async_writer_destroy (&w);
  assert_int_equal (s.n, 1);
  assert_int_equal (s.status[0], MUSTER_ECANCELED);
  assert_false (tu_exists (dir, "never"));
  free (st);
  pthread_mutex_destroy (&s.mu);
}

/* A callback queues the next shard (a chain of 5). */
typedef struct chain
{
  mu_async_writer_t *w;
  const char *dir;
  int left;
  int done;
  int status;
} chain_t;

static void
on_chain (void *arg, int status, const mu_shard_info_t *info, void *buf)
{
  (void)info;
  (void)buf;
  chain_t *c = arg;
  c->done++;
  if (status)
    c->status = status;
  if (--c->left > 0)
    {
      char name[32];
      snprintf (name, sizeof name, "chain-%d", c->left);
      int rc = mu_async_writer_snapshot (c->w, c->dir, name, "abc", 3, on_chain,
                                         c);
      if (rc)
        c->status = rc;
    }
}

static void
test_callback_queues_more (void **state)
{
  const char *dir = *state;
  chain_t c = { NULL, dir, 5, 0, 0 };
  assert_int_equal (mu_async_writer_new (&c.w), 0);
  assert_int_equal (mu_async_writer_start (c.w), 0);
  assert_int_equal (
      mu_async_writer_snapshot (c.w, dir, "chain-5", "abc", 3, on_chain, &c),
      0);
  /* flush returns only when the chain is done: each link is queued before
   * its parent counts as finished. */
  assert_int_equal (mu_async_writer_flush (c.w), 0);
  assert_int_equal (c.done, 5);
  assert_int_equal (c.status, 0);
  assert_true (tu_exists (dir, "chain-1"));
  mu_async_writer_destroy (&c.w);
}

static void
test_before_start (void **state)
{
  const char *dir = *state;
  seen_t s;
  seen_init (&s);
  /* Queued before start: written once started. */
  mu_async_writer_t *w = NULL;
  assert_int_equal (mu_async_writer_new (&w), 0);
  assert_int_equal (
      mu_async_writer_snapshot (w, dir, "early", "e", 1, on_done, &s), 0);
  assert_int_equal (mu_async_writer_flush (w), MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_start (w), 0);
  assert_int_equal (mu_async_writer_flush (w), 0);
  assert_int_equal (s.n, 1);
  assert_int_equal (s.status[0], 0);
  mu_async_writer_destroy (&w);

  /* Never started: destroy reports everything cancelled, returns the
   * submitted buffer, frees the snapshot's. */
  assert_int_equal (mu_async_writer_new (&w), 0);
  void *mine = malloc (16);
  void *given = mine;
  assert_int_equal (
      mu_async_writer_submit (w, dir, "a", &mine, 16, on_done, &s), 0);
  assert_int_equal (
      mu_async_writer_snapshot (w, dir, "b", "bb", 2, on_done, &s), 0);
  assert_int_equal (mu_async_writer_reserve (w, 4096), 0);
  assert_int_equal (mu_async_writer_pending (w), 3);
  mu_async_writer_destroy (&w);
  assert_int_equal (s.n, 3);
  assert_int_equal (s.status[1], MUSTER_ECANCELED);
  assert_ptr_equal (s.buf[1], given);
  assert_int_equal (s.status[2], MUSTER_ECANCELED);
  assert_null (s.buf[2]);
  free (given);
  assert_false (tu_exists (dir, "a"));
  assert_false (tu_exists (dir, "b"));
  assert_int_equal (mu_async_writer_new (NULL), MUSTER_EINVAL);
  assert_int_equal (mu_async_writer_start (NULL), MUSTER_EINVAL);
  pthread_mutex_destroy (&s.mu);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_submit_and_snapshot, setup, teardown),
    cmocka_unit_test_setup_teardown (test_reserve_and_drain, setup, teardown),
    cmocka_unit_test_setup_teardown (test_snapshot_start, setup, teardown),
    cmocka_unit_test_setup_teardown (test_callback_queues_more, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_before_start, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
