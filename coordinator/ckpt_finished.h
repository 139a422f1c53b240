/*
 * ckpt_finished.h — the FINISHED marker of a job's checkpoint directory.
 *
 * When a job succeeds, the coordinator writes <ckpt_dir>/<job>/FINISHED
 * (atomically) with the step of its last checkpoint and the time.  A new
 * run of the same id then starts fresh instead of quietly continuing a
 * finished run: the old run's directory is moved aside (never deleted) to
 * <ckpt_dir>/<job>.finished-<YYYYmmdd-HHMMSS>[-N].  With `muster run
 * --resume` the marker is removed instead and the run continues from the
 * newest checkpoint.
 */
#ifndef MU_CKPT_FINISHED_H
#define MU_CKPT_FINISHED_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MU_CKPT_FINISHED_NAME "FINISHED"

/* The marker's text: "step N\nfinished_us U\n" plus a human stamp line.
 * Returns the length (truncated to cap like snprintf). */
size_t mu_ckpt_finished_format (uint64_t step, uint64_t finished_us,
                                char *buf, size_t cap);
/* Parse it back; 0, or MUSTER_EINVAL when a line is missing or malformed
 * (extra lines are ignored). */
int mu_ckpt_finished_parse (const char *text, uint64_t *step,
                            uint64_t *finished_us);

/* Write the marker into job_dir (blocking: tmp, fsync, rename, fsync of
 * the directory), owned by uid:gid ((uid_t)-1 leaves it).  0 or -errno. */
int mu_ckpt_finished_write (const char *job_dir, uint64_t step,
                            uint64_t finished_us, uid_t uid, gid_t gid);

/* At job creation (blocking): is there a marker in job_dir?  0 when not
 * (or no directory).  1 when there was one, with *step and *finished_us
 * filled, and then: resume != 0: the marker is removed (the run continues
 * from the newest checkpoint); resume == 0: job_dir is renamed aside, its
 * new path in moved (cap bytes).  Negative: the marker could not be read
 * or acted on (err says why). */
int mu_ckpt_finished_take (const char *job_dir, int resume, uint64_t *step,
                           uint64_t *finished_us, char *moved, size_t cap,
                           char *err, size_t errlen);

#endif
