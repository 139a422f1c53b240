/*
 * log_files.h — torchrun's worker log files: --log_dir, -r/--redirects,
 * -t/--tee.
 *
 * The layout is torch 1.13's (torch/distributed/elastic/agent/server/
 * local_elastic_agent.py and multiprocessing/__init__.py): one directory
 * per job and launcher, made with mkdtemp as DIR/<run_id>_XXXXXX (torch's
 * random part has 8 characters, mkdtemp(3)'s 6), in it
 * attempt_<restart count>/<local rank>/stdout.log and stderr.log, and
 * TORCHELASTIC_ERROR_FILE pointing at <local rank>/error.json.  A
 * redirect/tee value is 0 (none), 1 (stdout), 2 (stderr), 3 (both), or a
 * per-local-rank map "0:1,1:2" (ranks not named: 0).  Redirected streams
 * go to the file only, teed ones to the file and the console; the files
 * hold the raw lines, the console keeps muster's "[role rank] " prefix
 * (spawn.c writes both).  Parsing is pure and unit-tested
 * (log_files_test.c); the file functions take their directories as
 * arguments.
 */
#ifndef MU_LOG_FILES_H
#define MU_LOG_FILES_H

#include <stddef.h>
#include <stdint.h>

#define MU_STD_NONE 0u
#define MU_STD_OUT 1u
#define MU_STD_ERR 2u
#define MU_STD_ALL 3u
#define MU_STD_MAP_MAX 256 /* entries of a per-local-rank map */

typedef struct mu_std_spec {
  unsigned all; /* a single value: every local rank */
  size_t n;     /* entries of a map (then `all` is 0) */
  struct {
    uint32_t local_rank;
    unsigned mask;
  } v[MU_STD_MAP_MAX];
} mu_std_spec_t;

/* Parse "3" or "0:1,1:2" (a rank named twice: the last one counts, as in
 * torchrun).  NULL or "" is 0.  0, or MUSTER_EINVAL with a sentence in err
 * that the caller prefixes with the flag's name. */
int mu_std_spec_parse (const char *s, mu_std_spec_t *out, char *err,
                       size_t errlen);

/* The streams (MU_STD_* bits) the spec names for local_rank. */
unsigned mu_std_spec_mask (const mu_std_spec_t *s, uint32_t local_rank);

/* Make the job's log directory as torchrun does: `base` (and its parents)
 * if missing, then mkdtemp base/<run_id>_XXXXXX ('/' in run_id becomes
 * '_').  base NULL: a fresh $TMPDIR/muster_XXXXXX first (torchrun's
 * tempfile.mkdtemp("torchelastic_")).  The path into out.  0, or a
 * negative errno with a sentence naming the directory in err. */
int mu_log_job_dir (const char *base, const char *run_id, char *out,
                    size_t outlen, char *err, size_t errlen);

/* One worker's files: make job_dir/attempt_<attempt>/<local_rank>/ and
 * open (truncating: a re-formed gang with the same restart count replaces
 * them, as torchrun does) stdout.log and/or stderr.log as `mask` says;
 * fds[0], fds[1] are -1 where not opened.  The rank's directory into
 * rank_dir.  0, or a negative errno with a sentence in err (nothing left
 * open). */
int mu_log_open_worker (const char *job_dir, uint64_t attempt,
                        uint32_t local_rank, unsigned mask, int fds[2],
                        char *rank_dir, size_t dirlen, char *err,
                        size_t errlen);

#endif
