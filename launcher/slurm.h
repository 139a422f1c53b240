/*
 * slurm.h — what `muster run` learns from a Slurm allocation (slurm.c).
 *
 * Inside a batch script or an salloc shell (SLURM_JOB_ID set, no job step
 * of its own), `muster run` with no endpoint drives the whole allocation:
 * it hosts the coordinator on the node it runs on (the batch host, the
 * allocation's first node) and starts one joining `muster run` on every
 * other node with one `srun` (slurm_step.c).  Everything here is pure: the
 * environment comes in through a lookup function, so every rule and every
 * malformed value is unit-tested (slurm_test.c) without Slurm.
 */
#ifndef MU_SLURM_H
#define MU_SLURM_H

#include <stddef.h>
#include <stdint.h>

#include "launcher/run_opts.h"

#define MU_SLURM_MAX_NODES 65536

/* Expand a Slurm host list ("sn[1-3,5],gpu[08-10],login") into its names,
 * in order, separated by single commas, into out.  Zero padding of a range
 * is kept ("gpu[08-10]" is gpu08,gpu09,gpu10); one bracket group per name.
 * *count gets the number of names.  0, or MUSTER_EINVAL with the problem
 * in err (an unclosed bracket, a range going down, an empty list, more than
 * MU_SLURM_MAX_NODES names), or -ENOSPC when out is too small. */
int mu_slurm_hostlist_expand (const char *list, char *out, size_t outlen,
                              size_t *count, char *err, size_t errlen);

/* The task count of node `index` (0-based) in SLURM_TASKS_PER_NODE's
 * compressed form ("2(x3),1": nodes 0-2 have 2 tasks, node 3 has 1), and
 * the number of nodes the string describes in *nodes.  0, or
 * MUSTER_EINVAL (malformed, or index beyond the nodes described). */
int mu_slurm_tasks_per_node (const char *s, uint32_t index, uint32_t *tasks,
                             uint32_t *nodes, char *err, size_t errlen);

/* How `muster run` drives an allocation. */
typedef struct mu_slurm_plan
{
  int active;         /* drive the allocation from this process */
  uint32_t nnodes;    /* nodes in the allocation */
  uint32_t joiners;   /* nodes srun starts: the others, up to --nnodes' max */
  char job[32];       /* SLURM_JOB_ID */
  char self[256];     /* SLURMD_NODENAME: this node, excluded from srun */
  char first[256];    /* the allocation's first node */
  char endpoint[300]; /* ADDR:* the coordinator binds (port chosen by
                         the kernel; the joiners get the bound one) */
  uint32_t restart_count; /* SLURM_RESTART_COUNT (0 on the first run) */
  int requeue;            /* the job ended suspended: requeue it at exit */
  int relaunch;           /* not on a node of the allocation (an salloc
                             shell on a login node): run this command again
                             on the first node, in a step of one task */
} mu_slurm_plan_t;

typedef const char *(*mu_slurm_getenv_fn) (const char *name, void *arg);

/* 1 inside an allocation but outside any job step of it (a batch script,
 * an salloc shell): SLURM_JOB_ID set, SLURM_STEP_ID not; or in the step
 * of one task that a relaunch from a login node started
 * (MUSTER_SLURM_DRIVE=1). */
int mu_slurm_in_allocation (mu_slurm_getenv_fn get, void *arg);

/* Decide whether this `muster run` drives a Slurm allocation and adjust
 * its options: active when SLURM_JOB_ID is set, SLURM_STEP_ID is not (a
 * task of an srun step is one node of someone else's plan), no
 * --rdzv-endpoint, --master-addr or --standalone was given, and the
 * allocation has more than one node.  Then o->host is set, o->endpoint is
 * p->endpoint (--advertise-host, else `hostname`, with port *), --nnodes
 * left at its default becomes N:N, and --nproc-per-node left at 1 becomes
 * SLURM_NTASKS_PER_NODE when the user asked Slurm for it.  Without
 * SLURMD_NODENAME (an salloc shell on a login node, not a node of the
 * allocation) p->relaunch is set instead and the options are unchanged.
 * 0 (p->active or p->relaunch says which), or MUSTER_EINVAL with a
 * sentence naming the bad SLURM_* variable. */
int mu_slurm_plan (mu_run_opts_t *o, mu_slurm_getenv_fn get, void *arg,
                   const char *hostname, mu_slurm_plan_t *p, char *err,
                   size_t errlen);

/* The arguments of `muster run` for the joining nodes: "run", then
 * --rdzv-endpoint ENDPOINT --rdzv-id ID --nnodes MIN:MAX, then the
 * original options (opts[0..nopts)) without those that name this node or
 * its credentials (--host, --standalone, --advertise-host/--local-addr,
 * --node-id, --node-rank, --join-token, --join-token-file), then "--" and
 * the program with its arguments.  A NULL-terminated array; caller owns
 * it and frees it (one free: the strings live in the same block), or NULL
 * when out of memory. */
char **mu_slurm_child_args (const mu_slurm_plan_t *p, const mu_run_opts_t *o,
                            char **opts, int nopts, const char *endpoint,
                            const char *job_id);

#endif
