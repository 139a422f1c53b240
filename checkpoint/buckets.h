/*
 * buckets.h — parameter-server state addressed by hash bucket, so a job
 * restored with a different number of PS re-partitions its state.
 *
 * A PS job fixes `nbuckets` (e.g. 4096) when it is created; a key lives in
 * bucket hash(key) % nbuckets forever.  With P servers, server i owns the
 * contiguous range [floor(i*nb/P), floor((i+1)*nb/P)): the ranges tile
 * [0, nb) in order, differ in size by at most one, and work when nb is not
 * a multiple of P (and when nb < P: some servers then own nothing).  A PS
 * shard records the range it holds (shard_info.bucket_first/bucket_count;
 * bucket_count 0 = not a PS shard) and the manifest records nbuckets.
 *
 * Restoring with P' servers, server i' needs its new range, which is made
 * of slices of one or more old shards: mu_buckets_restore_plan lists them
 * in bucket order.  How a program lays buckets out inside its shard file
 * is its own business; a slice says which old shard to open and which of
 * its buckets to take (`offset` = index of the first of them within that
 * shard).
 *
 * Pure functions; no I/O, no state.
 */
#ifndef MU_BUCKETS_H
#define MU_BUCKETS_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

/* Range of server i of P over nb buckets.  0, or MUSTER_EINVAL when P is
 * 0 or i >= P. */
int mu_buckets_owned (uint64_t nbuckets, uint64_t nps, uint64_t i,
                      uint64_t *first, uint64_t *count);

/* Which of P servers owns `bucket` (the inverse of mu_buckets_owned).
 * 0, or MUSTER_EINVAL when P is 0 or bucket >= nbuckets. */
int mu_buckets_owner (uint64_t nbuckets, uint64_t nps, uint64_t bucket,
                      uint64_t *ps);

/* Do the PS shards of `m` (bucket_count > 0) cover [0, m->nbuckets)
 * exactly once?  With nbuckets 0 there must be no PS shard.  0 or
 * MUSTER_EINVAL with a sentence in err. */
int mu_buckets_check (const mu_ckpt_manifest_t *m, char *err, size_t errlen);

/* One piece of a restore: buckets [bucket_first, bucket_first+bucket_count)
 * taken from `shard`, where they start at index `offset`. */
typedef struct mu_bucket_slice
{
  const mu_shard_info_t *shard; /* points into the manifest: valid while
                                   the manifest lives */
  uint64_t bucket_first;
  uint64_t bucket_count;
  uint64_t offset; /* bucket_first - shard->bucket_first */
} mu_bucket_slice_t;

/* The slices server i of P (the new layout) reads to rebuild its range
 * from the checkpoint `m` (any old layout), in bucket order; together they
 * cover its range exactly once.  *out is malloc'd (the caller frees it;
 * NULL when *n is 0, i.e. the server owns no bucket).  Returns 0;
 * MUSTER_EINVAL when P is 0, i >= P, m has no buckets or its PS shards do
 * not tile them (mu_buckets_check); -ENOMEM. */
int mu_buckets_restore_plan (const mu_ckpt_manifest_t *m, uint64_t nps,
                             uint64_t i, mu_bucket_slice_t **out, size_t *n);

#endif
