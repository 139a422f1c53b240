/*
 * run_report.h — lines `muster run` prints about a job's checkpoints when
 * an epoch starts: which checkpoint it resumes from, or that the previous
 * run of the same id had finished and this one starts fresh.
 */
#ifndef MU_RUN_REPORT_H
#define MU_RUN_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

/* "muster: resuming job X from step N (checkpoint written STAMP, AGE)"
 * when job.start names a checkpoint to restore (and the gang was not
 * re-formed in place, where nobody restores); "" otherwise.  Returns the
 * length. */
size_t mu_run_resume_notice (const mu_start_t *s, uint64_t now_us, char *buf,
                             size_t cap);

/* "muster: job X finished at step N on STAMP; starting fresh (use --resume
 * to continue from its last checkpoint; ... moved to DIR)" when job.start
 * says the previous run of this id had finished; "" otherwise. */
size_t mu_run_finished_notice (const mu_start_t *s, char *buf, size_t cap);

#endif
