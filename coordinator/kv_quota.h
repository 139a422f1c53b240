/*
 * kv_quota.h — the bounds on what one job, and one node, may hold in the
 * coordinator's KV store and barriers, as pure functions kv.c applies.
 *
 * Without them one job's workers could grow musterd without limit (60 puts
 * of 15 MB took it from 100 MB to 1 GB in 4 s) and one node could park any
 * number of waiting gets and barrier arrivals.  Three bounds:
 *
 *   - bytes per job: keys + values + barrier names held in the current
 *     epoch, default MU_KV_MAX_BYTES_DEFAULT (64 MiB), musterd
 *     --kv-max-bytes, mu_coord_opts_t.kv_max_bytes;
 *   - keys per job: KV keys + barrier names, default
 *     MU_KV_MAX_KEYS_DEFAULT (65,536), --kv-max-keys, .kv_max_keys;
 *   - waiting requests per node (kv.get that waits, barrier arrivals):
 *     MU_KV_WAITING_PER_SLOT x slots + MU_KV_WAITING_BASE.  The blocking
 *     API holds one request per worker; 4 per slot leave room for the
 *     non-blocking variants (a few gets in flight, a barrier), the base of
 *     64 covers nodes that run more processes than the slots they declared.
 *     At 56 bytes + a key of at most MU_KV_MAX_KEY bytes per waiter, a
 *     node of 8 slots can hold at most 96 x 4 KiB of waits.
 *
 * Keys and barrier names are at most MU_KV_MAX_KEY bytes (MUSTER_ETOOBIG).
 * Everything over a bound is refused with MUSTER_EQUOTA at once; the
 * accounting is emptied with the store at every epoch (mu_kv_reset).
 * Per-entry bookkeeping (the map slot, the value header: under 100 bytes)
 * is not charged; the key bound bounds it (65,536 keys: about 6 MiB).
 */
#ifndef MU_KV_QUOTA_H
#define MU_KV_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#define MU_KV_MAX_BYTES_DEFAULT (64ull << 20)
#define MU_KV_MAX_KEYS_DEFAULT 65536ull
#define MU_KV_WAITING_PER_SLOT 4u
#define MU_KV_WAITING_BASE 64u
#define MU_KV_MAX_KEY 4096u

/* What a job's store holds in the current epoch. */
typedef struct mu_kv_usage {
  uint64_t bytes; /* key + value bytes, barrier name bytes */
  uint64_t keys;  /* KV keys + barrier names */
} mu_kv_usage_t;

/* May a put of a `key_len`-byte key and `new_len`-byte value be stored,
 * replacing a value of `old_len` bytes when `replaces` (then the key
 * count does not grow and only the difference counts)?  0 if it fits
 * max_bytes and max_keys; else MUSTER_EQUOTA and a one-line explanation
 * in msg naming the job, the usage, the limit and its option, e.g. "job
 * j1: KV store holds 64.0 MiB in 12 keys; this put of 15.0 MiB would
 * exceed the limit of 64 MiB (--kv-max-bytes)". */
int mu_kv_quota_check (const mu_kv_usage_t *u, uint64_t max_bytes,
                       uint64_t max_keys, const char *job, size_t key_len,
                       int replaces, uint64_t old_len, uint64_t new_len,
                       char *msg, size_t msglen);

/* How many waiting requests a node of `slots` slots may hold. */
uint64_t mu_kv_waiting_limit (uint32_t slots);

/* "1.5 MiB", "512 bytes" (one decimal above 1 KiB); returns buf. */
const char *mu_kv_fmt_bytes (uint64_t n, char *buf, size_t cap);
/* A limit: "64 MiB" when it is a whole number of its unit, else as
 * mu_kv_fmt_bytes; returns buf. */
const char *mu_kv_fmt_limit (uint64_t n, char *buf, size_t cap);

/* Parse a size: digits and an optional suffix K, M, G, T (powers of
 * 1024; also KB/KiB and lower case, e.g. "64M", "1G", "65536").  0 or
 * MUSTER_EINVAL (empty, junk, overflow). */
int mu_parse_size (const char *s, uint64_t *out);

#endif
