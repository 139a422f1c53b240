/*
 * ckpt.h — the coordinator's side of checkpoints: triggers, the two-phase
 * commit driven from the loop, restore points, and preemption.  Internal
 * to the coordinator (ckpt.c, ckpt_io.c).
 */
#ifndef MU_COORD_CKPT_H
#define MU_COORD_CKPT_H

#include "coordinator/coord.h"

/* Set the job up for checkpoints if its spec names a ckpt_dir.  Returns 1
 * when the scan for the newest complete checkpoint was started off the
 * loop: ckpt.c opens the job's first round when it finishes.  0 when there
 * is nothing to scan (the caller opens the round), negative on error. */
int mu_ckpt_job_init (mu_job_t *j);

/* A job submitted with a ckpt_dir: can checkpoints be written there
 * (mu_ckpt_dir_probe, as the coordinator, new directories handed to the
 * owner uid:gid when running as root)?  0, or -errno with one sentence in
 * `err` ("ckpt_dir: checkpoint directory /x is not writable: ...").  A
 * few blocking syscalls on the loop, once per submission. */
int mu_ckpt_check_dir (const mu_job_spec_t *spec, uint32_t uid, uint32_t gid,
                       char *err, size_t errlen);

/* An epoch started (periodic timer, abort of an attempt of the old one). */
void mu_ckpt_epoch_started (mu_job_t *j);

/* Take a checkpoint now.  0, or MUSTER_EINVAL (no ckpt_dir), MUSTER_EEXIST
 * (one is in flight), MUSTER_EJOBDONE (not running), with `err`. */
int mu_ckpt_trigger (mu_job_t *j, const char *reason, uint64_t timeout_ms,
                     char *err, size_t errlen);

/* A member's ckpt.saved, relayed by its agent. */
void mu_ckpt_on_saved (mu_coord_t *c, mu_node_t *n,
                       const mu_ckpt_saved_t *saved);

/* An agent's heartbeat said its workers reached `step`. */
void mu_ckpt_note_step (mu_job_t *j, uint64_t step);

/* Members are gone (node lost or left): abort an attempt that waited on
 * them. */
void mu_ckpt_lost (mu_job_t *j, uint64_t first_rank, uint64_t count);

/* Preempt the whole job: checkpoint (within grace_ms), stop, suspend. */
void mu_ckpt_preempt_job (mu_job_t *j, uint64_t grace_ms, const char *why);

/* Preempt one node: checkpoint, then release it; the job goes on without it
 * if it can, else it is suspended. */
void mu_ckpt_preempt_node (mu_coord_t *c, mu_node_t *n, uint64_t grace_ms,
                           const char *why);

/* Resume a suspended job from its newest complete checkpoint. */
int mu_ckpt_resume (mu_job_t *j, char *err, size_t errlen);

/* Timers and machine: close (before the job is freed) and free. */
/* The job finished (succeeded, failed, cancelled, suspended): an attempt
 * still collecting is dropped, and no step directory of an attempt that
 * did not commit stays. */
void mu_ckpt_job_ended (mu_job_t *j);
void mu_ckpt_job_close (mu_job_t *j);
void mu_ckpt_job_free (mu_job_t *j);

/* ckpt_io.c: blocking work run on libuv's thread pool. */
typedef struct mu_ckpt_io mu_ckpt_io_t;
/* Find the newest complete, valid (CRC-checked) checkpoint. */
int mu_ckpt_io_scan (mu_job_t *j);
/* Write the MANIFEST of the WRITING attempt, then apply retention. */
int mu_ckpt_io_commit (mu_job_t *j, mu_ckpt_manifest_t *m, uint64_t step);
/* Make a step directory ready off the loop; mu_ckpt_prepared is called
 * with the outcome.  0, or a negative code if the work was not queued. */
int mu_ckpt_io_prepare (mu_job_t *j, uint64_t step, uint64_t epoch,
                        int now_mode, uint64_t timeout_ms);

/* Remove the step directory of an aborted attempt off the loop, unless it
 * holds a MANIFEST; a failure is logged (retention removes it later). */
int mu_ckpt_io_discard (mu_job_t *j, uint64_t step);

/* ckpt.c entry points ckpt_io.c calls back on the loop thread. */
void mu_ckpt_scan_done (mu_job_t *j, int rc, uint64_t step, const char *skips,
                        uint64_t created_us);
/* The scan found the FINISHED marker of a previous run (resume: removed;
 * else its checkpoints were moved to `moved`). */
void mu_ckpt_finished_seen (mu_job_t *j, int resume, uint64_t step,
                            uint64_t finished_us, const char *moved);
/* The job succeeded: mark its checkpoint directory FINISHED (blocking, a
 * small file: it must be durable before the job is reported done, so a
 * rerun started the moment the launcher exits finds it). */
void mu_ckpt_job_succeeded (mu_job_t *j);
void mu_ckpt_commit_io_done (mu_job_t *j, int status);
void mu_ckpt_prepared (mu_job_t *j, uint64_t step, uint64_t epoch,
                       int now_mode, uint64_t timeout_ms, int rc,
                       const char *dir, const char *err);

#endif
