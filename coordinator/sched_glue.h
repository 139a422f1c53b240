/*
 * sched_glue.h — musterd's use of the gang scheduler (scheduler/sched.h).
 *
 * The scheduler is a pure library; this is the glue that feeds it and
 * carries out what it decides, so a platform driving the control port gets
 * priorities, quotas, all-or-nothing gangs, preemption by checkpoint and
 * suspend, resume, drains and tidal multiplexing (decisions 81-85 in
 * docs/architecture.md).
 *
 *  - Inventory: an agent registered without a job of its own is one node of
 *    one slot (it hosts one job member at a time), with the labels it sent
 *    (`muster-agent --label k=v`).  A node serving a job it brought (muster
 *    run) is out of the inventory while it does.
 *  - Jobs: a submitted job (ctl.submit) is handed to the scheduler at submit
 *    time (a quota it can never fit is a structured MUSTER_EQUOTA there);
 *    a replica of a role is one agent of that role.
 *  - One pass per loop turn at most, when something changed (a uv_prepare):
 *    the inventory and the jobs are reconciled with the coordinator's
 *    tables (nodes come and go, jobs finish or are suspended), then ticks
 *    run and their decisions are carried out (sched_glue_apply.c).
 *
 * The spec translation and the argument checks (sched_glue_spec.c) are
 * pure and unit-tested (sched_glue_test.c).
 */
#ifndef MU_SCHED_GLUE_H
#define MU_SCHED_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"
#include "scheduler/sched.h"
#include "scheduler/sched_spec.h"

struct mu_coord;
struct mu_job;
struct mu_node;

/* ------------------------------------------------ pure (sched_glue_spec.c) */

/* Translate spec (tenant already resolved) into out (scheduler/
 * sched_spec.h), with musterd's unit: a replica is one agent, one slot
 * (an agent hosts one job member: decision 81), whatever the role's
 * `slots` says.  0, or MUSTER_EINVAL naming the field. */
int mu_sg_job_of (const mu_job_spec_t *spec, const char *tenant,
                  mu_sched_spec_t *out, char *err, size_t errlen);
/* The tenant a submit counts against: the spec's `tenant` when it is the
 * submitter's own name or the submitter is an admin; NULL/"" = the
 * submitter's.  0 with *out set, or MUSTER_EPERM naming the field. */
int mu_sg_tenant (const char *asked, const char *owner, int admin,
                  const char **out, char *err, size_t errlen);
/* "TENANT=SLOTS" (musterd --quota).  0 or MUSTER_EINVAL with a sentence. */
int mu_sg_parse_quota (const char *arg, char *tenant, size_t cap,
                       uint32_t *slots, char *err, size_t errlen);

/* ------------------------------------------------------- in musterd */

/* Create the scheduler with the quotas of opts (mu_coord_new).  0 or a
 * code with a sentence. */
int mu_sched_glue_new (struct mu_coord *c, char *err, size_t errlen);
/* Start the loop-turn pass (mu_coord_start) / stop it (mu_coord_stop). */
void mu_sched_glue_start (struct mu_coord *c);
void mu_sched_glue_stop (struct mu_coord *c);
void mu_sched_glue_free (struct mu_coord *c);
/* Something changed: run a pass before the loop next waits. */
void mu_sched_glue_dirty (struct mu_coord *c);

/* A node's labels from its registration (copied, checked; a bad one is
 * logged and left out). */
void mu_sched_glue_node_labels (struct mu_coord *c, struct mu_node *n,
                                const mu_strmap_t *labels);
/* The node's table slot is released: out of the inventory, and what the
 * glue keeps on it freed.  c may be NULL (the coordinator is freed). */
void mu_sched_glue_node_free (struct mu_coord *c, struct mu_node *n);

/* ctl.submit, before the job is created: resolve the tenant and queue the
 * job (MUSTER_EQUOTA naming tenant, quota and need when it can never
 * fit).  0 with the tenant copied into tenant, or a code with err. */
int mu_sched_glue_submit (struct mu_coord *c, const mu_job_spec_t *spec,
                          uint32_t uid, int admin, char *tenant, size_t cap,
                          char *err, size_t errlen);
/* The job was created after mu_sched_glue_submit (tenant: its result). */
void mu_sched_glue_created (struct mu_coord *c, struct mu_job *j,
                            const char *tenant);
/* The job could not be created after mu_sched_glue_submit. */
void mu_sched_glue_abandon (struct mu_coord *c, const char *id);

/* A sentence on a submitted job the scheduler holds back (queued,
 * suspended for another job), or NULL when it has nothing to say. */
const char *mu_sched_glue_reason (const struct mu_coord *c, const struct mu_job *j,
                                  char *buf, size_t cap);

/* Is j queued in the scheduler (pending, or suspended by it)? */
int mu_sched_glue_queued (const struct mu_coord *c, const struct mu_job *j);

/* A service's (or an elastic job's) wanted replicas of a role, through
 * the scheduler (S3: growth may preempt lower-priority elastic work).
 * role NULL or "" = the job's first role.  0 or a code with err. */
int mu_sched_glue_set_target (struct mu_coord *c, struct mu_job *j,
                              const char *role, uint32_t target, char *err,
                              size_t errlen);
/* ctl.scale of a submitted job: new min..max of a role, through the
 * scheduler (a pass runs at once).  0 with a summary in msg (and *step,
 * when a checkpoint comes before members leave), or a code with err. */
int mu_sched_glue_scale (struct mu_coord *c, struct mu_job *j, uint32_t role,
                         uint64_t nmin, uint64_t nmax, char *msg,
                         size_t msglen, uint64_t *step, char *err,
                         size_t errlen);

/* The scheduler freed job id's allocations itself (it ended, or its
 * suspension was acked): its nodes hold nothing of it any more. */
void mu_sched_glue_forget (struct mu_coord *c, const char *id);

/* sched_glue_apply.c: carry out one tick's decisions (copied). */
void mu_sched_glue_apply (struct mu_coord *c, const mu_sched_decision_t *d,
                          size_t n);
/* Nodes whose SHRINK waited for a checkpoint: release those now free. */
void mu_sched_glue_releases (struct mu_coord *c);

#endif
