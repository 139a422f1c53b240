/*
 * run_spec.h — `muster run` options as the wire job spec: the same record
 * a job spec file (common/job_spec_yaml.h) produces, so that a run's flags
 * and a spec file mean the same thing field by field (docs/scheduler.md).
 */
#ifndef MU_RUN_SPEC_H
#define MU_RUN_SPEC_H

#include <stddef.h>

#include "common/proto.h"
#include "launcher/run_opts.h"

/* Fill *spec from o: id, roles (--roles, else one role from --nnodes and
 * --nproc-per-node, named --role or "worker"; roles[] receives them, at
 * least MU_RUN_MAX_ROLES entries), the program, restart budget, elastic
 * mode and rendezvous waits, grace, outage window, hang detection,
 * checkpoint options, PS buckets and --resume.  Strings are borrowed from
 * o and id.  The embedded coordinator's last-call rule (no wait without
 * --rdzv-endpoint) is the launcher's, not the spec's: it is not applied. */
void mu_run_spec_from_opts (const mu_run_opts_t *o, const char *id,
                            mu_job_spec_t *spec, mu_role_spec_t *roles);

#endif
