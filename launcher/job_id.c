/*
 * job_id.c — the default job id of `muster run` (see job_id.h).
 *
 * torchrun's default id is one fixed word; with muster a job id names a
 * checkpoint directory (<ckpt-dir>/<id>) and a job on a shared musterd,
 * so one fixed default made unrelated runs merge into one job or resume
 * each other's checkpoints.  The default is derived from what makes a run
 * "the same": the program, its arguments, the directory and the user.
 * Each field is hashed with its length first, so ("a b", "c") and ("a",
 * "b c") differ.  Several nodes of one job must agree on the id: they
 * give --rdzv-id, as with torchrun.
 */
#include "launcher/job_id.h"

#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull
#define NAME_MAX_CHARS 40

static uint64_t
fnv (uint64_t h, const void *p, size_t n)
{
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    {
      h ^= b[i];
      h *= FNV_PRIME;
    }
  return h;
}

static uint64_t
field (uint64_t h, const char *s)
{
  uint64_t n = s ? strlen (s) : 0;
  h = fnv (h, &n, sizeof n);
  return fnv (h, s ? s : "", (size_t)n);
}

const char *
mu_job_id_derive (const char *prog_path, char *const *argv, size_t argc,
                  const char *cwd, uint32_t uid, char *buf, size_t cap)
{
  uint64_t h = FNV_OFFSET;
  h = field (h, prog_path);
  uint64_t n = argc;
  h = fnv (h, &n, sizeof n);
  for (size_t i = 0; i < argc; i++)
    h = field (h, argv[i]);
  h = field (h, cwd);
  h = fnv (h, &uid, sizeof uid);
  const char *base = prog_path ? strrchr (prog_path, '/') : NULL;
  base = base ? base + 1 : (prog_path ? prog_path : "");
  char name[NAME_MAX_CHARS + 1];
  size_t k = 0;
  for (; base[k] && k < NAME_MAX_CHARS; k++)
    {
      char c = base[k];
      int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      name[k] = ok ? c : '_';
    }
  name[k] = '\0';
  if (k == 0)
    snprintf (name, sizeof name, "job");
  else if (name[0] == '.')
    name[0] = '_'; /* "." and ".." are not ids */
  if (cap > 0)
    snprintf (buf, cap, "%s-%016llx", name, (unsigned long long)h);
  return buf;
}
