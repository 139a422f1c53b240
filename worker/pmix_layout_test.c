/*
 * pmix_layout_test.c — a job epoch as a PMIx namespace: node order, the
 * per-node rank lists, this node's ranks, and the refusals of a
 * membership PMIx cannot be told.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "worker/pmix_layout.h"

/* Three nodes listed out of rank order, 2 + 3 + 1 ranks; this is node_rank
 * `me`. */
static void
make_start (mu_start_t *s, mu_peer_node_t nodes[3], mu_assign_t *as,
            uint64_t me)
{
  memset (s, 0, sizeof *s);
  memset (nodes, 0, 3 * sizeof *nodes);
  nodes[0] = (mu_peer_node_t){
    .node_id = "nb", .node_rank = 1, .first_rank = 2, .nproc = 3
  };
  nodes[1] = (mu_peer_node_t){
    .node_id = "na", .node_rank = 0, .first_rank = 0, .nproc = 2
  };
  nodes[2] = (mu_peer_node_t){
    .node_id = "nc", .node_rank = 2, .first_rank = 5, .nproc = 1
  };
  s->job = "j1";
  s->epoch = 7;
  s->world = 6;
  s->nnodes = 3;
  s->node_rank = me;
  s->nodes.v = nodes;
  s->nodes.n = 3;
  uint64_t first = me == 0 ? 0 : me == 1 ? 2 : 5;
  uint64_t n = me == 0 ? 2 : me == 1 ? 3 : 1;
  for (uint64_t i = 0; i < n; i++)
    as[i] = (mu_assign_t){ .rank = first + i, .local_rank = i };
  s->assign.v = as;
  s->assign.n = n;
}

static void
three_nodes (void **state)
{
  (void)state;
  mu_start_t s;
  mu_peer_node_t nodes[3];
  mu_assign_t as[3];
  make_start (&s, nodes, as, 1);
  mu_pmix_layout_t l;
  char err[256];
  assert_int_equal (mu_pmix_layout_build (&s, &l, err, sizeof err), 0);
  assert_string_equal (l.nspace, "muster.j1.7");
  assert_string_equal (l.node_csv, "na,nb,nc");
  assert_string_equal (l.ppn, "0,1;2,3,4;5");
  assert_int_equal (l.world, 6);
  assert_int_equal (l.nnodes, 3);
  assert_int_equal (l.node_index, 1);
  assert_int_equal (l.first_local, 2);
  assert_int_equal (l.nlocal, 3);
  uint32_t node_of[6] = { 0, 0, 1, 1, 1, 2 };
  uint32_t local_of[6] = { 0, 1, 0, 1, 2, 0 };
  for (int r = 0; r < 6; r++)
    {
      assert_int_equal (l.node_of[r], node_of[r]);
      assert_int_equal (l.local_rank_of[r], local_of[r]);
    }
  mu_pmix_layout_free (&l);
}

static void
refusals (void **state)
{
  (void)state;
  mu_start_t s;
  mu_peer_node_t nodes[3];
  mu_assign_t as[3];
  mu_pmix_layout_t l;
  char err[256];

  make_start (&s, nodes, as, 0);
  s.nodes.n = 2; /* a large job's job.start lists only a few nodes */
  assert_int_equal (mu_pmix_layout_build (&s, &l, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "every node"));

  make_start (&s, nodes, as, 0);
  nodes[2].first_rank = 6; /* a gap: rank 5 on no node */
  s.world = 7;
  assert_int_equal (mu_pmix_layout_build (&s, &l, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "contiguously"));

  make_start (&s, nodes, as, 0);
  nodes[1].node_id = "a,b";
  assert_int_equal (mu_pmix_layout_build (&s, &l, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "'a,b'"));

  make_start (&s, nodes, as, 0);
  as[0].rank = 1; /* this node's ranks are not what the node list says */
  assert_int_equal (mu_pmix_layout_build (&s, &l, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "disagree"));

  char job[300];
  memset (job, 'x', sizeof job - 1);
  job[sizeof job - 1] = '\0';
  make_start (&s, nodes, as, 0);
  s.job = job;
  assert_int_equal (mu_pmix_layout_build (&s, &l, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "too long"));
}

static void
fence_keys (void **state)
{
  (void)state;
  char a[128], b[128];
  mu_pmix_fence_key (a, sizeof a, 3, 1, 0);
  mu_pmix_fence_key (b, sizeof b, 3, 1, 1);
  assert_string_not_equal (a, b);
  mu_pmix_fence_key (b, sizeof b, 4, 1, 0);
  assert_string_not_equal (a, b); /* a new epoch, a new key */
  mu_pmix_fence_key (b, sizeof b, 3, 2, 0);
  assert_string_not_equal (a, b);
  assert_string_equal (a, "muster.pmix.3.fence.1.0");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (three_nodes),
    cmocka_unit_test (refusals),
    cmocka_unit_test (fence_keys),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
