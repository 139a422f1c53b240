/*
 * job_defaults.c — the table of job option defaults (job_defaults.h).
 */
#include "common/job_defaults.h"

static const mu_job_default_t table[MU_JD__COUNT] = {
#define MU_JD_ROW(ID, field, option, value, unit, doc)                        \
  [MU_JD_##ID] = { field, option, value, unit, doc },
  MU_JOB_DEFAULTS (MU_JD_ROW)
#undef MU_JD_ROW
};

const mu_job_default_t *
mu_job_default (mu_job_default_id_t id)
{
  return (unsigned)id < MU_JD__COUNT ? &table[id] : &table[0];
}

uint64_t
mu_job_default_or (uint64_t v, mu_job_default_id_t id)
{
  return v != 0 ? v : mu_job_default (id)->value;
}
