/*
 * job_id.h — the job id `muster run` uses when --rdzv-id is absent.
 */
#ifndef MU_JOB_ID_H
#define MU_JOB_ID_H

#include <stddef.h>
#include <stdint.h>

/* "<program>-<16 hex>": the program's base name (characters outside
 * [A-Za-z0-9._-] become '_', at most 40 of them) and a 64-bit FNV-1a hash
 * of the program path, every argument, the working directory and the uid.
 * The same command rerun in the same directory by the same user gets the
 * same id (so it finds its checkpoints); anything else a different one.
 * Returns buf. */
const char *mu_job_id_derive (const char *prog_path, char *const *argv,
                              size_t argc, const char *cwd, uint32_t uid,
                              char *buf, size_t cap);

#endif
