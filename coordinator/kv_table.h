/*
 * kv_table.h — the read-modify-write operations of a job's KV store (add,
 * compare-and-set, delete, count), as pure functions over the job's map
 * and its quota accounting, which kv.c carries out and answers.
 *
 * They are what a torch.distributed Store needs beyond put and get: an
 * atomic counter (init_process_group's store barrier), compare_set,
 * delete_key and num_keys.  They are atomic because musterd runs one
 * loop: nothing else touches the map between the read and the write.  No
 * sockets, no clocks, no logging: the unit test (kv_table_test.c) drives
 * every branch on a bare map, and the coordinator wakes the waiting gets
 * of a key these functions stored (they say so through *stored).
 *
 * Semantics (torch's TCPStore's, except where noted):
 *   add    the key's value is a decimal integer ("-12", absent = 0); the
 *          sum is stored in decimal and returned.  A value that is not an
 *          integer, or a sum past int64, is MUSTER_EINVAL (TCPStore throws
 *          for the first and wraps for the second).
 *   cas    a key holding `expected`, or absent while `expected` is empty,
 *          is set to `desired`; the value after the operation is returned.
 *          An absent key with a non-empty `expected` is left absent and
 *          answered MUSTER_ENOTFOUND (TCPStore answers `expected` there,
 *          a value the key does not hold; muster.torch's store does the
 *          same on top, for parity).
 *   del    removes the key; *existed says whether it was there.
 *   count  the keys (barrier names are not keys), or those that start
 *          with a prefix.
 * Every stored value is charged to the job's quota as kv.put charges it
 * (kv_quota.h): over it, MUSTER_EQUOTA and a sentence in msg.
 */
#ifndef MU_KV_TABLE_H
#define MU_KV_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"
#include "common/smap.h"

/* A job's store as these functions see it; every pointer is the job's. */
typedef struct mu_kv_table
{
  mu_smap_t *map;      /* key -> mu_bin_t * (malloc'd, value malloc'd) */
  uint64_t *bytes;     /* bytes charged to the quota (keys + values +
                          barrier names) */
  uint64_t other_keys; /* keys the quota counts besides the map's
                          (barrier names) */
  uint64_t max_bytes;  /* the job's limits (kv_quota.h) */
  uint64_t max_keys;
  const char *job; /* for the quota's message */
} mu_kv_table_t;

/* Store a copy of `len` bytes under key, replacing any value, within the
 * quota.  0, MUSTER_EQUOTA (msg says why) or -ENOMEM; on success *stored
 * points at the map's value (valid until the key changes). */
int mu_kv_table_set (mu_kv_table_t *t, const char *key, const void *val,
                     size_t len, const mu_bin_t **stored, char *msg,
                     size_t msglen);

/* Add delta to key's integer; *out the new value, *stored the map's
 * value.  0, MUSTER_EINVAL (not an integer, overflow: msg says which),
 * MUSTER_EQUOTA or -ENOMEM; on error nothing changed. */
int mu_kv_table_add (mu_kv_table_t *t, const char *key, int64_t delta,
                     int64_t *out, const mu_bin_t **stored, char *msg,
                     size_t msglen);

/* Compare-and-set (see above).  0 with *cur the value after the
 * operation and *stored non-NULL (== *cur) if this call set it, or
 * MUSTER_ENOTFOUND (absent, left absent), MUSTER_EQUOTA, -ENOMEM. */
int mu_kv_table_cas (mu_kv_table_t *t, const char *key,
                     const mu_bin_t *expected, const mu_bin_t *desired,
                     const mu_bin_t **cur, const mu_bin_t **stored, char *msg,
                     size_t msglen);

/* Remove key; *existed says whether it was there.  Always 0. */
int mu_kv_table_del (mu_kv_table_t *t, const char *key, bool *existed);

/* Keys that start with prefix (NULL or "" = all). */
uint64_t mu_kv_table_count (const mu_kv_table_t *t, const char *prefix);

/* Parse a whole decimal int64 ("-12", "+3", "0"); 0 or MUSTER_EINVAL. */
int mu_kv_parse_int (const uint8_t *p, size_t len, int64_t *out);

#endif
