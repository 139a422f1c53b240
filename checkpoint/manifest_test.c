/*
 * manifest_test.c — step directories, the MANIFEST and mu_ckpt_latest.
 *
 * Names and paths; durable mkdir -p; MANIFEST round trip; every rule of
 * mu_manifest_check; reads that must refuse (garbage, another message type,
 * a MANIFEST in the wrong directory); validation catching missing,
 * truncated and corrupt shards; and the scan: a job directory holding good
 * steps, a corrupt one, partial ones (no MANIFEST, torn MANIFEST.tmp), one
 * with a garbage MANIFEST and one missing a shard gives the newest good
 * step and reports every newer one with the right reason.  Also listing,
 * removal, step preparation and retention applied to a real directory.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <muster/error.h>

#include "checkpoint/commit.h"
#include "checkpoint/manifest.h"
#include "checkpoint/shard.h"
#include "checkpoint/test_util.h"

#define JOB "job-1"

static int
setup (void **state)
{
  *state = tu_mkdtemp ("manifest");
  return *state ? 0 : -1;
}

static int
teardown (void **state)
{
  char *dir = *state;
  tu_rmtree (&dir);
  return 0;
}

static void
shard_name (char *buf, size_t size, uint64_t r)
{
  snprintf (buf, size, "rank-%05llu.bin", (unsigned long long)r);
}

/* A complete step of `world` worker shards under root/JOB; its directory
 * goes to step_dir.  Shard r holds 1000 + 37*r bytes from seed step*r. */
static void
make_step (const char *root, uint64_t step, uint64_t world, char *step_dir,
           size_t size, bool with_manifest)
{
  assert_int_equal (mu_ckpt_step_dir (root, JOB, step, step_dir, size), 0);
  assert_int_equal (mu_ckpt_mkdir_p (step_dir), 0);
  mu_shard_info_t *shards = calloc (world, sizeof *shards);
  assert_non_null (shards);
  for (uint64_t r = 0; r < world; r++)
    {
      size_t len = 1000 + 37 * r;
      unsigned char *buf = malloc (len);
      tu_fill (buf, len, step * 1000 + r);
      char name[64];
      shard_name (name, sizeof name, r);
      assert_int_equal (
          mu_shard_write_buf (step_dir, name, buf, len, &shards[r]), 0);
      shards[r].role = strdup ("worker");
      shards[r].rank = r;
      shards[r].role_rank = r;
      free (buf);
    }
  if (with_manifest)
    {
      mu_role_world_t role = { "worker", world, 1 };
      mu_ckpt_manifest_t m = { 0 };
      m.job = JOB;
      m.step = step;
      m.epoch = 3;
      m.world = world;
      m.created_us = 1700000000000000ull;
      m.roles.v = &role;
      m.roles.n = 1;
      m.shards.v = shards;
      m.shards.n = world;
      char err[256];
      int rc = mu_manifest_write (step_dir, &m, err, sizeof err);
      if (rc)
        print_error ("%s\n", err);
      assert_int_equal (rc, 0);
    }
  for (uint64_t r = 0; r < world; r++)
    mu_shard_info_clear (&shards[r]);
  free (shards);
}

/* --- names, paths, directories */

static void
test_names (void **state)
{
  (void)state;
  char b[64];
  assert_int_equal (mu_ckpt_step_name (42, b, sizeof b), 0);
  assert_string_equal (b, "step-00000000000000000042");
  assert_int_equal (strlen (b), MU_CKPT_STEP_NAME_LEN);
  assert_int_equal (mu_ckpt_step_name (UINT64_MAX, b, sizeof b), 0);
  assert_string_equal (b, "step-18446744073709551615");
  assert_int_equal (mu_ckpt_step_name (1, b, 10), MUSTER_ETOOBIG);

  uint64_t s = 0;
  assert_int_equal (mu_ckpt_parse_step_name ("step-00000000000000000042", &s),
                    0);
  assert_int_equal (s, 42);
  assert_int_equal (mu_ckpt_parse_step_name ("step-18446744073709551615", &s),
                    0);
  assert_true (s == UINT64_MAX);
  const char *bad[] = { "step-18446744073709551616",
                        "step-99999999999999999999",
                        "step-42",
                        "step-0000000000000000004x",
                        "Step-00000000000000000042",
                        "step-000000000000000000042",
                        "step-00000000000000000042.tmp",
                        "",
                        "MANIFEST" };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal (mu_ckpt_parse_step_name (bad[i], &s), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_parse_step_name (NULL, &s), MUSTER_EINVAL);

  assert_true (mu_ckpt_job_ok ("job-1"));
  assert_true (mu_ckpt_job_ok ("A.b_c-9"));
  assert_true (mu_ckpt_job_ok ("..."));
  const char *badjob[] = { "", ".", "..", "a/b", "a b", "j\n", "../x" };
  for (size_t i = 0; i < sizeof badjob / sizeof *badjob; i++)
    assert_false (mu_ckpt_job_ok (badjob[i]));
  char longjob[MU_CKPT_JOB_MAX + 2];
  memset (longjob, 'j', sizeof longjob - 1);
  longjob[sizeof longjob - 1] = '\0';
  assert_false (mu_ckpt_job_ok (longjob));
  longjob[MU_CKPT_JOB_MAX] = '\0';
  assert_true (mu_ckpt_job_ok (longjob));

  char p[256];
  assert_int_equal (mu_ckpt_job_dir ("/ck", "j", p, sizeof p), 0);
  assert_string_equal (p, "/ck/j");
  assert_int_equal (mu_ckpt_step_dir ("/ck", "j", 7, p, sizeof p), 0);
  assert_string_equal (p, "/ck/j/step-00000000000000000007");
  assert_int_equal (mu_ckpt_step_dir ("/ck", "..", 7, p, sizeof p),
                    MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_step_dir ("/ck", "j", 7, p, 10), MUSTER_ETOOBIG);
  assert_int_equal (mu_ckpt_job_dir ("", "j", p, sizeof p), MUSTER_EINVAL);
}

static void
test_mkdir_p (void **state)
{
  const char *root = *state;
  char *deep = tu_join (root, "a/b//c/d/");
  assert_int_equal (mu_ckpt_mkdir_p (deep), 0);
  assert_true (tu_exists (root, "a/b/c/d"));
  assert_int_equal (mu_ckpt_mkdir_p (deep), 0); /* exists: fine */
  free (deep);
  assert_int_equal (tu_write (root, "file", "x", 1), 0);
  char *under = tu_join (root, "file/sub");
  assert_int_equal (mu_ckpt_mkdir_p (under), -ENOTDIR);
  free (under);
  char *f = tu_join (root, "file");
  assert_int_equal (mu_ckpt_mkdir_p (f), -ENOTDIR);
  assert_int_equal (mu_ckpt_fsync_parent (f), 0);
  free (f);
  assert_int_equal (mu_ckpt_mkdir_p (""), MUSTER_EINVAL);
  assert_int_equal (mu_ckpt_mkdir_p (NULL), MUSTER_EINVAL);
}

/* Directories muster makes for checkpoints are 0700 whatever the umask,
 * and a root caller can hand them to the job's owner; an existing
 * directory is left as the user made it. */
static void
test_mkdir_private (void **state)
{
  const char *root = *state;
  mode_t old = umask (022);
  char *deep = tu_join (root, "p/job/step-1");
  assert_int_equal (mu_ckpt_mkdir_p (deep), 0);
  umask (old);
  static const char *const made[] = { "p", "p/job", "p/job/step-1" };
  for (size_t i = 0; i < 3; i++)
    {
      char *p = tu_join (root, made[i]);
      struct stat st;
      assert_int_equal (stat (p, &st), 0);
      assert_int_equal (st.st_mode & 07777, 0700);
      free (p);
    }
  free (deep);
  struct stat st;
  assert_int_equal (stat (root, &st), 0);
  assert_int_not_equal (st.st_mode & 07777, 0); /* untouched: not ours */
  if (geteuid () == 0)
    {
      char *q = tu_join (root, "q/job/step-2");
      assert_int_equal (mu_ckpt_mkdir_p_as (q, 4242, 4343), 0);
      static const char *const theirs[] = { "q", "q/job", "q/job/step-2" };
      for (size_t i = 0; i < 3; i++)
        {
          char *p = tu_join (root, theirs[i]);
          assert_int_equal (stat (p, &st), 0);
          assert_int_equal (st.st_uid, 4242);
          assert_int_equal (st.st_gid, 4343);
          assert_int_equal (st.st_mode & 07777, 0700);
          free (p);
        }
      free (q);
    }
}

/* --- the manifest itself */

static void
test_round_trip (void **state)
{
  const char *root = *state;
  char sd[PATH_MAX];
  make_step (root, 100, 4, sd, sizeof sd, true);
  assert_true (tu_exists (sd, "MANIFEST"));
  assert_false (tu_exists (sd, "MANIFEST.tmp"));
  mu_msg_t m;
  char err[256];
  assert_int_equal (mu_manifest_read (sd, &m, err, sizeof err), 0);
  assert_int_equal (m.type, MU_MSG_CKPT_MANIFEST);
  const mu_ckpt_manifest_t *cm = &m.u.ckpt_manifest;
  assert_string_equal (cm->job, JOB);
  assert_int_equal (cm->step, 100);
  assert_int_equal (cm->epoch, 3);
  assert_int_equal (cm->world, 4);
  assert_int_equal (cm->created_us, 1700000000000000ull);
  assert_int_equal (cm->roles.n, 1);
  assert_string_equal (cm->roles.v[0].name, "worker");
  assert_int_equal (cm->shards.n, 4);
  for (size_t r = 0; r < 4; r++)
    {
      char name[64];
      shard_name (name, sizeof name, r);
      assert_string_equal (cm->shards.v[r].file, name);
      assert_int_equal (cm->shards.v[r].size, 1000 + 37 * r);
    }
  assert_int_equal (mu_manifest_validate (sd, cm, true, err, sizeof err), 0);
  mu_msg_clear (&m);

  /* A relative step directory resolves its job through realpath. */
  char cwd[PATH_MAX];
  assert_non_null (getcwd (cwd, sizeof cwd));
  char *jd = tu_join (root, JOB);
  assert_int_equal (chdir (jd), 0);
  int rc = mu_manifest_read ("step-00000000000000000100", &m, err, sizeof err);
  int rc2 = chdir (cwd);
  assert_int_equal (rc2, 0);
  assert_int_equal (rc, 0);
  mu_msg_clear (&m);
  free (jd);
}

static void
test_read_refuses (void **state)
{
  const char *root = *state;
  char sd[PATH_MAX], sd2[PATH_MAX];
  make_step (root, 5, 2, sd, sizeof sd, true);
  make_step (root, 6, 2, sd2, sizeof sd2, false);
  mu_msg_t m;
  char err[256];

  /* No MANIFEST: -ENOENT, the mark of a partial step. */
  assert_int_equal (mu_manifest_read (sd2, &m, err, sizeof err), -ENOENT);
  assert_int_equal (m.type, MU_MSG_NONE);

  /* A MANIFEST copied into another step's directory. */
  size_t len = 0;
  unsigned char *buf = tu_read (sd, "MANIFEST", &len);
  assert_non_null (buf);
  assert_int_equal (tu_write (sd2, "MANIFEST", buf, len), 0);
  assert_int_equal (mu_manifest_read (sd2, &m, err, sizeof err),
                    MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "step 5"));
  assert_int_equal (m.type, MU_MSG_NONE);
  /* ... or into another job's. */
  char other[PATH_MAX];
  assert_int_equal (mu_ckpt_step_dir (root, "other", 5, other, sizeof other),
                    0);
  assert_int_equal (mu_ckpt_mkdir_p (other), 0);
  assert_int_equal (tu_write (other, "MANIFEST", buf, len), 0);
  assert_int_equal (mu_manifest_read (other, &m, err, sizeof err),
                    MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "job " JOB));

  /* Truncated: does not decode. */
  assert_int_equal (tu_write (sd2, "MANIFEST", buf, len / 2), 0);
  int rc = mu_manifest_read (sd2, &m, err, sizeof err);
  assert_true (rc < 0 && rc != -ENOENT);
  assert_non_null (strstr (err, "does not decode"));
  free (buf);

  /* Garbage. */
  assert_int_equal (tu_write (sd2, "MANIFEST", "\xc1garbage", 8), 0);
  rc = mu_manifest_read (sd2, &m, err, sizeof err);
  assert_true (rc < 0 && rc != -ENOENT);
  assert_int_equal (tu_write (sd2, "MANIFEST", "", 0), 0);
  rc = mu_manifest_read (sd2, &m, err, sizeof err);
  assert_true (rc < 0 && rc != -ENOENT);

  /* A valid message of another type. */
  mu_msg_t done = { 0 };
  done.type = MU_MSG_CKPT_DONE;
  done.u.ckpt_done.job = JOB;
  done.u.ckpt_done.step = 6;
  char *enc = NULL;
  size_t enclen = 0;
  assert_int_equal (mu_msg_encode (&done, &enc, &enclen), 0);
  assert_int_equal (tu_write (sd2, "MANIFEST", enc, enclen), 0);
  free (enc);
  assert_int_equal (mu_manifest_read (sd2, &m, err, sizeof err),
                    MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "ckpt.done"));

  /* A directory named MANIFEST. */
  char *md = tu_join (sd2, "MANIFEST");
  assert_int_equal (unlink (md), 0);
  assert_int_equal (mkdir (md, 0755), 0);
  free (md);
  assert_int_equal (mu_manifest_read (sd2, &m, err, sizeof err),
                    MUSTER_ECORRUPT);

  /* Not a step directory at all. */
  assert_int_equal (mu_manifest_read (root, &m, err, sizeof err),
                    -ENOENT); /* no MANIFEST there */
  assert_int_equal (mu_manifest_read (NULL, &m, err, sizeof err),
                    MUSTER_EINVAL);
}

/* A well-formed 4-rank manifest with two roles and PS buckets, built on
 * the stack; tests break one thing at a time. */
typedef struct mf
{
  mu_role_world_t roles[2];
  mu_shard_info_t shards[4];
  mu_ckpt_manifest_t m;
} mf_t;

static void
mf_init (mf_t *f)
{
  memset (f, 0, sizeof *f);
  f->roles[0] = (mu_role_world_t){ "worker", 2, 1 };
  f->roles[1] = (mu_role_world_t){ "ps", 2, 1 };
  static const char *files[] = { "w0", "w1", "ps0", "ps1" };
  for (int r = 0; r < 4; r++)
    {
      f->shards[r].role = r < 2 ? "worker" : "ps";
      f->shards[r].rank = (uint64_t)r;
      f->shards[r].role_rank = (uint64_t)(r % 2);
      f->shards[r].file = (char *)files[r];
      f->shards[r].size = 10;
    }
  f->shards[2].bucket_first = 0;
  f->shards[2].bucket_count = 50;
  f->shards[3].bucket_first = 50;
  f->shards[3].bucket_count = 51;
  f->m.job = JOB;
  f->m.step = 9;
  f->m.epoch = 1;
  f->m.world = 4;
  f->m.nbuckets = 101;
  f->m.roles.v = f->roles;
  f->m.roles.n = 2;
  f->m.shards.v = f->shards;
  f->m.shards.n = 4;
}

static void
expect_bad (const mf_t *f, const char *needle)
{
  char err[256];
  assert_int_equal (mu_manifest_check (&f->m, err, sizeof err), MUSTER_EINVAL);
  if (!strstr (err, needle))
    fail_msg ("error '%s' does not mention '%s'", err, needle);
}

static void
test_check (void **state)
{
  (void)state;
  mf_t f;
  char err[256];
  mf_init (&f);
  assert_int_equal (mu_manifest_check (&f.m, err, sizeof err), 0);
  assert_int_equal (mu_manifest_check (NULL, err, sizeof err), MUSTER_EINVAL);

  mf_init (&f);
  f.m.job = "..";
  expect_bad (&f, "job id");
  mf_init (&f);
  f.m.world = 5;
  expect_bad (&f, "world is 5");
  mf_init (&f);
  f.m.world = 0;
  f.m.shards.n = 0;
  expect_bad (&f, "world is 0");
  mf_init (&f);
  f.shards[1].rank = 0;
  expect_bad (&f, "shard 1 has rank 0");
  mf_init (&f);
  f.shards[1].rank = 7;
  expect_bad (&f, "rank 7");
  mf_init (&f);
  f.shards[1].file = "../../etc/passwd";
  expect_bad (&f, "not a plain file name");
  mf_init (&f);
  f.shards[1].file = "MANIFEST";
  expect_bad (&f, "not a plain file name");
  mf_init (&f);
  f.shards[3].file = "w0";
  expect_bad (&f, "'w0' is listed twice");
  mf_init (&f);
  f.m.roles.n = 0;
  expect_bad (&f, "no roles");
  mf_init (&f);
  f.roles[1].world = 3;
  expect_bad (&f, "add up to more");
  mf_init (&f);
  f.roles[1].world = 1;
  expect_bad (&f, "add up to 3");
  mf_init (&f);
  f.roles[1].name = "worker";
  expect_bad (&f, "listed twice");
  mf_init (&f);
  f.shards[0].role = "chief";
  expect_bad (&f, "'chief' is not listed");
  mf_init (&f);
  f.shards[1].role_rank = 0;
  expect_bad (&f, "'worker' rank 0 is listed twice");
  mf_init (&f);
  f.shards[3].role_rank = 2;
  expect_bad (&f, "role rank 2");
  mf_init (&f);
  f.shards[3].bucket_first = 51;
  expect_bad (&f, "no shard holds bucket 50");
  mf_init (&f);
  f.shards[3].bucket_first = 49;
  expect_bad (&f, "more than one shard holds bucket 49");
  mf_init (&f);
  f.shards[3].bucket_count = 50;
  expect_bad (&f, "no shard holds bucket 100");
  mf_init (&f);
  f.shards[3].bucket_count = 52;
  expect_bad (&f, "beyond nbuckets");
  mf_init (&f);
  f.m.nbuckets = 0;
  expect_bad (&f, "nbuckets is 0");
  /* Non-PS job: no buckets anywhere is fine. */
  mf_init (&f);
  f.m.nbuckets = 0;
  f.shards[2].bucket_count = 0;
  f.shards[3].bucket_count = 0;
  assert_int_equal (mu_manifest_check (&f.m, err, sizeof err), 0);
}

static void
test_write_refuses (void **state)
{
  const char *root = *state;
  mf_t f;
  mf_init (&f);
  char sd[PATH_MAX], err[256];
  assert_int_equal (mu_ckpt_step_dir (root, JOB, 9, sd, sizeof sd), 0);
  assert_int_equal (mu_ckpt_mkdir_p (sd), 0);
  /* Shards are not looked at by write: this one is well formed. */
  assert_int_equal (mu_manifest_write (sd, &f.m, err, sizeof err), 0);
  f.m.step = 10; /* the wrong directory */
  assert_int_equal (mu_manifest_write (sd, &f.m, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "step 10"));
  f.m.step = 9;
  f.m.job = "job-2";
  assert_int_equal (mu_manifest_write (sd, &f.m, err, sizeof err),
                    MUSTER_EINVAL);
  f.m.job = JOB;
  f.m.world = 3; /* malformed */
  assert_int_equal (mu_manifest_write (sd, &f.m, err, sizeof err),
                    MUSTER_EINVAL);
  f.m.world = 4;
  assert_int_equal (mu_manifest_write (root, &f.m, err, sizeof err),
                    MUSTER_EINVAL); /* not a step directory */
  char *nodir = tu_join (root, JOB "/step-00000000000000000009x");
  assert_int_equal (mu_manifest_write (nodir, &f.m, err, sizeof err),
                    MUSTER_EINVAL);
  free (nodir);
  char gone[PATH_MAX];
  assert_int_equal (mu_ckpt_step_dir (root, JOB, 11, gone, sizeof gone), 0);
  f.m.step = 11;
  assert_int_equal (mu_manifest_write (gone, &f.m, err, sizeof err), -ENOENT);
}

static void
test_validate (void **state)
{
  const char *root = *state;
  char sd[PATH_MAX], err[256];
  make_step (root, 1, 3, sd, sizeof sd, true);
  mu_msg_t m;
  assert_int_equal (mu_manifest_read (sd, &m, err, sizeof err), 0);
  const mu_ckpt_manifest_t *cm = &m.u.ckpt_manifest;
  assert_int_equal (mu_manifest_validate (sd, cm, true, err, sizeof err), 0);

  assert_int_equal (tu_flip (sd, "rank-00001.bin", 500), 0);
  assert_int_equal (mu_manifest_validate (sd, cm, false, err, sizeof err), 0);
  assert_int_equal (mu_manifest_validate (sd, cm, true, err, sizeof err),
                    MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "rank-00001.bin"));
  assert_int_equal (tu_flip (sd, "rank-00001.bin", 500), 0);

  /* A truncated shard is found by size, before any CRC is read. */
  assert_int_equal (tu_truncate (sd, "rank-00002.bin", 3), 0);
  assert_int_equal (mu_manifest_validate (sd, cm, false, err, sizeof err),
                    MUSTER_ECORRUPT);
  assert_non_null (strstr (err, "rank-00002.bin"));

  char *p = tu_join (sd, "rank-00000.bin");
  assert_int_equal (unlink (p), 0);
  free (p);
  assert_int_equal (mu_manifest_validate (sd, cm, true, err, sizeof err),
                    -ENOENT);
  assert_non_null (strstr (err, "rank-00000.bin"));
  assert_non_null (strstr (err, "missing"));
  mu_msg_clear (&m);
}

/* --- the scan */

typedef struct report
{
  int n;
  uint64_t step[16];
  mu_ckpt_skip_reason_t why[16];
  int code[16];
  char detail[16][256];
} report_t;

static void
collect (void *arg, const mu_ckpt_skip_t *s)
{
  report_t *r = arg;
  assert_non_null (s->step_dir);
  assert_non_null (s->detail);
  if (r->n < 16)
    {
      r->step[r->n] = s->step;
      r->why[r->n] = s->reason;
      r->code[r->n] = s->code;
      snprintf (r->detail[r->n], sizeof r->detail[0], "%s", s->detail);
    }
  r->n++;
}

static void
test_latest (void **state)
{
  const char *root = *state;
  char sd[PATH_MAX];
  char *jd = tu_join (root, JOB);
  uint64_t step = 0;
  mu_msg_t m;

  /* No job directory, then an empty one. */
  assert_int_equal (mu_ckpt_latest (jd, true, &step, &m, NULL, NULL),
                    MUSTER_ENOTFOUND);
  assert_int_equal (mu_ckpt_mkdir_p (jd), 0);
  assert_int_equal (mu_ckpt_latest (jd, true, &step, &m, NULL, NULL),
                    MUSTER_ENOTFOUND);

  make_step (root, 100, 4, sd, sizeof sd, true); /* good */
  make_step (root, 200, 4, sd, sizeof sd, true); /* good: the answer */
  make_step (root, 300, 4, sd, sizeof sd, true); /* corrupt shard */
  assert_int_equal (tu_flip (sd, "rank-00002.bin", 10), 0);
  make_step (root, 400, 4, sd, sizeof sd, false); /* shards, no MANIFEST */
  make_step (root, 500, 4, sd, sizeof sd, true);  /* garbage MANIFEST */
  assert_int_equal (tu_write (sd, "MANIFEST", "not msgpack at all", 18), 0);
  make_step (root, 600, 4, sd, sizeof sd, true); /* a shard missing */
  char *p = tu_join (sd, "rank-00003.bin");
  assert_int_equal (unlink (p), 0);
  free (p);
  /* 700: a crash mid-commit: torn MANIFEST.tmp and shard .tmp files. */
  assert_int_equal (mu_ckpt_step_dir (root, JOB, 700, sd, sizeof sd), 0);
  assert_int_equal (mu_ckpt_mkdir_p (sd), 0);
  assert_int_equal (tu_write (sd, "MANIFEST.tmp", "\x89\xa1v", 3), 0);
  assert_int_equal (tu_write (sd, "rank-00000.bin.tmp", "xx", 2), 0);
  /* Things that are not step directories are ignored. */
  assert_int_equal (tu_write (jd, "step-00000000000000000900", "f", 1), 0);
  char *junk = tu_join (jd, "step-800");
  assert_int_equal (mkdir (junk, 0755), 0);
  free (junk);
  junk = tu_join (jd, "notes");
  assert_int_equal (mkdir (junk, 0755), 0);
  free (junk);

  report_t r = { 0 };
  assert_int_equal (mu_ckpt_latest (jd, true, &step, &m, collect, &r), 0);
  assert_int_equal (step, 200);
  assert_int_equal (m.type, MU_MSG_CKPT_MANIFEST);
  assert_int_equal (m.u.ckpt_manifest.step, 200);
  mu_msg_clear (&m);
  assert_int_equal (r.n, 5);
  uint64_t want_step[] = { 700, 600, 500, 400, 300 };
  mu_ckpt_skip_reason_t want_why[]
      = { MU_CKPT_SKIP_PARTIAL, MU_CKPT_SKIP_MISSING, MU_CKPT_SKIP_BAD_MANIFEST,
          MU_CKPT_SKIP_PARTIAL, MU_CKPT_SKIP_CORRUPT };
  for (int i = 0; i < 5; i++)
    {
      assert_int_equal (r.step[i], want_step[i]);
      assert_int_equal (r.why[i], want_why[i]);
      assert_true (r.code[i] < 0);
    }
  assert_non_null (strstr (r.detail[0], "no MANIFEST"));
  assert_non_null (strstr (r.detail[1], "rank-00003.bin"));
  assert_non_null (strstr (r.detail[4], "rank-00002.bin"));
  assert_non_null (strstr (r.detail[4], "checksum mismatch"));
  assert_int_equal (r.code[4], MUSTER_ECORRUPT);
  assert_string_equal (mu_ckpt_skip_name (MU_CKPT_SKIP_CORRUPT), "corrupt");
  assert_string_equal (mu_ckpt_skip_name (MU_CKPT_SKIP_PARTIAL), "partial");

  /* A shallow scan does not read the shards: the flipped byte of 300 goes
   * unnoticed (sizes match), so 300 is taken. */
  memset (&r, 0, sizeof r);
  assert_int_equal (mu_ckpt_latest (jd, false, &step, NULL, collect, &r), 0);
  assert_int_equal (step, 300);
  assert_int_equal (r.n, 4);

  /* With a trailing slash, no callback and no outputs. */
  char *jds = tu_join (jd, "");
  assert_int_equal (mu_ckpt_latest (jds, true, NULL, NULL, NULL, NULL), 0);
  free (jds);

  /* List: every step directory, with MANIFEST presence. */
  mu_ckpt_step_t *list = NULL;
  size_t n = 0;
  assert_int_equal (mu_ckpt_list (jd, &list, &n), 0);
  assert_int_equal (n, 7);
  bool want_complete[] = { 1, 1, 1, 0, 1, 1, 0 };
  for (size_t i = 0; i < n; i++)
    {
      assert_int_equal (list[i].step, 100 * (i + 1));
      assert_int_equal (list[i].complete, want_complete[i]);
    }
  free (list);

  /* Remove the good steps: nothing usable is left. */
  assert_int_equal (mu_ckpt_step_dir (root, JOB, 200, sd, sizeof sd), 0);
  assert_int_equal (mu_ckpt_remove_step (sd), 0);
  assert_int_equal (mu_ckpt_step_dir (root, JOB, 100, sd, sizeof sd), 0);
  assert_int_equal (mu_ckpt_remove_step (sd), 0);
  assert_false (tu_exists (jd, "step-00000000000000000100"));
  memset (&r, 0, sizeof r);
  assert_int_equal (mu_ckpt_latest (jd, true, &step, &m, collect, &r),
                    MUSTER_ENOTFOUND);
  assert_int_equal (r.n, 5);
  assert_int_equal (m.type, MU_MSG_NONE);
  free (jd);
}

static void
test_remove_and_prepare (void **state)
{
  const char *root = *state;
  char sd[PATH_MAX], err[256];
  make_step (root, 1, 2, sd, sizeof sd, true);

  /* A complete step is not prepared over. */
  assert_int_equal (mu_ckpt_step_prepare (sd, true, err, sizeof err),
                    MUSTER_EEXIST);
  assert_true (tu_exists (sd, "MANIFEST"));
  /* A corrupt one loses its MANIFEST (deep), the shards stay to be
   * overwritten. */
  assert_int_equal (tu_flip (sd, "rank-00001.bin", 3), 0);
  assert_int_equal (mu_ckpt_step_prepare (sd, false, err, sizeof err),
                    MUSTER_EEXIST); /* shallow cannot see it */
  assert_int_equal (mu_ckpt_step_prepare (sd, true, err, sizeof err), 0);
  assert_false (tu_exists (sd, "MANIFEST"));
  assert_true (tu_exists (sd, "rank-00001.bin"));
  /* Garbage MANIFEST: removed. */
  assert_int_equal (tu_write (sd, "MANIFEST", "zz", 2), 0);
  assert_int_equal (mu_ckpt_step_prepare (sd, false, err, sizeof err), 0);
  assert_false (tu_exists (sd, "MANIFEST"));
  /* A new step directory is created. */
  char sd2[PATH_MAX];
  assert_int_equal (mu_ckpt_step_dir (root, "job-9", 5, sd2, sizeof sd2), 0);
  assert_int_equal (mu_ckpt_step_prepare (sd2, true, err, sizeof err), 0);
  assert_true (tu_exists (root, "job-9/step-00000000000000000005"));

  /* Removal: everything goes, even .tmp leftovers. */
  assert_int_equal (tu_write (sd, "rank-00000.bin.tmp", "t", 1), 0);
  assert_int_equal (mu_ckpt_remove_step (sd), 0);
  assert_false (tu_exists (root, JOB "/step-00000000000000000001"));
  assert_int_equal (mu_ckpt_remove_step (sd), -ENOENT);
  /* A subdirectory is not ours: refused, the rest is gone. */
  make_step (root, 2, 2, sd, sizeof sd, true);
  char *sub = tu_join (sd, "sub");
  assert_int_equal (mkdir (sub, 0755), 0);
  free (sub);
  assert_int_equal (mu_ckpt_remove_step (sd), -ENOTEMPTY);
  assert_false (tu_exists (sd, "MANIFEST"));
  assert_true (tu_exists (sd, "sub"));
}

/* Retention applied to a real job directory: exactly K complete steps
 * remain, the newer partial step is left, older partials go. */
static void
test_retention_on_disk (void **state)
{
  const char *root = *state;
  char sd[PATH_MAX];
  for (uint64_t s = 1; s <= 8; s++)
    make_step (root, s * 10, 2, sd, sizeof sd, s != 3 && s != 8);
  /* 30 and 80 are partial; 80 is newer than the newest complete (70). */
  char *jd = tu_join (root, JOB);
  mu_ckpt_step_t *list = NULL;
  size_t n = 0;
  assert_int_equal (mu_ckpt_list (jd, &list, &n), 0);
  assert_int_equal (n, 8);
  uint64_t del[8];
  size_t ndel = 0;
  assert_int_equal (mu_ckpt_retention (list, n, 3, NULL, 0, del, &ndel), 0);
  uint64_t want[] = { 10, 20, 30, 40 };
  assert_int_equal (ndel, 4);
  for (size_t i = 0; i < ndel; i++)
    {
      assert_int_equal (del[i], want[i]);
      assert_int_equal (mu_ckpt_step_dir (root, JOB, del[i], sd, sizeof sd), 0);
      assert_int_equal (mu_ckpt_remove_step (sd), 0);
    }
  free (list);
  assert_int_equal (mu_ckpt_list (jd, &list, &n), 0);
  assert_int_equal (n, 4);
  size_t complete = 0;
  for (size_t i = 0; i < n; i++)
    complete += list[i].complete;
  assert_int_equal (complete, 3);
  assert_int_equal (list[0].step, 50);
  assert_int_equal (list[3].step, 80);
  assert_false (list[3].complete);
  free (list);
  uint64_t step = 0;
  assert_int_equal (mu_ckpt_latest (jd, true, &step, NULL, NULL, NULL), 0);
  assert_int_equal (step, 70);
  /* Listing a job that does not exist is an empty list. */
  char *none = tu_join (root, "nojob");
  assert_int_equal (mu_ckpt_list (none, &list, &n), 0);
  assert_int_equal (n, 0);
  assert_null (list);
  free (none);
  free (jd);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_names),
    cmocka_unit_test_setup_teardown (test_mkdir_p, setup, teardown),
    cmocka_unit_test_setup_teardown (test_mkdir_private, setup, teardown),
    cmocka_unit_test_setup_teardown (test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown (test_read_refuses, setup, teardown),
    cmocka_unit_test (test_check),
    cmocka_unit_test_setup_teardown (test_write_refuses, setup, teardown),
    cmocka_unit_test_setup_teardown (test_validate, setup, teardown),
    cmocka_unit_test_setup_teardown (test_latest, setup, teardown),
    cmocka_unit_test_setup_teardown (test_remove_and_prepare, setup, teardown),
    cmocka_unit_test_setup_teardown (test_retention_on_disk, setup, teardown),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
