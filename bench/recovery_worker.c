/*
 * recovery_worker.c — the C worker of bench/recovery.py.
 *
 * The first thing main() does is read CLOCK_REALTIME (the clock Python's
 * time.time() reads, so the C worker, the Python worker and the benchmark
 * script share one clock).  It then writes that instant, in microseconds
 * since the epoch, to
 *
 *     $BENCH_DIR/start.<epoch>.<rank>
 *
 * (followed by $MUSTER_AGENT_ENDPOINT, or "-", on the same line)
 * where <epoch> is $MUSTER_EPOCH, else $TORCHELASTIC_RESTART_COUNT + 1, else
 * 1, and <rank> is $RANK.  What happens next (all from the environment):
 *
 *   BENCH_CRASH_RANK  rank that crashes (default 1; -1: nobody crashes)
 *   BENCH_CRASH_MS    once every rank of the epoch has written its start
 *                     file, the crashing rank waits this long (default 300),
 *                     writes "<us> <epoch> <rank>" to $BENCH_DIR/crash and
 *                     SIGKILLs itself.  The crash file is created with
 *                     O_EXCL, so exactly one crash happens per run, in the
 *                     first attempt: a restarted worker finds it present.
 *   BENCH_RUN_MS      how long a worker of the first attempt lives before it
 *                     exits 0 (default 2000; a crash ends it sooner).
 *   BENCH_AFTER_MS    how long a worker lives when it starts after the crash
 *                     (restarted, or a replacement; default 100), and, in
 *                     in-place mode, how long a survivor lives after it saw
 *                     the new membership.  A worker that finds
 *                     $BENCH_DIR/crash or $BENCH_DIR/lost (made by the
 *                     benchmark before it kills an agent) counts as started
 *                     after the failure.
 *   BENCH_INPLACE     1: in-place mode.  The worker attaches libmuster
 *                     (muster_worker_init), registers a membership callback
 *                     and also polls muster_worker_membership_changed() every
 *                     1 ms in its loop; on the first change it writes
 *                     "<callback_us> <poll_us> <epoch> <rank> <world>" to
 *                     $BENCH_DIR/member.<rank> (rank = the rank at start).
 *
 * Built twice from this file: recovery_worker links libmuster (in-place
 * mode needs it, and `muster run --elastic-mode in-place` refuses an ELF
 * program without it), recovery_worker_bare with -DRECOVERY_NO_LIBMUSTER
 * links only libc.  Loading libmuster pulls in libzmq and its dependency
 * chain (libstdc++, libsodium, libpgm, libnorm, GSSAPI/Kerberos): on the
 * 2-core benchmark machine, idle, exec to main() takes about 4 ms instead of
 * 0.6 ms, and four such workers started together run 6 ms later than bare
 * ones (more under load).  The bare build lets restart mode be timed
 * without that cost.
 *
 * Exits 0 normally, 2 on a setup error (missing environment, unwritable
 * file, libmuster init failure, in-place mode in the bare build): the
 * benchmark then reports the run as broken.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef RECOVERY_NO_LIBMUSTER
#include <muster/worker.h>
#endif

static long long
now_us (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
    ;
}

static long
env_long (const char *name, long dflt)
{
  const char *s = getenv (name);
  if (s == NULL || *s == '\0')
    return dflt;
  return strtol (s, NULL, 10);
}

static const char *dir;

static int
write_file (const char *name, const char *text)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", dir, name);
  /* Write to a temporary name and rename, so a reader never sees a
   * partly written file. */
  char tmp[4200];
  snprintf (tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid ());
  FILE *f = fopen (tmp, "w");
  if (f == NULL)
    {
      perror (tmp);
      return -1;
    }
  fputs (text, f);
  if (fclose (f) != 0 || rename (tmp, path) != 0)
    {
      perror (path);
      return -1;
    }
  return 0;
}

static int
file_exists (const char *name)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/%s", dir, name);
  return access (path, F_OK) == 0;
}

/* ------------------------------------------------------ in-place mode */
#ifndef RECOVERY_NO_LIBMUSTER
static muster_worker_t *w;
static _Atomic long long cb_us; /* first callback's instant */

/* Runs on libmuster's thread right after the new epoch is in effect: it
 * only records the instant. */
static void
on_membership (muster_worker_t *h, const muster_membership_t *m, void *arg)
{
  (void)h;
  (void)m;
  (void)arg;
  long long expected = 0;
  atomic_compare_exchange_strong (&cb_us, &expected, now_us ());
}

static int
inplace_attach (void)
{
  int rc = muster_worker_init (&w, NULL);
  if (rc != 0)
    {
      fprintf (stderr, "recovery_worker: muster_worker_init: %s\n",
               muster_strerror (rc));
      return -1;
    }
  muster_worker_on_membership (w, on_membership, NULL);
  muster_membership_t m;
  (void)muster_worker_membership_changed (w, &m); /* nothing yet */
  return 0;
}

/* One poll of the training loop: 1 and *seen_us set on the first change. */
static int
inplace_poll (long rank, long long *seen_us)
{
  muster_membership_t m;
  if (muster_worker_membership_changed (w, &m) != 1)
    return 0;
  long long poll_us = now_us ();
  long long cb = atomic_load (&cb_us);
  char name[64], text[256];
  snprintf (name, sizeof name, "member.%ld", rank);
  snprintf (text, sizeof text, "%lld %lld %llu %d %d\n", cb ? cb : poll_us,
            poll_us, (unsigned long long)m.epoch, m.rank, m.world);
  if (write_file (name, text) != 0)
    return -1;
  *seen_us = poll_us;
  return 1;
}

static void
inplace_detach (void)
{
  muster_worker_finalize (&w);
}
#else
/* recovery_worker_bare: the same program without libmuster (libc only), so
 * restart mode can be timed without the cost of loading libmuster and
 * libzmq's dependencies at every start. */
static int
inplace_attach (void)
{
  fprintf (stderr, "recovery_worker: built without libmuster, no in-place "
                   "mode\n");
  return -1;
}

static int
inplace_poll (long rank, long long *seen_us)
{
  (void)rank;
  (void)seen_us;
  return 0;
}

static void
inplace_detach (void)
{
}
#endif

/* Crash: create the crash file exclusively, record the instant, die. */
static void
crash (long epoch, long rank)
{
  char path[4096];
  snprintf (path, sizeof path, "%s/crash", dir);
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd < 0)
    return; /* someone crashed already (this is not the first attempt) */
  char line[128];
  long long t = now_us ();
  int n = snprintf (line, sizeof line, "%lld %ld %ld\n", t, epoch, rank);
  if (write (fd, line, (size_t)n) != n)
    perror (path);
  close (fd);
  kill (getpid (), SIGKILL);
  for (;;)
    pause ();
}

int
main (void)
{
  long long t0 = now_us ();

  dir = getenv ("BENCH_DIR");
  const char *rank_s = getenv ("RANK");
  if (dir == NULL || rank_s == NULL)
    {
      fprintf (stderr, "recovery_worker: BENCH_DIR and RANK must be set\n");
      return 2;
    }
  long rank = strtol (rank_s, NULL, 10);
  long world = env_long ("WORLD_SIZE", 1);
  long epoch = env_long ("MUSTER_EPOCH", -1);
  if (epoch < 0)
    epoch = env_long ("TORCHELASTIC_RESTART_COUNT", 0) + 1;

  char name[256], text[256];
  snprintf (name, sizeof name, "start.%ld.%ld", epoch, rank);
  /* Second token: the agent's endpoint (lets the benchmark remove the run
   * directory of an agent it SIGKILLed, which cannot clean up itself). */
  const char *agent_ep = getenv ("MUSTER_AGENT_ENDPOINT");
  snprintf (text, sizeof text, "%lld %s\n", t0,
            agent_ep && *agent_ep ? agent_ep : "-");
  if (write_file (name, text) != 0)
    return 2;

  long crash_rank = env_long ("BENCH_CRASH_RANK", 1);
  long crash_ms = env_long ("BENCH_CRASH_MS", 300);
  long run_ms = env_long ("BENCH_RUN_MS", 2000);
  long after_ms = env_long ("BENCH_AFTER_MS", 100);
  int inplace = env_long ("BENCH_INPLACE", 0) != 0;
  /* Started after the crash: a restarted worker or a replacement. */
  int late = file_exists ("crash") || file_exists ("lost");

  if (inplace && inplace_attach () != 0)
    return 2;

  long long crash_at = -1; /* when the crashing rank crashes */
  if (!late && rank == crash_rank)
    {
      /* Wait (1 ms polls, at most 30 s) until every rank of this epoch
       * runs, so the crash interrupts a running gang. */
      long long limit = now_us () + 30000000LL;
      long r = 0;
      while (r < world && now_us () < limit)
        {
          snprintf (name, sizeof name, "start.%ld.%ld", epoch, r);
          if (file_exists (name))
            r++;
          else
            sleep_ms (1);
        }
      crash_at = now_us () + crash_ms * 1000LL;
    }

  long long end = t0 + (late ? after_ms : run_ms) * 1000LL;
  long long seen_us = 0; /* in-place: when the change was seen */
  for (;;)
    {
      long long t = now_us ();
      if (crash_at >= 0 && t >= crash_at)
        crash (epoch, rank);
      if (inplace && seen_us == 0)
        {
          int rc = inplace_poll (rank, &seen_us);
          if (rc < 0)
            return 2;
          if (rc == 1)
            end = seen_us + after_ms * 1000LL;
        }
      if (t >= end)
        break;
      if (!inplace && crash_at < 0)
        {
          sleep_ms ((long)((end - t) / 1000) + 1);
          continue;
        }
      sleep_ms (1);
    }
  if (inplace)
    inplace_detach ();
  return 0;
}
