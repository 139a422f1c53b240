/*
 * elf_needs.h — does an executable link a given shared library?
 *
 * `muster run --elastic-mode in-place` needs workers that link libmuster
 * (only they can hear of a membership change); this answers, for an ELF
 * program, from its DT_NEEDED entries, without running it.
 */
#ifndef MU_ELF_NEEDS_H
#define MU_ELF_NEEDS_H

/* 1 if the ELF file at `path` lists a DT_NEEDED entry starting with
 * `soname_prefix` (e.g. "libmuster.so"), 0 if it does not, MUSTER_EINVAL if
 * it is not a 64-bit ELF file with a dynamic section (a script, a static
 * binary), or a negative errno if it cannot be read. */
int mu_elf_needs (const char *path, const char *soname_prefix);

#endif
