/*
 * checkpoint.c — checkpoint benchmark (ckpt_bench): shard write throughput
 * against dd, and the training stall of a synchronous save against an
 * asynchronous one.
 *
 * Throughput.  In one invocation, into one directory, alternating the
 * order each repetition so drift in the disk's speed hits all alike:
 *
 *   dd if=/dev/zero of=DIR/dd.bin bs=4M count=N conv=fsync   (the baseline)
 *   mu_shard_write_buf of N*4 MiB of zeros                   (tmp, CRC-32C,
 *                                                             fsync, rename,
 *                                                             fsync dir)
 *   dd if=<N*4 MiB pseudo-random bytes in /dev/shm> ... conv=fsync
 *   mu_shard_write_buf of the same pseudo-random bytes
 *   mu_shard_writer_* of them in 1 MiB appends               (streaming)
 *
 * each timed end to end on CLOCK_MONOTONIC (dd including its fork and
 * exec, a millisecond against seconds).  Zeros and random bytes are
 * compared separately because virtual disks may store zero blocks faster
 * than data (the development VM does, by a quarter), which would flatter
 * dd if=/dev/zero against real model state.  Buffers are made and touched
 * before the clock starts.  Between runs the file is removed and the
 * filesystem synced, so one run's writeback does not land in the next.
 * Every run is printed, then medians and the ratios shard / dd.
 *
 * Stall.  A "training" thread holds a state of S MiB (default 256):
 *
 *   sync   the training thread itself calls mu_shard_write_buf: it stalls
 *          for the whole write and fsync;
 *   async  it calls mu_async_writer_snapshot, which copies the state into
 *          a buffer owned by the writer thread and returns; the writer
 *          writes and fsyncs while training goes on.  The stall is the
 *          copy.  The first snapshot of a fresh writer copies into newly
 *          allocated memory and pays its page faults (shown separately);
 *          later ones reuse the writer's buffer (the steady state, and the
 *          first one too after mu_async_writer_reserve).
 *
 *   overlap  mu_async_writer_snapshot_start: the writer thread makes the
 *          copy while the training thread runs a step that only reads the
 *          state (--step-ms of compute, standing for forward and
 *          backward); it waits (mu_async_writer_wait_copied) just before
 *          the optimizer would write.  The stall is what of the copy is
 *          left by then.
 *   handover  mu_async_writer_submit of a buffer the program will not touch
 *          until the callback returns it (double buffering): no copy.
 *
 * While an async save runs the training thread spins on a compute kernel,
 * and its rate is compared with the rate when nothing is being saved: how
 * fast training goes during a save on this 2-core machine.
 *
 * A benchmark, not a test: it exits 0 whatever the figures are, non-zero
 * only if something failed (a write error, dd missing is only a note).
 * Usage: ckpt_bench [--dir DIR] [--size MiB] [--reps N] [--state MiB]
 *                   [--saves N] [--step-ms MS] [--no-throughput]
 *                   [--no-stall]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/async_writer.h"
#include "checkpoint/crc32c.h"
#include "checkpoint/shard.h"
#include "common/util.h"

extern char **environ;

#define MIB (1024.0 * 1024.0)

typedef struct opts
{
  const char *dir;
  size_t size_mib;
  int reps;
  size_t state_mib;
  int saves;
  long step_ms; /* forward+backward time the overlapped copy hides behind */
  bool throughput;
  bool stall;
} opts_t;

static double
ms_since (uint64_t t0_us)
{
  return (double)(mu_now_us () - t0_us) / 1000.0;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
median (const double *v, int n)
{
  double *c = malloc ((size_t)n * sizeof *c);
  if (!c || n == 0)
    {
      free (c);
      return 0;
    }
  memcpy (c, v, (size_t)n * sizeof *c);
  qsort (c, (size_t)n, sizeof *c, cmp_double);
  double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
  free (c);
  return m;
}

static void
fill_pattern (unsigned char *p, size_t n)
{
  uint64_t s = 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    {
      s ^= s >> 12;
      s ^= s << 25;
      s ^= s >> 27;
      uint64_t v = s * 0x2545F4914F6CDD1Dull;
      memcpy (p + i, &v, 8);
    }
  for (; i < n; i++)
    p[i] = (unsigned char)i;
}

/* Remove dir/name and let the filesystem settle before the next run. */
static void
settle (const char *dir, const char *name)
{
  char path[4200];
  snprintf (path, sizeof path, "%s/%s", dir, name);
  unlink (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0)
    {
      syncfs (fd);
      close (fd);
    }
  struct timespec ts = { 0, 300 * 1000000L };
  nanosleep (&ts, NULL);
}

static const char *
fs_name (const char *dir)
{
  struct statfs sf;
  if (statfs (dir, &sf) != 0)
    return "?";
  switch ((unsigned long)sf.f_type)
    {
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs (fsync is a no-op: figures mean little)";
    case 0x6969:
      return "nfs";
    case 0x794c7630:
      return "overlayfs";
    default:
      return "other";
    }
}

/* ------------------------------------------------------------ throughput */

/* dd if=<src> ... conv=fsync; seconds, or -1 if dd could not run. */
static double
run_dd (const char *dir, const char *src, size_t mib)
{
  char of[4200], in[4200], count[32];
  snprintf (of, sizeof of, "of=%s/dd.bin", dir);
  snprintf (in, sizeof in, "if=%s", src);
  snprintf (count, sizeof count, "count=%zu", mib / 4);
  char *argv[]
      = { "dd", in, of, "bs=4M", count, "conv=fsync", "status=none", NULL };
  uint64_t t0 = mu_now_us ();
  pid_t pid;
  if (posix_spawnp (&pid, "dd", NULL, NULL, argv, environ) != 0)
    return -1;
  int st = 0;
  if (waitpid (pid, &st, 0) != pid || !WIFEXITED (st) || WEXITSTATUS (st))
    return -1;
  return ms_since (t0) / 1000.0;
}

static double
run_buf (const char *dir, const unsigned char *buf, size_t len)
{
  mu_shard_info_t info = { 0 };
  uint64_t t0 = mu_now_us ();
  int rc = mu_shard_write_buf (dir, "shard.bin", buf, len, &info);
  double s = ms_since (t0) / 1000.0;
  mu_shard_info_clear (&info);
  if (rc)
    {
      fprintf (stderr, "ckpt_bench: mu_shard_write_buf: %s\n",
               muster_strerror (rc));
      return -1;
    }
  return s;
}

static double
run_stream (const char *dir, const unsigned char *buf, size_t len)
{
  mu_shard_info_t info = { 0 };
  mu_shard_writer_t *w = NULL;
  uint64_t t0 = mu_now_us ();
  int rc = mu_shard_writer_open (dir, "stream.bin", &w);
  for (size_t off = 0; rc == 0 && off < len; off += 1u << 20)
    rc = mu_shard_writer_append (
        w, buf + off, len - off < (1u << 20) ? len - off : (1u << 20));
  if (rc == 0)
    rc = mu_shard_writer_commit (&w, &info);
  else
    mu_shard_writer_abort (&w);
  double s = ms_since (t0) / 1000.0;
  mu_shard_info_clear (&info);
  if (rc)
    {
      fprintf (stderr, "ckpt_bench: mu_shard_writer: %s\n",
               muster_strerror (rc));
      return -1;
    }
  return s;
}

/* The runs of one repetition.  Zeros and pseudo-random bytes are kept
 * apart because a virtual disk may store zero blocks faster (this one
 * does, by about a quarter): each shard run is compared with dd writing
 * the same bytes, from /dev/zero or from a copy of the pattern in tmpfs. */
enum
{
  R_DD_ZERO,
  R_BUF_ZERO,
  R_DD_RAND,
  R_BUF_RAND,
  R_STREAM_RAND,
  R_N
};
static const char *run_name[R_N]
    = { "dd if=/dev/zero bs=4M conv=fsync", "mu_shard_write_buf, zeros",
        "dd if=<random in tmpfs> bs=4M conv=fsync",
        "mu_shard_write_buf, random", "mu_shard_writer 1 MiB appends, random" };

typedef struct tp_result
{
  double mbps[R_N]; /* medians; 0 when not run */
} tp_result_t;

/* A tmpfs copy of buf for dd to read, or NULL (no /dev/shm, no room). */
static char *
make_dd_source (const unsigned char *buf, size_t len)
{
  struct statvfs sv;
  if (statvfs ("/dev/shm", &sv) != 0
      || (double)sv.f_bavail * sv.f_frsize < 1.5 * (double)len)
    return NULL;
  char *path = strdup ("/dev/shm/ckpt_bench_src_XXXXXX");
  int fd = path ? mkstemp (path) : -1;
  if (fd < 0)
    {
      free (path);
      return NULL;
    }
  size_t off = 0;
  while (off < len)
    {
      ssize_t k = write (fd, buf + off, len - off);
      if (k <= 0)
        break;
      off += (size_t)k;
    }
  close (fd);
  if (off != len)
    {
      unlink (path);
      free (path);
      return NULL;
    }
  return path;
}

static int
throughput (const opts_t *o, tp_result_t *res)
{
  size_t len = o->size_mib << 20;
  unsigned char *rnd = malloc (len), *zero = calloc (1, len);
  double *v[R_N];
  for (int k = 0; k < R_N; k++)
    v[k] = calloc ((size_t)o->reps, sizeof (double));
  if (!rnd || !zero || !v[R_N - 1])
    {
      fprintf (stderr, "ckpt_bench: cannot allocate %zu MiB\n", o->size_mib);
      return 1;
    }
  fill_pattern (rnd, len);
  memset (zero, 0, len); /* resident, like the pattern */
  char *src = make_dd_source (rnd, len);
  bool have[R_N] = { true, true, src != NULL, true, true };
  printf ("throughput: %zu MiB per file, %d repetitions, MB/s = 10^6 B/s\n",
          o->size_mib, o->reps);
  if (!src)
    printf ("  note: no room in /dev/shm for dd's random source; that "
            "baseline is skipped\n");
  for (int r = 0; r < o->reps; r++)
    {
      printf ("  rep %d:", r + 1);
      for (int i = 0; i < R_N; i++)
        {
          int k = r % 2 ? R_N - 1 - i : i; /* alternate the order */
          if (!have[k])
            continue;
          double s = -1;
          const char *out = "shard.bin";
          switch (k)
            {
            case R_DD_ZERO:
            case R_DD_RAND:
              s = run_dd (o->dir, k == R_DD_ZERO ? "/dev/zero" : src,
                          o->size_mib);
              out = "dd.bin";
              if (s < 0)
                {
                  printf (" (dd could not run: no baseline)");
                  have[k] = false;
                }
              break;
            case R_BUF_ZERO:
              s = run_buf (o->dir, zero, len);
              break;
            case R_BUF_RAND:
              s = run_buf (o->dir, rnd, len);
              break;
            case R_STREAM_RAND:
              s = run_stream (o->dir, rnd, len);
              out = "stream.bin";
              break;
            }
          if (s < 0 && have[k])
            return 1;
          if (s > 0)
            v[k][r] = len / s / 1e6;
          settle (o->dir, out);
        }
      for (int k = 0; k < R_N; k++)
        if (have[k])
          printf (" %s %.0f",
                  k == R_DD_ZERO    ? "dd0"
                  : k == R_BUF_ZERO ? "shard0"
                  : k == R_DD_RAND  ? "ddR"
                  : k == R_BUF_RAND ? "shardR"
                                    : "streamR",
                  v[k][r]);
      printf ("\n");
    }
  printf ("  median:\n");
  for (int k = 0; k < R_N; k++)
    {
      res->mbps[k] = have[k] ? median (v[k], o->reps) : 0;
      if (!have[k])
        continue;
      printf ("    %-42s %7.1f MB/s", run_name[k], res->mbps[k]);
      int base = k == R_BUF_ZERO                           ? R_DD_ZERO
                 : (k == R_BUF_RAND || k == R_STREAM_RAND) ? R_DD_RAND
                                                           : -1;
      if (base >= 0 && have[base] && res->mbps[base] > 0)
        printf ("   ratio %.2f to dd%s", res->mbps[k] / res->mbps[base],
                k == R_BUF_ZERO ? " (target >= 0.8)" : "");
      printf ("\n");
    }
  if (src)
    {
      unlink (src);
      free (src);
    }
  for (int k = 0; k < R_N; k++)
    free (v[k]);
  free (rnd);
  free (zero);
  return 0;
}

/* ----------------------------------------------------------------- stall */

typedef struct save_done
{
  atomic_int done;
  atomic_int status;
  atomic_uint_fast64_t at_us;
} save_done_t;

static void
on_saved (void *arg, int status, const mu_shard_info_t *info, void *buf)
{
  (void)info;
  (void)buf;
  save_done_t *s = arg;
  atomic_store (&s->status, status);
  atomic_store (&s->at_us, mu_now_us ());
  atomic_store (&s->done, 1);
}

/* The "training" kernel: register-only integer work, so that what slows
 * it is the CPU the writer takes, not memory traffic of its own. */
static uint64_t
compute (uint64_t x, long n)
{
  for (long i = 0; i < n; i++)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
  return x;
}

/* Kernel iterations per ms, over ~300 ms with nothing else running. */
static double
compute_rate (uint64_t *sink)
{
  long n = 0;
  uint64_t t0 = mu_now_us ();
  while (mu_now_us () - t0 < 300000)
    {
      *sink = compute (*sink, 100000);
      n += 100000;
    }
  return n / ms_since (t0);
}

typedef struct stall_result
{
  double sync_ms, async_ms, cold_ms, reserved_ms, handover_ms, overlap_ms,
      durable_ms, speed;
} stall_result_t;

/* One async save: snapshot (timed), then compute until it is durable.
 * Returns the stall in ms; *durable_ms and *rate are filled. */
static double
async_save (mu_async_writer_t *w, const char *dir, const unsigned char *st,
            size_t len, double *durable_ms, double *rate, uint64_t *sink)
{
  save_done_t d;
  atomic_init (&d.done, 0);
  atomic_init (&d.status, 0);
  atomic_init (&d.at_us, 0);
  uint64_t t0 = mu_now_us ();
  int rc
      = mu_async_writer_snapshot (w, dir, "async.bin", st, len, on_saved, &d);
  double stall = ms_since (t0);
  if (rc)
    {
      fprintf (stderr, "ckpt_bench: snapshot: %s\n", muster_strerror (rc));
      return -1;
    }
  long n = 0;
  uint64_t c0 = mu_now_us ();
  while (!atomic_load (&d.done))
    {
      *sink = compute (*sink, 20000);
      n += 20000;
    }
  double busy = ms_since (c0);
  mu_async_writer_flush (w);
  if (atomic_load (&d.status))
    {
      fprintf (stderr, "ckpt_bench: async save: %s\n",
               muster_strerror (atomic_load (&d.status)));
      return -1;
    }
  *durable_ms = (double)(atomic_load (&d.at_us) - t0) / 1000.0;
  *rate = busy > 0 ? n / busy : 0;
  return stall;
}

static int
stall (const opts_t *o, stall_result_t *res)
{
  size_t len = o->state_mib << 20;
  unsigned char *st = malloc (len);
  if (!st)
    {
      fprintf (stderr, "ckpt_bench: cannot allocate %zu MiB\n", o->state_mib);
      return 1;
    }
  fill_pattern (st, len); /* the training state, resident */
  int n = o->saves;
  double *sync_ms = calloc ((size_t)n, sizeof (double));
  double *async_ms = calloc ((size_t)n, sizeof (double));
  double *dur_ms = calloc ((size_t)n, sizeof (double));
  double *rates = calloc ((size_t)n, sizeof (double));
  if (!sync_ms || !async_ms || !dur_ms || !rates)
    return 1;
  printf ("stall: %zu MiB state, %d saves each\n", o->state_mib, n);
  uint64_t sink = 88172645463325252ull;
  double idle_rate = compute_rate (&sink);

  for (int i = 0; i < n; i++)
    {
      st[(size_t)i * 4096 % len] ^= 1; /* training moved on */
      mu_shard_info_t info = { 0 };
      uint64_t t0 = mu_now_us ();
      int rc = mu_shard_write_buf (o->dir, "sync.bin", st, len, &info);
      sync_ms[i] = ms_since (t0);
      mu_shard_info_clear (&info);
      if (rc)
        {
          fprintf (stderr, "ckpt_bench: sync save: %s\n", muster_strerror (rc));
          return 1;
        }
      settle (o->dir, "sync.bin");
    }

  /* A fresh writer: the first snapshot is cold, the rest reuse its buffer. */
  mu_async_writer_t *w = NULL;
  if (mu_async_writer_new (&w) || mu_async_writer_start (w))
    return 1;
  double durable, rate;
  res->cold_ms = async_save (w, o->dir, st, len, &durable, &rate, &sink);
  if (res->cold_ms < 0)
    return 1;
  settle (o->dir, "async.bin");
  for (int i = 0; i < n; i++)
    {
      st[(size_t)i * 4096 % len] ^= 1;
      async_ms[i]
          = async_save (w, o->dir, st, len, &dur_ms[i], &rates[i], &sink);
      if (async_ms[i] < 0)
        return 1;
      settle (o->dir, "async.bin");
    }
  mu_async_writer_destroy (&w);

  /* A fresh writer that reserved its buffer first (at startup, off the
   * training thread's path): the first snapshot is warm too. */
  if (mu_async_writer_new (&w) || mu_async_writer_start (w)
      || mu_async_writer_reserve (w, len) || mu_async_writer_flush (w))
    return 1;
  res->reserved_ms = async_save (w, o->dir, st, len, &durable, &rate, &sink);
  settle (o->dir, "async.bin");

  /* The copy on the writer thread, overlapped with a training step that
   * only reads the state (forward and backward, step_ms of compute): the
   * stall is the start call plus whatever of the copy is left when the
   * step ends and the optimizer wants to write. */
  double *ov = calloc ((size_t)n, sizeof (double));
  if (!ov)
    return 1;
  for (int i = 0; i < n; i++)
    {
      save_done_t d;
      atomic_init (&d.done, 0);
      atomic_init (&d.status, 0);
      atomic_init (&d.at_us, 0);
      st[(size_t)i * 4096 % len] ^= 1; /* the optimizer step */
      uint64_t ticket = 0;
      uint64_t t0 = mu_now_us ();
      int rc = mu_async_writer_snapshot_start (w, o->dir, "async.bin", st, len,
                                               on_saved, &d, &ticket);
      double blocked = ms_since (t0);
      uint64_t c0 = mu_now_us ();
      while (rc == 0 && ms_since (c0) < (double)o->step_ms)
        sink = compute (sink, 20000); /* forward + backward */
      uint64_t t1 = mu_now_us ();
      if (rc == 0)
        rc = mu_async_writer_wait_copied (w, ticket);
      blocked += ms_since (t1);
      ov[i] = blocked;
      if (rc || mu_async_writer_flush (w) || atomic_load (&d.status))
        {
          fprintf (stderr, "ckpt_bench: overlapped snapshot failed\n");
          return 1;
        }
      settle (o->dir, "async.bin");
    }
  res->overlap_ms = median (ov, n);
  free (ov);

  /* No copy at all: a program that double-buffers its state hands the
   * writer the buffer it just finished (mu_async_writer_submit) and gets
   * it back in the callback. */
  double *hand = calloc ((size_t)n, sizeof (double));
  if (!hand)
    return 1;
  for (int i = 0; i < n; i++)
    {
      save_done_t d;
      atomic_init (&d.done, 0);
      atomic_init (&d.status, 0);
      atomic_init (&d.at_us, 0);
      void *buf = st;
      uint64_t t0 = mu_now_us ();
      int rc = mu_async_writer_submit (w, o->dir, "async.bin", &buf, len,
                                       on_saved, &d);
      hand[i] = ms_since (t0);
      if (rc || mu_async_writer_flush (w) || atomic_load (&d.status))
        {
          fprintf (stderr, "ckpt_bench: submit failed\n");
          return 1;
        }
      settle (o->dir, "async.bin");
    }
  res->handover_ms = median (hand, n);
  free (hand);
  mu_async_writer_destroy (&w);

  for (int i = 0; i < n; i++)
    printf ("  save %d: sync %8.1f ms   async stall %6.1f ms (durable after "
            "%7.1f ms, training at %3.0f%% speed meanwhile)\n",
            i + 1, sync_ms[i], async_ms[i], dur_ms[i],
            100.0 * rates[i] / idle_rate);
  res->sync_ms = median (sync_ms, n);
  res->async_ms = median (async_ms, n);
  res->durable_ms = median (dur_ms, n);
  res->speed = median (rates, n) / idle_rate;
  printf ("  median: sync save (write + fsync on the training thread) %8.1f "
          "ms\n",
          res->sync_ms);
  printf ("          async save, stall (snapshot copy)               %8.1f "
          "ms   %.1f%% of sync (target < 5%%)\n",
          res->async_ms, 100.0 * res->async_ms / res->sync_ms);
  printf ("          async, first snapshot of a fresh writer         %8.1f "
          "ms   %.1f%% of sync (page faults of a new buffer)\n",
          res->cold_ms, 100.0 * res->cold_ms / res->sync_ms);
  printf ("          async, first snapshot after _reserve            %8.1f "
          "ms   %.1f%% of sync\n",
          res->reserved_ms, 100.0 * res->reserved_ms / res->sync_ms);
  printf ("          async, copy overlapped with a %4ld ms step      %8.3f "
          "ms   %.3f%% of sync (snapshot_start .. wait_copied)\n",
          o->step_ms, res->overlap_ms, 100.0 * res->overlap_ms / res->sync_ms);
  printf ("          async handover without a copy (_submit)         %8.3f "
          "ms   %.3f%% of sync\n",
          res->handover_ms, 100.0 * res->handover_ms / res->sync_ms);
  printf ("          async, shard durable after                      %8.1f "
          "ms\n",
          res->durable_ms);
  printf ("          training speed while the async save runs        %7.0f%% "
          "of idle\n",
          100.0 * res->speed);
  (void)sink;
  free (sync_ms);
  free (async_ms);
  free (dur_ms);
  free (rates);
  free (st);
  return 0;
}

/* ------------------------------------------------------------------ main */

static void
usage (void)
{
  fprintf (stderr, "usage: ckpt_bench [--dir DIR] [--size MiB] [--reps N] "
                   "[--state MiB] [--saves N] [--step-ms MS] [--no-throughput] "
                   "[--no-stall]\n");
}

int
main (int argc, char **argv)
{
  opts_t o = { NULL, 1024, 3, 256, 5, 100, true, true };
  static const struct option lo[] = {
    { "dir", required_argument, NULL, 'd' },
    { "size", required_argument, NULL, 's' },
    { "reps", required_argument, NULL, 'r' },
    { "state", required_argument, NULL, 'S' },
    { "saves", required_argument, NULL, 'n' },
    { "step-ms", required_argument, NULL, 'm' },
    { "no-throughput", no_argument, NULL, 'T' },
    { "no-stall", no_argument, NULL, 'A' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  uint64_t v;
  while ((c = getopt_long (argc, argv, "d:s:r:S:n:m:h", lo, NULL)) != -1)
    switch (c)
      {
      case 'd':
        o.dir = optarg;
        break;
      case 's':
      case 'r':
      case 'S':
      case 'n':
      case 'm':
        if (mu_parse_u64 (optarg, &v) != 0 || v == 0 || v > (1u << 20))
          {
            usage ();
            return 2;
          }
        if (c == 's')
          o.size_mib = (size_t)(v < 4 ? 4 : v / 4 * 4); /* whole 4M blocks */
        else if (c == 'r')
          o.reps = (int)v;
        else if (c == 'S')
          o.state_mib = (size_t)v;
        else if (c == 'm')
          o.step_ms = (long)v;
        else
          o.saves = (int)v;
        break;
      case 'T':
        o.throughput = false;
        break;
      case 'A':
        o.stall = false;
        break;
      default:
        usage ();
        return c == 'h' ? 0 : 2;
      }

  const char *base = o.dir;
  if (!base)
    base = getenv ("TMPDIR") && *getenv ("TMPDIR") ? getenv ("TMPDIR") : "/tmp";
  char dir[4096];
  snprintf (dir, sizeof dir, "%s/ckpt_bench_XXXXXX", base);
  if (!mkdtemp (dir))
    {
      fprintf (stderr, "ckpt_bench: mkdtemp in %s: %s\n", base,
               strerror (errno));
      return 1;
    }
  o.dir = dir;

  /* Fit the sizes to the free space (two files of each at most). */
  struct statvfs sv;
  if (statvfs (dir, &sv) == 0)
    {
      double free_mib = (double)sv.f_bavail * sv.f_frsize / MIB;
      while (o.size_mib > 64 && 2.5 * o.size_mib > free_mib)
        o.size_mib /= 2;
      while (o.state_mib > 16 && 2.5 * o.state_mib > free_mib)
        o.state_mib /= 2;
    }
  long cpus = sysconf (_SC_NPROCESSORS_ONLN);
  printf ("ckpt_bench: dir %s (%s), %ld CPUs, CRC-32C in %s\n", dir,
          fs_name (dir), cpus,
          mu_crc32c_hw_available () ? "hardware (SSE4.2)" : "software");

  int rc = 0;
  tp_result_t tp = { { 0 } };
  stall_result_t sr = { 0 };
  if (o.throughput)
    rc = throughput (&o, &tp);
  if (rc == 0 && o.stall)
    rc = stall (&o, &sr);
  rmdir (dir);
  if (rc)
    return rc;
  const double *m = tp.mbps;
  printf ("RESULT size_mib=%zu dd_zero_mbps=%.1f shard_zero_mbps=%.1f "
          "ratio_zero=%.2f dd_rand_mbps=%.1f shard_rand_mbps=%.1f "
          "stream_rand_mbps=%.1f ratio_rand=%.2f state_mib=%zu sync_ms=%.1f "
          "async_stall_ms=%.1f stall_ratio=%.4f cold_stall_ms=%.1f "
          "overlap_ms=%.3f handover_ms=%.3f durable_ms=%.1f "
          "train_speed=%.2f\n",
          o.size_mib, m[R_DD_ZERO], m[R_BUF_ZERO],
          m[R_DD_ZERO] > 0 ? m[R_BUF_ZERO] / m[R_DD_ZERO] : 0.0, m[R_DD_RAND],
          m[R_BUF_RAND], m[R_STREAM_RAND],
          m[R_DD_RAND] > 0 ? m[R_BUF_RAND] / m[R_DD_RAND] : 0.0, o.state_mib,
          sr.sync_ms, sr.async_ms,
          sr.sync_ms > 0 ? sr.async_ms / sr.sync_ms : 0.0, sr.cold_ms,
          sr.overlap_ms, sr.handover_ms, sr.durable_ms, sr.speed);
  return 0;
}
