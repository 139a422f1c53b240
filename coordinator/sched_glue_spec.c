/*
 * sched_glue_spec.c — the pure part of musterd's scheduler glue
 * (sched_glue.h): a submitted spec in the scheduler's unit (one agent, one
 * slot), whose tenant a submit counts against, and the check of
 * `musterd --quota TENANT=SLOTS` (labels: common/node_label.h).  No
 * coordinator, no I/O: unit-tested in sched_glue_test.c.
 */
#include "coordinator/sched_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/node_label.h"

int
mu_sg_job_of (const mu_job_spec_t *spec, const char *tenant,
              mu_sched_spec_t *out, char *err, size_t errlen)
{
  int rc = mu_sched_spec_from_wire (spec, tenant, out, err, errlen);
  if (rc != 0)
    return rc;
  out->job.tenant = tenant; /* resolved by mu_sg_tenant */
  for (size_t i = 0; i < out->job.nroles; i++)
    out->roles[i].slots = 1; /* an agent hosts one member (decision 81) */
  return 0;
}

int
mu_sg_tenant (const char *asked, const char *owner, int admin,
              const char **out, char *err, size_t errlen)
{
  if (asked == NULL || *asked == '\0' || strcmp (asked, owner) == 0)
    {
      *out = owner;
      return 0;
    }
  if (!admin)
    {
      snprintf (err, errlen,
                "field 'tenant': %s may submit only as tenant %s (an admin "
                "may name another), not %s", owner, owner, asked);
      return MUSTER_EPERM;
    }
  if (strlen (asked) >= MU_SCHED_NAME_MAX)
    {
      snprintf (err, errlen, "field 'tenant': longer than %d bytes",
                MU_SCHED_NAME_MAX - 1);
      return MUSTER_EINVAL;
    }
  *out = asked;
  return 0;
}

int
mu_sg_parse_quota (const char *arg, char *tenant, size_t cap, uint32_t *slots,
                   char *err, size_t errlen)
{
  const char *eq = strchr (arg, '=');
  size_t tl = eq ? (size_t)(eq - arg) : 0;
  if (eq == NULL || !mu_node_label_name_ok (arg, tl) || tl >= cap)
    {
      snprintf (err, errlen,
                "--quota %s: expected TENANT=SLOTS, TENANT of 1-63 of "
                "[A-Za-z0-9._/-]", arg);
      return MUSTER_EINVAL;
    }
  char *end = NULL;
  unsigned long long v = strtoull (eq + 1, &end, 10);
  if (eq[1] < '0' || eq[1] > '9' || end == NULL || *end != '\0'
      || v > UINT32_MAX)
    {
      snprintf (err, errlen,
                "--quota %s: SLOTS must be a whole number 0..%u (0 = "
                "unlimited)", arg, (unsigned)UINT32_MAX);
      return MUSTER_EINVAL;
    }
  memcpy (tenant, arg, tl);
  tenant[tl] = '\0';
  *slots = (uint32_t)v;
  return 0;
}
