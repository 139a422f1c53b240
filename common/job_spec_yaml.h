/*
 * job_spec_yaml.h — job spec files: YAML (libyaml) in, the wire job spec
 * (proto_schema.def job_spec / role_spec) out, for `muster submit FILE`
 * and any platform that keeps its jobs as files.
 *
 * The format is documented field by field in docs/scheduler.md; every
 * error names the file, line and column of the offending value and the
 * field's path ("spec.yaml:7:12: roles[1].replicas: expected N or MIN:MAX,
 * got \"x\""), unknown fields are errors (with a did-you-mean), and all
 * errors of a file are reported at once, one per line.  Durations follow
 * the project's rule (util.h: a bare number is seconds).
 */
#ifndef MU_JOB_SPEC_YAML_H
#define MU_JOB_SPEC_YAML_H

#include <stddef.h>

#include "common/proto.h"

/* Most errors reported for one file (the rest are counted). */
#define MU_SPEC_MAX_ERRORS 16

/* Parse `len` bytes of YAML named `fname` (for messages) into *out, a new
 * spec the caller owns and frees with mu_job_spec_free().  0, or
 * MUSTER_EINVAL with every error in err (lines joined by '\n'), or -ENOMEM. */
int mu_job_spec_yaml_parse (const char *text, size_t len, const char *fname,
                            mu_job_spec_t **out, char *err, size_t errlen);

/* The same, reading the file at path ("-" = standard input); a file that
 * cannot be read is MUSTER_ENOTFOUND or -errno with the reason in err. */
int mu_job_spec_yaml_load (const char *path, mu_job_spec_t **out, char *err,
                           size_t errlen);

#endif
