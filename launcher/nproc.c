/*
 * nproc.c — counting the workers of `--nproc-per-node auto|gpu|cpu` (see
 * nproc.h).  torchrun asks torch.cuda; muster has no CUDA dependency and
 * counts what the NVIDIA driver exposes, /dev/nvidia0, /dev/nvidia1, ...
 * (not nvidiactl, nvidia-uvm, nvidia-modeset), which is what a container
 * given GPUs sees too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "launcher/nproc.h"

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

int
mu_nproc_is_kind (const char *v)
{
  return strcmp (v, "auto") == 0 || strcmp (v, "gpu") == 0
         || strcmp (v, "cpu") == 0;
}

/* Entries of CUDA_VISIBLE_DEVICES up to the first negative one ("-1"
 * hides every device): "0,1" is 2, "" is 0, "GPU-8a3c...,1" is 2. */
static uint32_t
visible_entries (const char *v)
{
  uint32_t n = 0;
  const char *p = v;
  while (*p)
    {
      const char *comma = strchr (p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen (p);
      while (len > 0 && *p == ' ')
        p++, len--;
      if (len > 0 && *p == '-')
        break;
      if (len > 0)
        n++;
      if (comma == NULL)
        break;
      p = comma + 1;
    }
  return n;
}

uint32_t
mu_nproc_gpus (const char *dev_dir, const char *cuda_visible)
{
  DIR *d = opendir (dev_dir);
  if (d == NULL)
    return 0;
  uint32_t n = 0;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      const char *s = e->d_name;
      if (strncmp (s, "nvidia", 6) != 0 || s[6] == '\0')
        continue;
      s += 6;
      while (*s >= '0' && *s <= '9')
        s++;
      if (*s == '\0')
        n++;
    }
  closedir (d);
  if (n > 0 && cuda_visible != NULL)
    {
      uint32_t v = visible_entries (cuda_visible);
      if (v < n)
        n = v;
    }
  return n;
}

uint32_t
mu_nproc_cpus (void)
{
  cpu_set_t set;
  if (sched_getaffinity (0, sizeof set, &set) == 0)
    {
      int n = CPU_COUNT (&set);
      if (n > 0)
        return (uint32_t)n;
    }
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (uint32_t)n : 1;
}

int
mu_nproc_resolve (const char *kind, const char *dev_dir,
                  const char *cuda_visible, uint32_t *out, char *err,
                  size_t errlen)
{
  if (!mu_nproc_is_kind (kind))
    {
      snprintf (err, errlen, "--nproc-per-node '%s': expected 1..4096, auto, "
                "gpu or cpu", kind);
      return MUSTER_EINVAL;
    }
  uint32_t gpus = strcmp (kind, "cpu") == 0 ? 0
                                            : mu_nproc_gpus (dev_dir, cuda_visible);
  if (strcmp (kind, "gpu") == 0 && gpus == 0)
    {
      if (cuda_visible != NULL && mu_nproc_gpus (dev_dir, NULL) > 0)
        snprintf (err, errlen, "--nproc-per-node gpu: CUDA_VISIBLE_DEVICES='%s' "
                  "leaves no GPU visible", cuda_visible);
      else
        snprintf (err, errlen, "--nproc-per-node gpu: this machine has no GPU "
                  "(no %s/nvidia0, ...); use a number or cpu", dev_dir);
      return MUSTER_EINVAL;
    }
  *out = gpus > 0 ? gpus : mu_nproc_cpus ();
  if (*out > 4096)
    *out = 4096; /* the most --nproc-per-node N takes */
  return 0;
}
