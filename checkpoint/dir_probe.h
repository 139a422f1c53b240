/*
 * dir_probe.h — is a checkpoint directory writable, asked before a job
 * starts.
 *
 * A read-only, full or forbidden --ckpt-dir used to be found only at the
 * first checkpoint, minutes or hours into a job, and then quietly.  This
 * check runs where the directory is named (muster run's options, a job
 * submitted to musterd) and turns it into one line at start.
 */
#ifndef MU_DIR_PROBE_H
#define MU_DIR_PROBE_H

#include <stddef.h>
#include <sys/types.h>

/* Make `dir` (mkdir -p, new directories 0700 and chown'ed to uid:gid;
 * (uid_t)-1 / (gid_t)-1 leave them alone), then create, write one byte to,
 * fsync and remove a probe file in it.  0, or -errno with one sentence in
 * `err` naming the directory, the step that failed and the errno:
 * "checkpoint directory /ck is not writable: cannot create a file in it:
 * Read-only file system (EROFS)".  Blocking file I/O (a few syscalls). */
int mu_ckpt_dir_probe (const char *dir, uid_t uid, gid_t gid, char *err,
                       size_t errlen);

#endif
