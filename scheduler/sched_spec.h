/*
 * sched_spec.h — the scheduler's view of a wire job spec (the one
 * ctl.submit and spec files carry), so that musterd can feed a submitted
 * job to mu_sched_submit() without knowing the scheduler's types.
 */
#ifndef MU_SCHED_SPEC_H
#define MU_SCHED_SPEC_H

#include <stddef.h>

#include "common/proto.h"
#include "scheduler/sched.h"

typedef struct mu_sched_spec
{
  mu_sched_job_t job;
  mu_sched_role_t roles[MU_SCHED_MAX_ROLES];
} mu_sched_spec_t;

/* Fill *out from spec: id, tenant (spec's, else `owner`), priority, kind
 * ("gang" when absent), elastic (some role has min < max), and per role
 * min:max replicas, slots (spec's, else nproc), label selector, and for a
 * service the target (autoscale_min, else the role's min).  The strings
 * are borrowed from spec, which must outlive *out.  0, or MUSTER_EINVAL
 * naming the field in err. */
int mu_sched_spec_from_wire (const mu_job_spec_t *spec, const char *owner,
                             mu_sched_spec_t *out, char *err, size_t errlen);

#endif
