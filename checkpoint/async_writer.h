/*
 * async_writer.h — write shards on a background thread, so training only
 * stalls for as long as it takes to hand its state over.
 *
 * A writer is one thread and a FIFO queue.  The training thread either
 * gives it a buffer it will not touch again (mu_async_writer_submit: no
 * copy at all), has its state copied into a buffer the writer owns
 * (mu_async_writer_snapshot: the stall is one memcpy), or has the writer
 * thread make that copy while training reads on, waiting only before it
 * next writes the state (mu_async_writer_snapshot_start and
 * mu_async_writer_wait_copied).  The thread writes
 * each shard with mu_shard_write_buf (tmp, CRC, fsync, rename, fsync dir)
 * and then calls `done` with the outcome and the shard record; that is the
 * moment the caller may report ckpt.saved.  Shards are written and
 * reported in submission order.
 *
 * Snapshot buffers are recycled: after a snapshot is written its buffer is
 * kept (one, the largest) for the next snapshot, so from the second
 * snapshot on the copy goes to memory that is already mapped.  A freshly
 * malloc'd buffer costs page faults on first touch that can be ten times
 * the copy itself; mu_async_writer_reserve has the writer thread allocate
 * and touch a buffer in advance.  A snapshot taken while the previous one
 * is still being written gets a fresh buffer (the caller who wants
 * back-pressure instead calls mu_async_writer_flush first).
 *
 * This is the one place in checkpoint/ that owns a thread, and only when a
 * caller creates a writer: the library itself never starts one.  The
 * callbacks run on the writer thread; they must not call back into the
 * same writer except mu_async_writer_submit/_snapshot/_reserve.
 */
#ifndef MU_ASYNC_WRITER_H
#define MU_ASYNC_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

typedef struct mu_async_writer mu_async_writer_t;

/* A shard was written (status 0; `info` holds file, size and crc32c,
 * valid during the call only: copy it with mu_shard_info_copy to keep it)
 * or failed (status < 0, info NULL; MUSTER_ECANCELED if the writer was
 * destroyed before starting).  `buf` is the buffer given to
 * mu_async_writer_submit, whose ownership returns to the caller here (free
 * or reuse it); NULL for snapshots. */
typedef void (*mu_async_done_fn) (void *arg, int status,
                                  const mu_shard_info_t *info, void *buf);

/* Allocate a writer; no thread yet.  0 or -ENOMEM. */
int mu_async_writer_new (mu_async_writer_t **out);

/* Start the thread.  Work submitted before start waits for it.  0, -errno
 * (pthread_create), or MUSTER_EINVAL if already started. */
int mu_async_writer_start (mu_async_writer_t *w);

/* Queue `<dir>/<file>` with the `len` bytes of *buf_p, taking ownership of
 * the buffer: *buf_p becomes NULL and the buffer comes back through
 * `done`.  On error (MUSTER_EINVAL for a bad name or NULL done, -ENOMEM,
 * MUSTER_ECLOSED while being destroyed) nothing is queued, *buf_p is left
 * alone and `done` is never called. */
int mu_async_writer_submit (mu_async_writer_t *w, const char *dir,
                            const char *file, void **buf_p, size_t len,
                            mu_async_done_fn done, void *arg);

/* Copy `len` bytes at `src` into a writer-owned buffer and queue them as
 * `<dir>/<file>`.  Returns once the copy is made: `src` may change right
 * after.  Errors as for submit. */
int mu_async_writer_snapshot (mu_async_writer_t *w, const char *dir,
                              const char *file, const void *src, size_t len,
                              mu_async_done_fn done, void *arg);

/* The copy without the stall: like mu_async_writer_snapshot, but the copy
 * is made on the writer thread, so this returns at once with a ticket.
 * `src` must not change until mu_async_writer_wait_copied (w, *ticket)
 * returns.  Training loops call it after an optimizer step and wait just
 * before the next one: the forward and backward passes only read the
 * parameters, so the copy overlaps them (the scheme of CheckFreq, FAST
 * '21).  The copy starts when the writer reaches the job: shards queued
 * before it are written first.  Errors as for submit. */
int mu_async_writer_snapshot_start (mu_async_writer_t *w, const char *dir,
                                    const char *file, const void *src,
                                    size_t len, mu_async_done_fn done,
                                    void *arg, uint64_t *ticket);

/* Block until the copy of `ticket` is made and its source may change.
 * Returns 0, -ENOMEM if the copy could not be made (the shard's callback
 * reports it too), or MUSTER_EINVAL for a ticket never handed out or a
 * writer not started. */
int mu_async_writer_wait_copied (mu_async_writer_t *w, uint64_t ticket);

/* Have the writer thread prepare (allocate and touch) a snapshot buffer of
 * at least `len` bytes, in order, without blocking the caller.  0 or
 * -ENOMEM. */
int mu_async_writer_reserve (mu_async_writer_t *w, size_t len);

/* Block until everything queued so far has been written and its callback
 * has returned.  MUSTER_EINVAL if not started (it would never return). */
int mu_async_writer_flush (mu_async_writer_t *w);

/* Shards queued but not yet reported. */
size_t mu_async_writer_pending (mu_async_writer_t *w);

/* Finish every queued shard (their callbacks run), stop and join the
 * thread, free everything; if never started, queued shards are reported
 * MUSTER_ECANCELED on the calling thread.  Accepts NULL and a pointer to
 * NULL; sets *w_p to NULL. */
void mu_async_writer_destroy (mu_async_writer_t **w_p);

#endif
