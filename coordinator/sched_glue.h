/*
 * sched_glue.h — what the rest of musterd asks of the scheduler wiring.
 *
 * The `schedwire` work (coordinator/sched_glue*.c) implements these with
 * the pure scheduler (scheduler/); until it lands, sched_glue_standin.c
 * gives the same contract over the control port's scale path.
 */
#ifndef MU_SCHED_GLUE_H
#define MU_SCHED_GLUE_H

#include <stddef.h>
#include <stdint.h>

#include "coordinator/coord.h"

/* Run `role` of job j (NULL or "" = its first role) at `target` nodes
 * (replicas of a service): the autoscaler's and `muster scale`'s one way
 * in.  0, or a negative code with a sentence in err. */
int mu_sched_glue_set_target (mu_coord_t *c, mu_job_t *j, const char *role,
                              uint32_t target, char *err, size_t errlen);

#endif
