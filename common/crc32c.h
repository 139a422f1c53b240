/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of every checkpoint shard
 * and of every journal record (common/, so both may use it).
 *
 * CRC-32C rather than zlib's CRC-32 because x86-64 computes it in hardware
 * (SSE4.2 `crc32`), at several GB/s on one core, far above any disk a
 * checkpoint is written to, and it is what ext4, iSCSI and RocksDB use.
 * mu_crc32c() picks the instruction at run time when the CPU has it and
 * otherwise falls back to slice-by-8 tables; both give identical results
 * (crc32c_test.c cross-checks them on random buffers).
 *
 * The value is the standard one: initial value all ones, reflected, final
 * complement, so mu_crc32c (0, "123456789", 9) == 0xE3069283.  The `crc`
 * argument chains calls: crc = mu_crc32c (crc, next, len) over consecutive
 * pieces equals one call over their concatenation; start from 0.
 *
 * No state: the CPU check is __builtin_cpu_supports, read on every call.
 */
#ifndef MU_CRC32C_H
#define MU_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32C of `len` bytes at `buf` continuing from `crc` (0 to start). */
uint32_t mu_crc32c (uint32_t crc, const void *buf, size_t len);

/* The portable slice-by-8 path, available everywhere. */
uint32_t mu_crc32c_sw (uint32_t crc, const void *buf, size_t len);

/* Does this CPU have the SSE4.2 crc32 instruction? */
bool mu_crc32c_hw_available (void);

/* The SSE4.2 path.  Only call it when mu_crc32c_hw_available() is true
 * (on another CPU it dies with SIGILL); on a non-x86 build it is the
 * software path. */
uint32_t mu_crc32c_hw (uint32_t crc, const void *buf, size_t len);

#endif
