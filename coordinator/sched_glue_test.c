/*
 * sched_glue_test.c — the pure part of musterd's scheduler glue
 * (sched_glue_spec.c) and the node label check (common/node_label.c):
 * a submitted spec in the scheduler's unit, the tenant rule, --quota and
 * --label arguments, with the errors they give.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "common/node_label.h"
#include "coordinator/sched_glue.h"

static void
test_job_of (void **st)
{
  (void)st;
  char *labels[] = { (char *)"zone=a" };
  mu_role_spec_t roles[2];
  memset (roles, 0, sizeof roles);
  roles[0].name = (char *)"worker";
  roles[0].min_nodes = 2;
  roles[0].max_nodes = 4;
  roles[0].nproc = 8;
  roles[0].slots = 8; /* ignored: one agent is one slot */
  roles[0].labels.v = labels;
  roles[0].labels.n = 1;
  roles[1].name = (char *)"ps";
  roles[1].min_nodes = roles[1].max_nodes = 1;
  roles[1].nproc = 1;
  mu_job_spec_t spec;
  memset (&spec, 0, sizeof spec);
  spec.id = (char *)"j";
  spec.roles.v = roles;
  spec.roles.n = 2;
  spec.priority = 7;
  spec.kind = (char *)"ps";
  spec.tenant = (char *)"asked";
  mu_sched_spec_t out;
  char err[256] = "";
  assert_int_equal (mu_sg_job_of (&spec, "team", &out, err, sizeof err), 0);
  assert_string_equal (out.job.tenant, "team"); /* the resolved one */
  assert_int_equal (out.job.priority, 7);
  assert_int_equal (out.job.kind, MU_SCHED_PS);
  assert_true (out.job.elastic);
  assert_int_equal (out.job.nroles, 2);
  assert_int_equal (out.roles[0].slots, 1);
  assert_int_equal (out.roles[0].min, 2);
  assert_int_equal (out.roles[0].max, 4);
  assert_int_equal (out.roles[0].nselector, 1);
  assert_string_equal (out.roles[0].selector[0], "zone=a");
  assert_int_equal (out.roles[1].slots, 1);
  spec.kind = (char *)"batch";
  assert_int_equal (mu_sg_job_of (&spec, "team", &out, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "kind"));
}

static void
test_tenant (void **st)
{
  (void)st;
  const char *t = NULL;
  char err[256] = "";
  assert_int_equal (mu_sg_tenant (NULL, "ann", 0, &t, err, sizeof err), 0);
  assert_string_equal (t, "ann");
  assert_int_equal (mu_sg_tenant ("ann", "ann", 0, &t, err, sizeof err), 0);
  assert_string_equal (t, "ann");
  assert_int_equal (mu_sg_tenant ("recsys", "ann", 1, &t, err, sizeof err), 0);
  assert_string_equal (t, "recsys");
  assert_int_equal (mu_sg_tenant ("recsys", "ann", 0, &t, err, sizeof err),
                    MUSTER_EPERM);
  assert_string_equal (err, "field 'tenant': ann may submit only as tenant "
                            "ann (an admin may name another), not recsys");
}

static void
test_quota_arg (void **st)
{
  (void)st;
  char tenant[64], err[256] = "";
  uint32_t slots = 9;
  assert_int_equal (mu_sg_parse_quota ("recsys=16", tenant, sizeof tenant,
                                       &slots, err, sizeof err), 0);
  assert_string_equal (tenant, "recsys");
  assert_int_equal (slots, 16);
  assert_int_equal (mu_sg_parse_quota ("x=0", tenant, sizeof tenant, &slots,
                                       err, sizeof err), 0);
  assert_int_equal (slots, 0);
  const char *bad[] = { "recsys", "=4", "a b=1", "t=", "t=-1", "t=4x",
                        "t=99999999999" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      err[0] = '\0';
      assert_int_equal (mu_sg_parse_quota (bad[i], tenant, sizeof tenant,
                                           &slots, err, sizeof err),
                        MUSTER_EINVAL);
      assert_non_null (strstr (err, bad[i]));
    }
}

static void
test_labels (void **st)
{
  (void)st;
  char err[256] = "";
  assert_int_equal (mu_node_label_check ("zone=a", err, sizeof err), 0);
  assert_int_equal (mu_node_label_check ("gpu=h100", err, sizeof err), 0);
  assert_int_equal (mu_node_label_check ("topology.io/rack=r-1", err,
                                         sizeof err), 0);
  const char *bad[] = { "zone", "=a", "zone=", "zo ne=a", "zone=a=b",
                        "0123456789012345678901234567890123456789012345678"
                        "901234567890123=x" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      assert_int_equal (mu_node_label_check (bad[i], err, sizeof err),
                        MUSTER_EINVAL);
      char want[200];
      snprintf (want, sizeof want, "label '%s'", bad[i]);
      assert_non_null (strstr (err, want));
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_job_of),
    cmocka_unit_test (test_tenant),
    cmocka_unit_test (test_quota_arg),
    cmocka_unit_test (test_labels),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
