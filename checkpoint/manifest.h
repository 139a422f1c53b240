/*
 * manifest.h — the on-disk layout of checkpoints and the MANIFEST that
 * makes a step exist.
 *
 * Layout (DESIGN.md, "Checkpoint and preemption"):
 *
 *   <ckpt_dir>/<job>/step-<20-digit zero-padded step>/
 *       <shard files>      one per member, written by mu_shard_*
 *       MANIFEST           the ckpt.manifest message, encoded by the codec
 *
 * Zero-padding makes names sort like numbers.  A step directory without a
 * MANIFEST is a partial checkpoint and is never used: the MANIFEST is
 * written last, atomically (tmp, fsync, rename, fsync dir), by the
 * coordinator once every shard was reported durable, so its existence is
 * the commit.  A MANIFEST is trusted only after mu_manifest_validate: the
 * job and step it names match its directory, it is well formed
 * (mu_manifest_check), and every shard it lists is there with the right
 * size (and CRC-32C when `deep`).
 *
 * Restores use mu_ckpt_latest: the newest step that is complete and valid,
 * with a report of every newer step it passed over and why.
 *
 * Everything here except the pure checks does blocking file I/O; errors
 * are 0 or a negative code, and the calls taking `err` put one sentence
 * about the problem there when it is not NULL.
 */
#ifndef MU_MANIFEST_H
#define MU_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint/shard.h"
#include "common/proto.h"

/* The MANIFEST's on-disk format version, its "v": independent of the wire
 * protocol's MU_PROTO_VERSION.  Bump it when a change to ckpt.manifest
 * could not be read by an older build (a new optional field can be: the
 * decoder skips unknown keys); readers accept 1 to this. */
#define MU_MANIFEST_FORMAT 1

#define MU_CKPT_STEP_PREFIX "step-"
#define MU_CKPT_STEP_DIGITS 20
#define MU_CKPT_STEP_NAME_LEN 25 /* "step-" + 20 digits */
#define MU_CKPT_JOB_MAX 128

/* --- names and paths */

/* Is `job` usable as a directory name: 1-128 of [A-Za-z0-9._-], and not
 * "." or ".."? */
bool mu_ckpt_job_ok (const char *job);

/* "step-%020llu" into buf (at least MU_CKPT_STEP_NAME_LEN + 1 bytes).
 * 0 or MUSTER_ETOOBIG. */
int mu_ckpt_step_name (uint64_t step, char *buf, size_t size);

/* Parse a directory name made exactly of "step-" and 20 digits.  0 or
 * MUSTER_EINVAL (anything else, including a value above UINT64_MAX). */
int mu_ckpt_parse_step_name (const char *name, uint64_t *step);

/* "<ckpt_dir>/<job>" and "<ckpt_dir>/<job>/step-<step>" into buf.  0,
 * MUSTER_EINVAL (bad job id) or MUSTER_ETOOBIG. */
int mu_ckpt_job_dir (const char *ckpt_dir, const char *job, char *buf,
                     size_t size);
int mu_ckpt_step_dir (const char *ckpt_dir, const char *job, uint64_t step,
                      char *buf, size_t size);

/* fsync the directory that holds `path` ("." for a bare name).  0 or
 * -errno. */
int mu_ckpt_fsync_parent (const char *path);

/* mkdir -p that survives a crash: every directory it creates has its
 * parent fsync'd.  Directories it creates are mode 0700 whatever the umask
 * (existing ones are not touched).  0, -ENOTDIR if a component is not a
 * directory, -errno. */
int mu_ckpt_mkdir_p (const char *path);

/* mu_ckpt_mkdir_p, and every directory it creates is chown'ed to uid:gid
 * ((uid_t)-1 / (gid_t)-1 leave that id alone): a root coordinator makes the
 * directories of a user's job, whose workers then write into them. */
int mu_ckpt_mkdir_p_as (const char *path, uid_t uid, gid_t gid);

/* Make `step_dir` ready for a new attempt at its step (the coordinator
 * calls it before asking for shards): create it (mu_ckpt_mkdir_p); if it
 * holds a MANIFEST that validates (deep or not) return MUSTER_EEXIST — the
 * step is already saved and must not be overwritten; if it holds a MANIFEST
 * that does not validate, remove it durably so the step reads as partial
 * while shards are rewritten.  0 otherwise. */
int mu_ckpt_step_prepare (const char *step_dir, bool deep, char *err,
                          size_t errlen);
/* The same, creating directories with mu_ckpt_mkdir_p_as (uid, gid). */
int mu_ckpt_step_prepare_as (const char *step_dir, bool deep, uid_t uid,
                             gid_t gid, char *err, size_t errlen);

/* --- the manifest */

/* Pure structural check, no I/O.  A manifest is well formed when: the job
 * id is mu_ckpt_job_ok; world >= 1 and world == the number of shards;
 * shard i has rank i (shards sorted, ranks 0..world-1 each once); shard
 * file names are mu_shard_name_ok and distinct; roles are non-empty with
 * distinct names and their worlds add up to world; every shard names one
 * of the roles with a role rank below that role's world, each role rank
 * once; and if nbuckets > 0 the shards with bucket_count > 0 cover the
 * buckets [0, nbuckets) exactly once (no PS shard at all if nbuckets is 0).
 * 0 or MUSTER_EINVAL. */
int mu_manifest_check (const mu_ckpt_manifest_t *m, char *err, size_t errlen);

/* Write `m` as `<step_dir>/MANIFEST` atomically.  Refuses (MUSTER_EINVAL)
 * a manifest that fails mu_manifest_check or whose job and step do not
 * match step_dir ("<...>/<job>/step-<step>").  Does not look at the shards:
 * the caller validated them or knows them durable.  0 or a negative code. */
int mu_manifest_write (const char *step_dir, const mu_ckpt_manifest_t *m,
                       char *err, size_t errlen);
/* The same, the MANIFEST (mode 0600) owned by uid:gid ((uid_t)-1 / (gid_t)-1
 * = leave alone). */
int mu_manifest_write_as (const char *step_dir, const mu_ckpt_manifest_t *m,
                          uid_t uid, gid_t gid, char *err, size_t errlen);

/* Read and decode `<step_dir>/MANIFEST` into *out (type
 * MU_MSG_CKPT_MANIFEST; release with mu_msg_clear).  Returns -ENOENT when
 * there is no MANIFEST (a partial step); the codec's code for an
 * undecodable one; MUSTER_ECORRUPT for another message type, for a file
 * over MU_PROTO_MAX_MSG, or when its job or step differs from the
 * directory's; MUSTER_EVERSION for a format newer than MU_MANIFEST_FORMAT
 * (err names the file and its version).  On failure *out is empty.  Does
 * not validate the shards. */
int mu_manifest_read (const char *step_dir, mu_msg_t *out, char *err,
                      size_t errlen);

/* mu_manifest_check, then every shard of `m` in step_dir: present, a
 * regular file of the recorded size, and if `deep` of the recorded CRC-32C
 * (sizes of all shards are checked before any checksum).  Returns 0;
 * MUSTER_EINVAL (malformed); -ENOENT (a shard is missing);
 * MUSTER_ECORRUPT (size or checksum differ); other -errno. */
int mu_manifest_validate (const char *step_dir, const mu_ckpt_manifest_t *m,
                          bool deep, char *err, size_t errlen);

/* --- finding the newest checkpoint */

typedef enum mu_ckpt_skip_reason
{
  MU_CKPT_SKIP_PARTIAL = 1,  /* no MANIFEST: never committed (or in flight) */
  MU_CKPT_SKIP_BAD_MANIFEST, /* unreadable, undecodable, malformed, or for
                                another job or step */
  MU_CKPT_SKIP_MISSING,      /* a shard it lists is missing */
  MU_CKPT_SKIP_CORRUPT,      /* a shard's size or CRC-32C differs */
  MU_CKPT_SKIP_IO,           /* another error reading it */
  MU_CKPT_SKIP_VERSION       /* a MANIFEST of a newer format than this build
                                reads (MUSTER_EVERSION) */
} mu_ckpt_skip_reason_t;

/* One step mu_ckpt_latest passed over.  Pointers are valid during the
 * callback only. */
typedef struct mu_ckpt_skip
{
  uint64_t step;
  const char *step_dir;
  mu_ckpt_skip_reason_t reason;
  int code;           /* the negative code behind it */
  const char *detail; /* e.g. "shard rank-00003: CRC-32C 0x... expected ..." */
} mu_ckpt_skip_t;

typedef void (*mu_ckpt_skip_fn) (void *arg, const mu_ckpt_skip_t *skip);

/* "partial", "bad-manifest", "missing-shard", "corrupt", "io-error",
 * "newer-format". */
const char *mu_ckpt_skip_name (mu_ckpt_skip_reason_t reason);

/* Find the newest complete and valid checkpoint of the job whose directory
 * is `job_dir` (<ckpt_dir>/<job>).  Step directories are tried newest
 * first; each newer one that is not usable is reported through `fn` (may
 * be NULL) and skipped.  On success *step (if not NULL) is its step and
 * *manifest (if not NULL) its decoded manifest, to release with
 * mu_msg_clear.  Returns MUSTER_ENOTFOUND when no step is usable or the
 * job directory does not exist; -ENOMEM, -EMFILE or -ENFILE stop the scan
 * (they say nothing about the checkpoint, so no older step is picked); any
 * other error about one step only skips that step. */
int mu_ckpt_latest (const char *job_dir, bool deep, uint64_t *step,
                    mu_msg_t *manifest, mu_ckpt_skip_fn fn, void *arg);

/* --- listing and removal (for retention) */

typedef struct mu_ckpt_step
{
  uint64_t step;
  bool complete; /* has a MANIFEST (not validated) */
} mu_ckpt_step_t;

/* Every step directory of the job, ascending.  *out is malloc'd (the
 * caller frees it; NULL when *n is 0).  A missing job directory is an
 * empty list.  0 or -errno. */
int mu_ckpt_list (const char *job_dir, mu_ckpt_step_t **out, size_t *n);

/* Delete a step directory so that a crash part-way never leaves something
 * that looks complete: MANIFEST first (and fsync), then the other files,
 * then the directory (and fsync its parent).  0, or -errno (-ENOTEMPTY if
 * it holds a subdirectory, which is left alone). */
int mu_ckpt_remove_step (const char *step_dir);

#endif
