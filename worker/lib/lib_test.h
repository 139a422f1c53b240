/*
 * lib_test.h — what the two halves of libmuster's unit test share: the
 * fixture (a temporary directory, a fake agent on ipc://<dir>/a.sock and
 * the MUSTER_* environment a real agent would set) and the tests of
 * lib_test_agent.c that main() in lib_test.c runs.
 */
#ifndef MU_LIB_TEST_H
#define MU_LIB_TEST_H

#include <muster/worker.h>

#include "worker/lib/fake_agent.h"

#define JOB "job-x"
#define EPOCH 7

typedef struct fx {
  char dir[64];
  char ep[128];
  fa_t *fa;
  fa_opts_t o;
} fx_t;

/* Set the environment of `rank` (grace period of a lost link: 500 ms). */
void set_env (const fx_t *f, int rank);
/* Fixtures: 2 nodes x 2 workers, or 2 x 1 (the last node's role is ps). */
int fx_setup (void **state);
int fx_setup_world2 (void **state);
int fx_teardown (void **state);
/* Open a handle as `rank`; fails the test if that fails. */
muster_worker_t *open_rank (fx_t *f, int rank);

/* lib_test_agent.c: the conversation with the agent over time. */
void test_progress_never_blocks (void **state);
void test_report_load (void **state);
/* lib_test_ckpt.c: failed saves are reported, never "saved". */
void test_ckpt_failure_reported (void **state);
void test_ckpt_attempt_moved (void **state);
void test_membership_change (void **state);
void test_garbage_ignored (void **state);
void test_stale_epoch_reply (void **state);
void test_agent_lost (void **state);
void test_agent_restart (void **state);
void test_agent_wedged (void **state);
void test_bye_and_bad_endpoints (void **state);
/* lib_test_migrate.c: live bucket migration. */
void test_bucket_plan (void **state);

#endif
