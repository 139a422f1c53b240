/*
 * nproc_test.c — counting `--nproc-per-node gpu|cpu|auto` (nproc.c) on a
 * fake device directory: which /dev entries are GPUs, CUDA_VISIBLE_DEVICES,
 * and the error for gpu without one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <muster/error.h>

#include "launcher/nproc.h"

static char dev[64], empty[64];

static void
touch (const char *dir, const char *name)
{
  char p[256];
  snprintf (p, sizeof p, "%s/%s", dir, name);
  int fd = open (p, O_WRONLY | O_CREAT, 0600);
  assert_true (fd >= 0);
  close (fd);
}

static int
setup (void **state)
{
  (void)state;
  snprintf (dev, sizeof dev, "/tmp/mu_nproc_XXXXXX");
  snprintf (empty, sizeof empty, "/tmp/mu_nproc_XXXXXX");
  if (mkdtemp (dev) == NULL || mkdtemp (empty) == NULL)
    return -1;
  /* three GPUs, and the driver's other nodes, which are not GPUs */
  static const char *const names[]
      = { "nvidia0", "nvidia1", "nvidia10", "nvidiactl", "nvidia-uvm",
          "nvidia-uvm-tools", "nvidia-modeset", "nvidia", "null", NULL };
  for (int i = 0; names[i]; i++)
    touch (dev, names[i]);
  touch (empty, "null");
  return 0;
}

static int
teardown (void **state)
{
  (void)state;
  char cmd[200];
  snprintf (cmd, sizeof cmd, "rm -rf '%s' '%s'", dev, empty);
  return system (cmd) == 0 ? 0 : -1;
}

static void
test_gpus (void **state)
{
  (void)state;
  assert_int_equal (mu_nproc_gpus (dev, NULL), 3);
  assert_int_equal (mu_nproc_gpus (empty, NULL), 0);
  assert_int_equal (mu_nproc_gpus ("/nonexistent", NULL), 0);
}

static void
test_cuda_visible (void **state)
{
  (void)state;
  assert_int_equal (mu_nproc_gpus (dev, "0"), 1);
  assert_int_equal (mu_nproc_gpus (dev, "1,0"), 2);
  assert_int_equal (mu_nproc_gpus (dev, "GPU-8a3c1d2e,1"), 2);
  assert_int_equal (mu_nproc_gpus (dev, ""), 0);
  assert_int_equal (mu_nproc_gpus (dev, "-1"), 0);
  assert_int_equal (mu_nproc_gpus (dev, "0,-1,1"), 1); /* CUDA stops there */
  assert_int_equal (mu_nproc_gpus (dev, "0,1,2,3,4"), 3); /* at most present */
  assert_int_equal (mu_nproc_gpus (empty, "0,1"), 0); /* no device at all */
}

static void
test_cpus (void **state)
{
  (void)state;
  cpu_set_t set;
  assert_int_equal (sched_getaffinity (0, sizeof set, &set), 0);
  assert_int_equal (mu_nproc_cpus (), (uint32_t)CPU_COUNT (&set));
}

static void
test_resolve (void **state)
{
  (void)state;
  uint32_t n = 0;
  char err[256] = "";
  uint32_t cpus = mu_nproc_cpus ();
  assert_int_equal (mu_nproc_resolve ("gpu", dev, NULL, &n, err, sizeof err), 0);
  assert_int_equal (n, 3);
  assert_int_equal (mu_nproc_resolve ("auto", dev, "0,1", &n, err, sizeof err), 0);
  assert_int_equal (n, 2);
  assert_int_equal (mu_nproc_resolve ("cpu", dev, NULL, &n, err, sizeof err), 0);
  assert_int_equal (n, cpus);
  assert_int_equal (mu_nproc_resolve ("auto", empty, NULL, &n, err, sizeof err), 0);
  assert_int_equal (n, cpus);
  assert_int_equal (mu_nproc_resolve ("auto", dev, "", &n, err, sizeof err), 0);
  assert_int_equal (n, cpus); /* every GPU hidden: the CPUs */
}

static void
test_gpu_errors (void **state)
{
  (void)state;
  uint32_t n = 7;
  char err[256] = "";
  assert_int_equal (mu_nproc_resolve ("gpu", empty, NULL, &n, err, sizeof err),
                    MUSTER_EINVAL);
  assert_int_equal (n, 7);
  assert_non_null (strstr (err, "--nproc-per-node gpu: this machine has no GPU"));
  assert_int_equal (mu_nproc_resolve ("gpu", dev, "-1", &n, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "CUDA_VISIBLE_DEVICES='-1' leaves no GPU"));
  assert_int_equal (mu_nproc_resolve ("gpus", dev, NULL, &n, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "expected 1..4096, auto, gpu or cpu"));
  assert_true (mu_nproc_is_kind ("auto") && mu_nproc_is_kind ("cpu")
               && mu_nproc_is_kind ("gpu") && !mu_nproc_is_kind ("4"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_gpus),
    cmocka_unit_test (test_cuda_visible),
    cmocka_unit_test (test_cpus),
    cmocka_unit_test (test_resolve),
    cmocka_unit_test (test_gpu_errors),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
