/*
 * nproc.h — `--nproc-per-node auto|gpu|cpu`, as torchrun counts them.
 *
 * gpu: the NVIDIA GPUs present, i.e. the /dev/nvidia<N> device nodes,
 * or, when CUDA_VISIBLE_DEVICES is set, its entries (at most the devices
 * present; CUDA stops at the first negative entry, so do we); none is an
 * error.  cpu: the CPUs this process may run on (sched_getaffinity, what
 * os.sched_getaffinity and nproc(1) report).  auto: the GPUs if there are
 * any, else the CPUs.  The device directory and the variable are
 * arguments, so the counting is unit-tested without a GPU (nproc_test.c).
 */
#ifndef MU_NPROC_H
#define MU_NPROC_H

#include <stddef.h>
#include <stdint.h>

/* Is `v` one of auto, gpu, cpu? */
int mu_nproc_is_kind (const char *v);

/* GPUs: device nodes nvidia<digits> in dev_dir ("/dev"), limited by
 * cuda_visible (the value of CUDA_VISIBLE_DEVICES; NULL = unset).  0 when
 * none. */
uint32_t mu_nproc_gpus (const char *dev_dir, const char *cuda_visible);

/* CPUs this process may use (at least 1). */
uint32_t mu_nproc_cpus (void);

/* Resolve kind (auto, gpu, cpu) into *out.  0, or MUSTER_EINVAL with a
 * sentence in err (gpu on a machine without one). */
int mu_nproc_resolve (const char *kind, const char *dev_dir,
                      const char *cuda_visible, uint32_t *out, char *err,
                      size_t errlen);

#endif
