/*
 * manifest_format_test.c — the MANIFEST's on-disk format version.
 *
 * A MANIFEST's "v" is its own format version (MU_MANIFEST_FORMAT), not the
 * wire protocol's.  These tests pin the bytes a MANIFEST written before the
 * two were separated (a real file, written by the muster of commit
 * 9b052a8, step 5 of job-1 with one 3-byte shard) and check that they stay
 * readable; that what is written now carries MU_MANIFEST_FORMAT; and that
 * a MANIFEST of a newer format is refused with MUSTER_EVERSION and an error
 * naming the file and its version, and reported by the scan as
 * "newer-format" with the same words (never skipped without a word).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/manifest.h"
#include "checkpoint/shard.h"
#include "checkpoint/test_util.h"

#define JOB "job-1"

/* The MANIFEST of job-1 step 5 as muster wrote it before this test: the
 * msgpack map {"v": 1, "t": "ckpt.manifest", job, step 5, epoch 2,
 * world 1, created_us, nbuckets 0, roles [worker 1 1], shards [rank 0,
 * "rank-00000.bin", 3 bytes, CRC-32C 0xf130f21e]}. */
static const unsigned char old_manifest[] = {
  0x8a, 0xa1, 0x76, 0x01, 0xa1, 0x74, 0xad, 0x63, 0x6b, 0x70, 0x74, 0x2e,
  0x6d, 0x61, 0x6e, 0x69, 0x66, 0x65, 0x73, 0x74, 0xa3, 0x6a, 0x6f, 0x62,
  0xa5, 0x6a, 0x6f, 0x62, 0x2d, 0x31, 0xa4, 0x73, 0x74, 0x65, 0x70, 0x05,
  0xa5, 0x65, 0x70, 0x6f, 0x63, 0x68, 0x02, 0xa5, 0x77, 0x6f, 0x72, 0x6c,
  0x64, 0x01, 0xaa, 0x63, 0x72, 0x65, 0x61, 0x74, 0x65, 0x64, 0x5f, 0x75,
  0x73, 0xcf, 0x00, 0x06, 0x0a, 0x24, 0x18, 0x1e, 0x40, 0x00, 0xa8, 0x6e,
  0x62, 0x75, 0x63, 0x6b, 0x65, 0x74, 0x73, 0x00, 0xa5, 0x72, 0x6f, 0x6c,
  0x65, 0x73, 0x91, 0x83, 0xa4, 0x6e, 0x61, 0x6d, 0x65, 0xa6, 0x77, 0x6f,
  0x72, 0x6b, 0x65, 0x72, 0xa5, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x01, 0xa5,
  0x6e, 0x6f, 0x64, 0x65, 0x73, 0x01, 0xa6, 0x73, 0x68, 0x61, 0x72, 0x64,
  0x73, 0x91, 0x88, 0xa4, 0x72, 0x6f, 0x6c, 0x65, 0xa6, 0x77, 0x6f, 0x72,
  0x6b, 0x65, 0x72, 0xa9, 0x72, 0x6f, 0x6c, 0x65, 0x5f, 0x72, 0x61, 0x6e,
  0x6b, 0x00, 0xa4, 0x72, 0x61, 0x6e, 0x6b, 0x00, 0xa4, 0x66, 0x69, 0x6c,
  0x65, 0xae, 0x72, 0x61, 0x6e, 0x6b, 0x2d, 0x30, 0x30, 0x30, 0x30, 0x30,
  0x2e, 0x62, 0x69, 0x6e, 0xa4, 0x73, 0x69, 0x7a, 0x65, 0x03, 0xa6, 0x63,
  0x72, 0x63, 0x33, 0x32, 0x63, 0xce, 0xf1, 0x30, 0xf2, 0x1e, 0xac, 0x62,
  0x75, 0x63, 0x6b, 0x65, 0x74, 0x5f, 0x66, 0x69, 0x72, 0x73, 0x74, 0x00,
  0xac, 0x62, 0x75, 0x63, 0x6b, 0x65, 0x74, 0x5f, 0x63, 0x6f, 0x75, 0x6e,
  0x74, 0x00
};
static const unsigned char old_shard[] = { 1, 2, 3 };
#define V_OFFSET 3 /* the byte holding "v" (0x8a, 0xa1 'v', then it) */

static int
setup (void **state)
{
  *state = tu_mkdtemp ("mformat");
  return *state ? 0 : -1;
}

static int
teardown (void **state)
{
  char *dir = *state;
  tu_rmtree (&dir);
  return 0;
}

/* root/JOB/step-<step> with the old shard and `manifest` as MANIFEST. */
static void
put_step (const char *root, uint64_t step, const unsigned char *manifest,
          size_t len, char *dir, size_t size)
{
  assert_int_equal (mu_ckpt_step_dir (root, JOB, step, dir, size), 0);
  assert_int_equal (mu_ckpt_mkdir_p (dir), 0);
  tu_write (dir, "rank-00000.bin", old_shard, sizeof old_shard);
  tu_write (dir, MU_CKPT_MANIFEST_FILE, manifest, len);
}

static void
test_old_manifest_reads (void **state)
{
  char dir[4096];
  put_step (*state, 5, old_manifest, sizeof old_manifest, dir, sizeof dir);
  mu_msg_t m;
  char err[512];
  assert_int_equal (mu_manifest_read (dir, &m, err, sizeof err), 0);
  const mu_ckpt_manifest_t *cm = &m.u.ckpt_manifest;
  assert_string_equal (cm->job, JOB);
  assert_int_equal (cm->step, 5);
  assert_int_equal (cm->epoch, 2);
  assert_int_equal (cm->world, 1);
  assert_int_equal (cm->created_us, 1700000000000000ull);
  assert_int_equal (cm->shards.n, 1);
  assert_string_equal (cm->shards.v[0].file, "rank-00000.bin");
  assert_int_equal (cm->shards.v[0].crc32c, 0xf130f21e);
  /* and its shard still validates against it, checksum included */
  assert_int_equal (mu_manifest_validate (dir, cm, true, err, sizeof err), 0);
  mu_msg_clear (&m);
  uint64_t step = 0;
  char *jd = tu_join (*state, JOB);
  assert_int_equal (mu_ckpt_latest (jd, true, &step, NULL, NULL, NULL), 0);
  assert_int_equal (step, 5);
  free (jd);
}

static void
test_written_format (void **state)
{
  char dir[4096];
  put_step (*state, 5, old_manifest, sizeof old_manifest, dir, sizeof dir);
  mu_msg_t m;
  assert_int_equal (mu_manifest_read (dir, &m, NULL, 0), 0);
  /* Rewrite it with this build: "v" is the format's version. */
  char *path = tu_join (dir, MU_CKPT_MANIFEST_FILE);
  assert_int_equal (unlink (path), 0);
  free (path);
  assert_int_equal (
      mu_manifest_write (dir, &m.u.ckpt_manifest, NULL, 0), 0);
  mu_msg_clear (&m);
  size_t len = 0;
  unsigned char *bytes = tu_read (dir, MU_CKPT_MANIFEST_FILE, &len);
  assert_non_null (bytes);
  uint64_t found = 0;
  assert_int_equal (
      mu_msg_decode_v (bytes, len, MU_MANIFEST_FORMAT, &found, &m, NULL, 0), 0);
  assert_int_equal (found, MU_MANIFEST_FORMAT);
  assert_int_equal (m.type, MU_MSG_CKPT_MANIFEST);
  mu_msg_clear (&m);
  /* Format 1 is byte for byte what was written before. */
  assert_int_equal (len, sizeof old_manifest);
  assert_memory_equal (bytes, old_manifest, len);
  free (bytes);
}

static void
test_newer_format_refused (void **state)
{
  unsigned char newer[sizeof old_manifest];
  memcpy (newer, old_manifest, sizeof newer);
  assert_int_equal (newer[V_OFFSET], 1);
  newer[V_OFFSET] = MU_MANIFEST_FORMAT + 6;
  char dir[4096];
  put_step (*state, 5, newer, sizeof newer, dir, sizeof dir);
  mu_msg_t m;
  char err[512];
  assert_int_equal (mu_manifest_read (dir, &m, err, sizeof err),
                    MUSTER_EVERSION);
  assert_int_equal (m.type, MU_MSG_NONE);
  char want[4200];
  snprintf (want, sizeof want, "%s/MANIFEST has format version %d", dir,
            MU_MANIFEST_FORMAT + 6);
  assert_non_null (strstr (err, want));
  assert_non_null (strstr (err, "newer muster"));
  /* A version 0 is no format at all: refused the same way. */
  newer[V_OFFSET] = 0;
  tu_write (dir, MU_CKPT_MANIFEST_FILE, newer, sizeof newer);
  assert_int_equal (mu_manifest_read (dir, &m, err, sizeof err),
                    MUSTER_EVERSION);
  assert_non_null (strstr (err, "format version 0"));
}

typedef struct seen {
  int n;
  mu_ckpt_skip_reason_t reason;
  uint64_t step;
  char detail[600];
} seen_t;

static void
on_skip (void *arg, const mu_ckpt_skip_t *s)
{
  seen_t *seen = arg;
  seen->n++;
  seen->reason = s->reason;
  seen->step = s->step;
  snprintf (seen->detail, sizeof seen->detail, "%s", s->detail ? s->detail : "");
}

static void
test_scan_reports_newer_format (void **state)
{
  char dir[4096], newdir[4096];
  put_step (*state, 5, old_manifest, sizeof old_manifest, dir, sizeof dir);
  /* Step 9 with a MANIFEST of a newer format (job and step fixed up so
   * that only the version is wrong): copy step 5's and patch "v". */
  unsigned char newer[sizeof old_manifest];
  memcpy (newer, old_manifest, sizeof newer);
  newer[V_OFFSET] = MU_MANIFEST_FORMAT + 1;
  put_step (*state, 9, newer, sizeof newer, newdir, sizeof newdir);
  seen_t seen = { 0 };
  uint64_t step = 0;
  char *jd = tu_join (*state, JOB);
  assert_int_equal (mu_ckpt_latest (jd, true, &step, NULL, on_skip, &seen), 0);
  assert_int_equal (step, 5);
  assert_int_equal (seen.n, 1);
  assert_int_equal (seen.step, 9);
  assert_int_equal (seen.reason, MU_CKPT_SKIP_VERSION);
  assert_string_equal (mu_ckpt_skip_name (seen.reason), "newer-format");
  assert_non_null (strstr (seen.detail, newdir));
  assert_non_null (strstr (seen.detail, "format version 2"));
  free (jd);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_old_manifest_reads, setup, teardown),
    cmocka_unit_test_setup_teardown (test_written_format, setup, teardown),
    cmocka_unit_test_setup_teardown (test_newer_format_refused, setup,
                                     teardown),
    cmocka_unit_test_setup_teardown (test_scan_reports_newer_format, setup,
                                     teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
