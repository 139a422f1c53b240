/*
 * slurm_step.h — the srun that starts the other nodes of an allocation.
 *
 * The `muster run` that drives an allocation (slurm.h) hosts the
 * coordinator, then starts one joining `muster run` on each other node with
 * a single `srun --nodes=K --ntasks=K --ntasks-per-node=1 --exclude=SELF`.
 * The joiners get the job's join-only token in $MUSTER_JOIN_TOKEN (srun
 * passes the environment, inside one user's allocation; they remove it at
 * once and it never reaches a worker), never the job secret, which stays
 * in this node's state directory.  The srun is a child of this process:
 * the loop runs until it has exited, so nothing is left behind.
 */
#ifndef MU_SLURM_STEP_H
#define MU_SLURM_STEP_H

#include <stdint.h>
#include <uv.h>

#include "common/keys.h"
#include "launcher/slurm.h"

typedef struct mu_slurm_step mu_slurm_step_t;

typedef struct mu_slurm_step_opts
{
  const mu_slurm_plan_t *plan;
  char *const *args;      /* `muster run` arguments (mu_slurm_child_args) */
  const char *join_token; /* mj1_... or NULL (--insecure) */
  const char *srun;       /* the srun program (NULL: "srun" in PATH) */
  int quiet;
} mu_slurm_step_opts_t;

/* getenv as a mu_slurm_getenv_fn. */
const char *mu_slurm_getenv (const char *name, void *arg);

/* mu_slurm_plan with this process's environment and hostname. */
int mu_slurm_plan_env (mu_run_opts_t *o, mu_slurm_plan_t *p, char *err,
                       size_t errlen);

/* An salloc shell on a login node (p->relaunch): exec `srun --nodes=1
 * --ntasks=1 --nodelist=FIRST <this program> run ARGS...` with
 * MUSTER_SLURM_DRIVE=1, so the same command drives the allocation from its
 * first node (srun passes this process's signals on to it).  Returns only
 * when the exec failed: the exit status, after a one-line error. */
int mu_slurm_relaunch (const mu_slurm_plan_t *p, int argc, char **argv);

/* Start the joiners of plan p: the child arguments from the original
 * options (opts[0..nopts), mu_slurm_child_args), the coordinator's bound
 * endpoint, the job id, and the join-only form of the job's token (NULL
 * with --insecure).  As mu_slurm_step_start. */
int mu_slurm_step_launch (uv_loop_t *loop, const mu_slurm_plan_t *p,
                          const mu_run_opts_t *o, char **opts, int nopts,
                          const char *endpoint, const char *job_id,
                          const mu_token_t *token, mu_slurm_step_t **out,
                          char *err, size_t errlen);

/* Start the srun on loop.  0 with *out set (caller owns it: destroy after
 * the loop has ended), or a negative code with the reason in err. */
int mu_slurm_step_start (uv_loop_t *loop, const mu_slurm_step_opts_t *opts,
                         mu_slurm_step_t **out, char *err, size_t errlen);

/* This node's job is over: if the srun has not exited after wait_ms,
 * SIGTERM it (srun passes it to the joiners), SIGKILL 10 s later.
 * Idempotent. */
void mu_slurm_step_finish (mu_slurm_step_t *s, uint64_t wait_ms);

/* Whether the srun has exited, and its status (exit code, or 128+signal). */
int mu_slurm_step_exited (const mu_slurm_step_t *s, int *status);

/* The job was suspended (preempted, or Slurm's --signal warning, with a
 * checkpoint): `scontrol requeue JOB`, so Slurm runs the batch script
 * again and the same command resumes from the checkpoint.  A job that
 * ends by itself within GraceTime is otherwise recorded as failed, not
 * requeued.  Blocks until scontrol exits (call it after the loop); says
 * so on stderr first (the requeue ends this process), and again if it
 * failed.  0, or -1 when scontrol failed (the job is not
 * requeueable: --no-requeue, JobRequeue=0). */
int mu_slurm_requeue (const mu_slurm_plan_t *p, int quiet);

/* Free a step whose handles are closed (after uv_run returned); NULL ok. */
void mu_slurm_step_destroy (mu_slurm_step_t **s_p);

#endif
