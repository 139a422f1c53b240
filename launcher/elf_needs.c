/*
 * elf_needs.c — read DT_NEEDED from an ELF64 file (see elf_needs.h).
 *
 * The file is read whole (bounded at 512 MiB) and every offset is checked
 * against its size before use, so a truncated or hostile file is answered
 * with MUSTER_EINVAL, never a crash.
 */
#include "launcher/elf_needs.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <muster/error.h>

#define MAX_ELF_BYTES (512u << 20)

static int
in_bounds (size_t size, uint64_t off, uint64_t len)
{
  return off <= size && len <= size - off;
}

static int
scan (const unsigned char *buf, size_t size, const char *prefix)
{
  if (size < sizeof (Elf64_Ehdr) || memcmp (buf, ELFMAG, SELFMAG) != 0
      || buf[EI_CLASS] != ELFCLASS64)
    return MUSTER_EINVAL;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)buf;
  if (eh->e_shentsize != sizeof (Elf64_Shdr)
      || !in_bounds (size, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof (Elf64_Shdr)))
    return MUSTER_EINVAL;
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(buf + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; i++)
    {
      if (sh[i].sh_type != SHT_DYNAMIC)
        continue;
      if (sh[i].sh_link >= eh->e_shnum
          || !in_bounds (size, sh[i].sh_offset, sh[i].sh_size))
        return MUSTER_EINVAL;
      const Elf64_Shdr *str = &sh[sh[i].sh_link];
      if (!in_bounds (size, str->sh_offset, str->sh_size))
        return MUSTER_EINVAL;
      const char *strtab = (const char *)buf + str->sh_offset;
      const Elf64_Dyn *dyn = (const Elf64_Dyn *)(buf + sh[i].sh_offset);
      size_t n = sh[i].sh_size / sizeof (Elf64_Dyn);
      size_t plen = strlen (prefix);
      for (size_t k = 0; k < n && dyn[k].d_tag != DT_NULL; k++)
        {
          if (dyn[k].d_tag != DT_NEEDED || dyn[k].d_un.d_val >= str->sh_size)
            continue;
          const char *name = strtab + dyn[k].d_un.d_val;
          size_t max = str->sh_size - dyn[k].d_un.d_val;
          if (strnlen (name, max) >= plen && strncmp (name, prefix, plen) == 0)
            return 1;
        }
      return 0;
    }
  return MUSTER_EINVAL; /* static, or not a program */
}

int
mu_elf_needs (const char *path, const char *soname_prefix)
{
  FILE *f = fopen (path, "rb");
  if (f == NULL)
    return -errno;
  struct stat st;
  if (fstat (fileno (f), &st) != 0 || st.st_size <= 0
      || (uint64_t)st.st_size > MAX_ELF_BYTES)
    {
      fclose (f);
      return MUSTER_EINVAL;
    }
  size_t size = (size_t)st.st_size;
  unsigned char *buf = malloc (size);
  if (buf == NULL)
    {
      fclose (f);
      return -ENOMEM;
    }
  size_t got = fread (buf, 1, size, f);
  fclose (f);
  int rc = got == size ? scan (buf, size, soname_prefix) : MUSTER_EINVAL;
  free (buf);
  return rc;
}
