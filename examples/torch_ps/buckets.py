"""buckets.py — which parameter server holds a row.

A row's key (table, hashed id) lives in bucket hash(key) % nbuckets
forever; with P servers, server i owns the contiguous bucket range
[floor(i*nb/P), floor((i+1)*nb/P)), exactly as muster's checkpoint library
lays PS shards out (checkpoint/buckets.h).  A job resumed with another
number of servers therefore only re-assigns whole buckets: each new server
reads the old shards whose ranges overlap its own.
"""

import torch

TABLE_SHIFT = 40  # key = table << 40 | hashed id (hashed ids are < 2**31)
PRIME = 2147483647  # 2**31 - 1


def make_keys(table, ids):
    return ids + (table << TABLE_SHIFT)


def bucket_of(keys, nbuckets):
    """Bucket of every key (int64 tensor), a fixed hash of the key."""
    h = (keys % PRIME) * 48271 % PRIME
    h = (h + (keys >> TABLE_SHIFT) * 69621) * 48271 % PRIME
    return h % nbuckets


def owned(nbuckets, nps, i):
    """[first, end) of the buckets server i of nps owns."""
    return nbuckets * i // nps, nbuckets * (i + 1) // nps


def owner_of(buckets, nbuckets, nps):
    """Server of every bucket (the inverse of owned)."""
    return ((buckets + 1) * nps - 1) // nbuckets
