/*
 * shard_test.c — atomic shard files.
 *
 * Correct bytes, size and CRC for each way of writing (buffer, stream,
 * adopt); name rules; verify catching missing, truncated and flipped
 * shards; and atomicity: a writer that never commits, one that aborts, one
 * whose writes fail (RLIMIT_FSIZE) and a child SIGKILLed in the middle of a
 * big shard never leave anything under the final name, and a torn .tmp
 * left behind does not stop the next write.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <muster/error.h>

#include "checkpoint/crc32c.h"
#include "checkpoint/shard.h"
#include "checkpoint/test_util.h"

static int
setup (void **state)
{
  *state = tu_mkdtemp ("shard");
  return *state ? 0 : -1;
}

static int
teardown (void **state)
{
  char *dir = *state;
  tu_rmtree (&dir);
  return 0;
}

/* The file holds exactly buf, and info says so. */
static void
expect_file (const char *dir, const char *name, const void *buf, size_t len,
             const mu_shard_info_t *info)
{
  size_t n = 0;
  unsigned char *got = tu_read (dir, name, &n);
  assert_non_null (got);
  assert_int_equal (n, len);
  assert_memory_equal (got, buf, len);
  free (got);
  assert_string_equal (info->file, name);
  assert_int_equal (info->size, len);
  assert_int_equal (info->crc32c, mu_crc32c (0, buf, len));
  char tmp[300];
  snprintf (tmp, sizeof tmp, "%s.tmp", name);
  assert_false (tu_exists (dir, tmp));
}

static void
test_write_buf (void **state)
{
  const char *dir = *state;
  size_t sizes[] = { 0, 1, 4095, 1u << 20, (20u << 20) + 17 };
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    {
      size_t len = sizes[i];
      unsigned char *buf = malloc (len ? len : 1);
      assert_non_null (buf);
      tu_fill (buf, len, i + 1);
      char name[32];
      snprintf (name, sizeof name, "rank-%zu.bin", i);
      mu_shard_info_t info = { 0 };
      info.role = NULL;
      info.rank = 77; /* caller-owned fields are left alone */
      assert_int_equal (mu_shard_write_buf (dir, name, buf, len, &info), 0);
      expect_file (dir, name, buf, len, &info);
      assert_int_equal (info.rank, 77);
      char err[200];
      assert_int_equal (mu_shard_verify (dir, &info, true, err, sizeof err), 0);
      mu_shard_info_clear (&info);
      assert_null (info.file);
      free (buf);
    }
}

static void
test_overwrite (void **state)
{
  const char *dir = *state;
  mu_shard_info_t a = { 0 }, b = { 0 };
  assert_int_equal (mu_shard_write_buf (dir, "s", "old contents", 12, &a), 0);
  assert_int_equal (mu_shard_write_buf (dir, "s", "new", 3, &b), 0);
  expect_file (dir, "s", "new", 3, &b);
  mu_shard_info_clear (&a);
  mu_shard_info_clear (&b);
}

static void
test_names (void **state)
{
  const char *dir = *state;
  char long_ok[MU_SHARD_NAME_MAX + 1], too_long[MU_SHARD_NAME_MAX + 2];
  memset (long_ok, 'a', MU_SHARD_NAME_MAX);
  long_ok[MU_SHARD_NAME_MAX] = '\0';
  memset (too_long, 'a', MU_SHARD_NAME_MAX + 1);
  too_long[MU_SHARD_NAME_MAX + 1] = '\0';
  const char *bad[] = { "",      ".",     "..",   "a/b",      "/abs",
                        "../up", "x.tmp", ".tmp", "MANIFEST", too_long };
  mu_shard_info_t info = { 0 };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    {
      assert_false (mu_shard_name_ok (bad[i]));
      assert_int_equal (mu_shard_write_buf (dir, bad[i], "x", 1, &info),
                        MUSTER_EINVAL);
      mu_shard_writer_t *w = NULL;
      assert_int_equal (mu_shard_writer_open (dir, bad[i], &w), MUSTER_EINVAL);
      assert_null (w);
    }
  assert_false (mu_shard_name_ok (NULL));
  assert_true (mu_shard_name_ok (long_ok));
  assert_true (mu_shard_name_ok ("rank-00003.pt"));
  assert_true (mu_shard_name_ok ("manifest")); /* only the exact name */
  assert_true (mu_shard_name_ok ("a.tmp.bin"));
  assert_int_equal (mu_shard_write_buf (dir, long_ok, "x", 1, &info), 0);
  mu_shard_info_clear (&info);
  /* Nothing else was created. */
  assert_false (tu_exists (dir, "x.tmp"));
  assert_false (tu_exists (dir, "MANIFEST"));
  /* The MANIFEST goes through the other entry point. */
  assert_int_equal (mu_ckpt_write_file (dir, "MANIFEST", "m", 1), 0);
  assert_int_equal (mu_ckpt_write_file (dir, "a/b", "m", 1), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_write_file (dir, "M.tmp", "m", 1), MUSTER_EINVAL);
  assert_int_equal (mu_shard_write_buf (NULL, "a", "x", 1, &info),
                    MUSTER_EINVAL);
  assert_int_equal (mu_shard_write_buf (dir, "a", NULL, 1, &info),
                    MUSTER_EINVAL);
  assert_int_equal (mu_shard_write_buf (dir, "a", "x", 1, NULL), MUSTER_EINVAL);
}

static void
test_missing_dir (void **state)
{
  const char *dir = *state;
  char *nodir = tu_join (dir, "nope");
  mu_shard_info_t info = { 0 };
  assert_int_equal (mu_shard_write_buf (nodir, "a", "x", 1, &info), -ENOENT);
  assert_null (info.file);
  mu_shard_writer_t *w = NULL;
  assert_int_equal (mu_shard_writer_open (nodir, "a", &w), -ENOENT);
  assert_null (w);
  free (nodir);
}

static void
test_stream (void **state)
{
  const char *dir = *state;
  size_t total = (12u << 20) + 12345;
  unsigned char *buf = malloc (total);
  assert_non_null (buf);
  tu_fill (buf, total, 42);
  mu_shard_writer_t *w = NULL;
  assert_int_equal (mu_shard_writer_open (dir, "stream.bin", &w), 0);
  assert_true (tu_exists (dir, "stream.bin.tmp"));
  assert_false (tu_exists (dir, "stream.bin"));
  uint64_t seed = 7;
  size_t off = 0;
  while (off < total)
    {
      /* Mostly small appends, sometimes one bigger than the buffer. */
      size_t n
          = (tu_rng (&seed) % 16 == 0) ? (5u << 20) : tu_rng (&seed) % 70000;
      if (n > total - off)
        n = total - off;
      assert_int_equal (mu_shard_writer_append (w, buf + off, n), 0);
      off += n;
      assert_int_equal (mu_shard_writer_size (w), off);
    }
  assert_int_equal (mu_shard_writer_append (w, NULL, 0), 0);
  mu_shard_info_t info = { 0 };
  assert_int_equal (mu_shard_writer_commit (&w, &info), 0);
  assert_null (w);
  expect_file (dir, "stream.bin", buf, total, &info);
  mu_shard_info_clear (&info);
  free (buf);

  /* An empty stream is a valid empty shard. */
  assert_int_equal (mu_shard_writer_open (dir, "empty", &w), 0);
  assert_int_equal (mu_shard_writer_commit (&w, &info), 0);
  expect_file (dir, "empty", "", 0, &info);
  mu_shard_info_clear (&info);

  /* Misuse. */
  assert_int_equal (mu_shard_writer_commit (&w, &info), MUSTER_EINVAL);
  assert_int_equal (mu_shard_writer_commit (NULL, &info), MUSTER_EINVAL);
  assert_int_equal (mu_shard_writer_append (NULL, "x", 1), MUSTER_EINVAL);
  assert_int_equal (mu_shard_writer_size (NULL), 0);
  mu_shard_writer_abort (NULL);
  mu_shard_writer_abort (&w);
  /* Commit without an info discards the shard. */
  assert_int_equal (mu_shard_writer_open (dir, "noinfo", &w), 0);
  assert_int_equal (mu_shard_writer_append (w, "abc", 3), 0);
  assert_int_equal (mu_shard_writer_commit (&w, NULL), MUSTER_EINVAL);
  assert_null (w);
  assert_false (tu_exists (dir, "noinfo"));
  assert_false (tu_exists (dir, "noinfo.tmp"));
}

static void
test_abort (void **state)
{
  const char *dir = *state;
  mu_shard_writer_t *w = NULL;
  assert_int_equal (mu_shard_writer_open (dir, "ab", &w), 0);
  char big[100000];
  memset (big, 1, sizeof big);
  for (int i = 0; i < 100; i++)
    assert_int_equal (mu_shard_writer_append (w, big, sizeof big), 0);
  mu_shard_writer_abort (&w);
  assert_null (w);
  assert_false (tu_exists (dir, "ab"));
  assert_false (tu_exists (dir, "ab.tmp"));
}

/* A "crash" before commit: the .tmp holds a torn prefix and the final name
 * does not exist; verifying the intended record says missing; the next
 * writer of the same shard truncates the stale .tmp and commits. */
static void
test_torn_tmp (void **state)
{
  const char *dir = *state;
  assert_int_equal (tu_write (dir, "r1.bin.tmp", "torn pref", 9), 0);
  mu_shard_info_t want = { 0 };
  want.file = "r1.bin";
  want.size = 100;
  char err[200];
  assert_int_equal (mu_shard_verify (dir, &want, true, err, sizeof err),
                    -ENOENT);
  assert_non_null (strstr (err, "r1.bin"));
  assert_non_null (strstr (err, "missing"));

  /* Same with a real writer left uncommitted (a process that died would
   * leave exactly this; here we close it by aborting afterwards). */
  mu_shard_writer_t *w = NULL;
  assert_int_equal (mu_shard_writer_open (dir, "r2.bin", &w), 0);
  assert_int_equal (mu_shard_writer_append (w, "partial", 7), 0);
  assert_false (tu_exists (dir, "r2.bin"));

  mu_shard_info_t info = { 0 };
  assert_int_equal (mu_shard_write_buf (dir, "r1.bin", "complete", 8, &info),
                    0);
  expect_file (dir, "r1.bin", "complete", 8, &info);
  mu_shard_info_clear (&info);
  mu_shard_writer_abort (&w);
  assert_false (tu_exists (dir, "r2.bin"));
}

/* Writes that fail half-way (the file-size limit stands in for a full
 * disk) return the error and leave neither name behind. */
static void
test_write_error_cleans_up (void **state)
{
  const char *dir = *state;
  struct rlimit old;
  assert_int_equal (getrlimit (RLIMIT_FSIZE, &old), 0);
  void (*prev) (int) = signal (SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 1u << 20;
  assert_int_equal (setrlimit (RLIMIT_FSIZE, &lim), 0);

  size_t len = 3u << 20;
  unsigned char *buf = calloc (1, len);
  assert_non_null (buf);
  mu_shard_info_t info = { 0 };
  int rc = mu_shard_write_buf (dir, "big", buf, len, &info);
  assert_int_equal (rc, -EFBIG);
  assert_null (info.file);
  assert_false (tu_exists (dir, "big"));
  assert_false (tu_exists (dir, "big.tmp"));

  mu_shard_writer_t *w = NULL;
  assert_int_equal (mu_shard_writer_open (dir, "big2", &w), 0);
  rc = 0;
  for (int i = 0; i < 8 && rc == 0; i++)
    rc = mu_shard_writer_append (w, buf, 1u << 20);
  assert_int_equal (rc, -EFBIG);
  /* Dead writer: the error sticks. */
  assert_int_equal (mu_shard_writer_append (w, buf, 1), -EFBIG);
  assert_int_equal (mu_shard_writer_commit (&w, &info), -EFBIG);
  assert_null (w);
  assert_false (tu_exists (dir, "big2"));
  assert_false (tu_exists (dir, "big2.tmp"));

  assert_int_equal (setrlimit (RLIMIT_FSIZE, &old), 0);
  signal (SIGXFSZ, prev);
  free (buf);
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

/* Fork a child writing a big shard, SIGKILL it once `threshold` bytes are
 * in the .tmp; returns whether the kill landed before the commit. */
static bool
kill_mid_write (const char *dir, const char *name, bool streaming, size_t total,
                long long threshold)
{
  char tmp[64];
  snprintf (tmp, sizeof tmp, "%s.tmp", name);
  pid_t pid = fork ();
  assert_true (pid >= 0);
  if (pid == 0)
    {
      unsigned char *buf = malloc (streaming ? (1u << 20) : total);
      if (!buf)
        _exit (2);
      mu_shard_info_t info = { 0 };
      if (streaming)
        {
          memset (buf, 0xab, 1u << 20);
          mu_shard_writer_t *w = NULL;
          if (mu_shard_writer_open (dir, name, &w))
            _exit (3);
          for (size_t off = 0; off < total; off += 1u << 20)
            {
              if (mu_shard_writer_append (w, buf, 1u << 20))
                _exit (4);
              sleep_ms (2); /* a slow producer: the kill lands mid-way */
            }
          _exit (mu_shard_writer_commit (&w, &info) ? 5 : 0);
        }
      memset (buf, 0xcd, total);
      _exit (mu_shard_write_buf (dir, name, buf, total, &info) ? 6 : 0);
    }
  bool early = false;
  for (int i = 0; i < 20000; i++) /* up to ~20 s */
    {
      if (tu_size (dir, tmp) >= threshold)
        {
          early = true;
          break;
        }
      if (tu_exists (dir, name))
        break; /* finished before we saw it: checked below */
      sleep_ms (1);
    }
  kill (pid, SIGKILL);
  int st = 0;
  assert_int_equal (waitpid (pid, &st, 0), pid);
  return early && WIFSIGNALED (st);
}

static void
test_sigkill_mid_write (void **state)
{
  const char *dir = *state;
  /* Streaming, slow: the kill always lands while writing. */
  size_t total = 256u << 20;
  bool mid = kill_mid_write (dir, "slow.bin", true, total, 16u << 20);
  assert_true (mid);
  assert_false (tu_exists (dir, "slow.bin"));
  long long part = tu_size (dir, "slow.bin.tmp");
  assert_true (part > 0 && part < (long long)total);

  /* From a buffer, at full speed: killed while writing or fsyncing.  If
   * the machine is so fast that it committed first, the file under the
   * final name must then be complete. */
  mid = kill_mid_write (dir, "fast.bin", false, total, 1);
  if (tu_exists (dir, "fast.bin"))
    {
      assert_int_equal (tu_size (dir, "fast.bin"), (long long)total);
      print_message ("note: the fast write committed before the kill\n");
    }
  else
    assert_true (tu_size (dir, "fast.bin.tmp") >= 0);
  (void)mid;

  /* The leftovers do not get in the way of the next attempt. */
  mu_shard_info_t info = { 0 };
  assert_int_equal (mu_shard_write_buf (dir, "slow.bin", "ok", 2, &info), 0);
  expect_file (dir, "slow.bin", "ok", 2, &info);
  mu_shard_info_clear (&info);
}

static void
test_adopt (void **state)
{
  const char *dir = *state;
  char path[512];
  assert_int_equal (mu_shard_tmp_path (dir, "own.pt", path, sizeof path), 0);
  char *want = tu_join (dir, "own.pt.tmp");
  assert_string_equal (path, want);
  free (want);
  assert_int_equal (mu_shard_tmp_path (dir, "a/b", path, sizeof path),
                    MUSTER_EINVAL);
  char small[5];
  assert_int_equal (mu_shard_tmp_path (dir, "own.pt", small, sizeof small),
                    MUSTER_ETOOBIG);

  /* The program writes the path it was given, then muster adopts it. */
  size_t len = (5u << 20) + 3;
  unsigned char *buf = malloc (len);
  tu_fill (buf, len, 9);
  FILE *f = fopen (path, "wb");
  assert_non_null (f);
  assert_int_equal (fwrite (buf, 1, len, f), len);
  fclose (f);
  mu_shard_info_t info = { 0 };
  assert_int_equal (mu_shard_adopt (dir, "own.pt", &info), 0);
  expect_file (dir, "own.pt", buf, len, &info);
  mu_shard_info_clear (&info);

  /* Adopting again (or a file written in place) checksums it in place. */
  assert_int_equal (mu_shard_adopt (dir, "own.pt", &info), 0);
  expect_file (dir, "own.pt", buf, len, &info);
  mu_shard_info_clear (&info);
  assert_int_equal (tu_write (dir, "inplace", "abc", 3), 0);
  assert_int_equal (mu_shard_adopt (dir, "inplace", &info), 0);
  expect_file (dir, "inplace", "abc", 3, &info);
  mu_shard_info_clear (&info);

  assert_int_equal (mu_shard_adopt (dir, "nothing", &info), -ENOENT);
  assert_int_equal (mu_shard_adopt (dir, "../x", &info), MUSTER_EINVAL);
  assert_null (info.file);
  free (buf);
}

static void
test_verify (void **state)
{
  const char *dir = *state;
  size_t len = 3u << 20;
  unsigned char *buf = malloc (len);
  tu_fill (buf, len, 5);
  mu_shard_info_t info = { 0 };
  assert_int_equal (mu_shard_write_buf (dir, "v.bin", buf, len, &info), 0);
  char err[256];
  assert_int_equal (mu_shard_verify (dir, &info, false, err, sizeof err), 0);
  assert_int_equal (mu_shard_verify (dir, &info, true, err, sizeof err), 0);
  assert_int_equal (mu_shard_verify (dir, &info, true, NULL, 0), 0);

  /* One flipped byte: the size still matches, the CRC does not. */
  assert_int_equal (tu_flip (dir, "v.bin", 1234567), 0);
  assert_int_equal (mu_shard_verify (dir, &info, false, err, sizeof err), 0);
  assert_int_equal (mu_shard_verify (dir, &info, true, err, sizeof err),
                    MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "v.bin"));
  assert_non_null (strstr (err, "checksum mismatch"));
  assert_int_equal (tu_flip (dir, "v.bin", 1234567), 0);
  assert_int_equal (mu_shard_verify (dir, &info, true, err, sizeof err), 0);

  /* Truncated. */
  assert_int_equal (tu_truncate (dir, "v.bin", (long long)len - 1), 0);
  assert_int_equal (mu_shard_verify (dir, &info, false, err, sizeof err),
                    MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "expected"));

  /* Not a file. */
  char *sub = tu_join (dir, "d.bin");
  assert_int_equal (mkdir (sub, 0755), 0);
  free (sub);
  mu_shard_info_t d = info;
  d.file = "d.bin";
  assert_int_equal (mu_shard_verify (dir, &d, false, err, sizeof err),
                    MUSTER_ECORRUPT);

  /* Bad names never reach the filesystem. */
  d.file = "../v.bin";
  assert_int_equal (mu_shard_verify (dir, &d, false, err, sizeof err),
                    MUSTER_EINVAL);
  assert_int_equal (mu_shard_verify (dir, NULL, false, err, sizeof err),
                    MUSTER_EINVAL);
  mu_shard_info_clear (&info);
  free (buf);
}

static void
test_info_copy (void **state)
{
  (void)state;
  mu_shard_info_t src = { 0 };
  src.role = "ps";
  src.file = "ps-1";
  src.rank = 3;
  src.role_rank = 1;
  src.size = 10;
  src.crc32c = 0xdeadbeef;
  src.bucket_first = 100;
  src.bucket_count = 50;
  mu_shard_info_t dst = { 0 };
  assert_int_equal (mu_shard_info_copy (&dst, &src), 0);
  assert_ptr_not_equal (dst.role, src.role);
  assert_string_equal (dst.role, "ps");
  assert_string_equal (dst.file, "ps-1");
  assert_int_equal (dst.bucket_count, 50);
  assert_int_equal (dst.crc32c, 0xdeadbeef);
  mu_shard_info_clear (&dst);
  assert_null (dst.file);
  mu_shard_info_clear (NULL);
  assert_int_equal (mu_shard_info_copy (NULL, &src), MUSTER_EINVAL);
}

/* A checkpoint is private whatever the umask: every file made here, shard
 * or MANIFEST-style, is mode 0600; _as hands it to the given owner. */
static void
test_private_modes (void **state)
{
  const char *dir = *state;
  mode_t old = umask (022);
  mu_shard_info_t info;
  memset (&info, 0, sizeof info); /* write_buf fills file, size, crc only */
  assert_int_equal (mu_shard_write_buf (dir, "rank-0.shard", "abc", 3, &info),
                    0);
  mu_shard_info_clear (&info);
  mu_shard_writer_t *w = NULL;
  assert_int_equal (mu_shard_writer_open (dir, "rank-1.shard", &w), 0);
  assert_int_equal (mu_shard_writer_append (w, "xyz", 3), 0);
  assert_int_equal (mu_shard_writer_commit (&w, &info), 0);
  mu_shard_info_clear (&info);
  assert_int_equal (mu_ckpt_write_file (dir, "MANIFEST", "m", 1), 0);
  umask (0);
  assert_int_equal (mu_ckpt_write_file_as (dir, "OWNED", "m", 1, getuid (),
                                           getgid ()),
                    0);
  umask (old);
  static const char *const names[]
      = { "rank-0.shard", "rank-1.shard", "MANIFEST", "OWNED" };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    {
      char *p = tu_join (dir, names[i]);
      struct stat st;
      assert_int_equal (stat (p, &st), 0);
      assert_int_equal (st.st_mode & 07777, 0600);
      assert_int_equal (st.st_uid, getuid ());
      free (p);
    }
  if (geteuid () == 0)
    {
      /* root hands the file to another owner */
      assert_int_equal (mu_ckpt_write_file_as (dir, "THEIRS", "m", 1, 4242,
                                               4343),
                        0);
      char *p = tu_join (dir, "THEIRS");
      struct stat st;
      assert_int_equal (stat (p, &st), 0);
      assert_int_equal (st.st_uid, 4242);
      assert_int_equal (st.st_gid, 4343);
      assert_int_equal (st.st_mode & 07777, 0600);
      free (p);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_write_buf, setup, teardown),
    cmocka_unit_test_setup_teardown (test_private_modes, setup, teardown),
    cmocka_unit_test_setup_teardown (test_overwrite, setup, teardown),
    cmocka_unit_test_setup_teardown (test_names, setup, teardown),
    cmocka_unit_test_setup_teardown (test_missing_dir, setup, teardown),
    cmocka_unit_test_setup_teardown (test_stream, setup, teardown),
    cmocka_unit_test_setup_teardown (test_abort, setup, teardown),
    cmocka_unit_test_setup_teardown (test_torn_tmp, setup, teardown),
    cmocka_unit_test_setup_teardown (test_write_error_cleans_up, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_sigkill_mid_write, setup, teardown),
    cmocka_unit_test_setup_teardown (test_adopt, setup, teardown),
    cmocka_unit_test_setup_teardown (test_verify, setup, teardown),
    cmocka_unit_test (test_info_copy),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
