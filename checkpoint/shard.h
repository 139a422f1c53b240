/*
 * shard.h — write one checkpoint shard atomically, and check it later.
 *
 * A shard is one member's part of a checkpoint: one file in the step
 * directory.  It is written under a temporary name, `<file>.tmp`, in large
 * writes while its CRC-32C is computed; then the file is fsync'd, renamed to
 * `<file>` and the directory is fsync'd.  So at every instant `<file>`
 * either does not exist or holds the complete bytes whose size and CRC the
 * caller gets back in a mu_shard_info_t, and a crash at any point leaves at
 * worst a `<file>.tmp` that nothing ever reads.  On any failure the
 * temporary file is removed and -errno (or a muster code) is returned.
 *
 * Three ways to produce the bytes:
 *   - mu_shard_write_buf: the whole shard is in memory;
 *   - mu_shard_writer_*: a stream of appends (small ones are coalesced into
 *     4 MiB writes), committed or aborted at the end;
 *   - mu_shard_adopt: the program wrote the file itself, at the path
 *     mu_shard_tmp_path gave it (typically an existing framework's save
 *     routine); muster fsyncs it, checksums it and renames it into place.
 *
 * All calls block (write, fsync, rename) and keep no state between calls
 * apart from a writer handle: run them where blocking is fine (the
 * coordinator's uv_queue_work, libmuster's own thread, or an async_writer).
 *
 * File names: a shard file name is one path component of 1-250 bytes, not
 * "." or "..", without '/', not ending in ".tmp" and not "MANIFEST"
 * (mu_shard_name_ok).  Names reach muster from workers over the wire and
 * from MANIFEST files on disk, so nothing ever lets one escape its step
 * directory.
 *
 * Ownership of mu_shard_info_t: the calls that fill one set `file` to a
 * malloc'd copy of the name and leave role, ranks and buckets alone (the
 * caller knows those).  Pass a zeroed info; release what it owns with
 * mu_shard_info_clear().  A mu_shard_info_t inside a decoded message is
 * owned by that message (mu_msg_clear), not by these calls.
 */
#ifndef MU_SHARD_H
#define MU_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <muster/error.h>

#include "common/proto.h"

/* Longest shard file name: NAME_MAX (255) minus ".tmp", minus slack. */
#define MU_SHARD_NAME_MAX 250

/* The name of the committed manifest in a step directory; reserved. */
#define MU_CKPT_MANIFEST_FILE "MANIFEST"

typedef struct mu_shard_writer mu_shard_writer_t;

/* Is `file` a valid shard file name (rules above)? */
bool mu_shard_name_ok (const char *file);

/* Write `len` bytes at `buf` as `<dir>/<file>` atomically (tmp, fsync,
 * rename, fsync dir).  On success sets info->file, size and crc32c; on
 * failure leaves info alone and no `<file>` or `<file>.tmp` from this call
 * behind.  MUSTER_EINVAL for a bad name; -errno for I/O (-ENOENT if `dir`
 * does not exist, -ENOSPC, ...). */
int mu_shard_write_buf (const char *dir, const char *file, const void *buf,
                        size_t len, mu_shard_info_t *info);

/* Start a streamed shard: creates `<dir>/<file>.tmp` (truncating a stale
 * one).  *out is owned by the caller until _commit or _abort consumes it.
 * Returns 0, MUSTER_EINVAL, -ENOMEM or -errno. */
int mu_shard_writer_open (const char *dir, const char *file,
                          mu_shard_writer_t **out);

/* Append bytes.  After a failed append the writer is dead: later appends
 * and the commit return the same error; _abort it.  0 or -errno. */
int mu_shard_writer_append (mu_shard_writer_t *w, const void *buf, size_t len);

/* Bytes appended so far. */
uint64_t mu_shard_writer_size (const mu_shard_writer_t *w);

/* Flush, fsync, rename into place, fsync the directory, fill `info` (as
 * mu_shard_write_buf does) and free the writer; *w_p becomes NULL whatever
 * the outcome, and on failure the temporary file is gone. */
int mu_shard_writer_commit (mu_shard_writer_t **w_p, mu_shard_info_t *info);

/* Give up: close and remove the temporary file, free the writer, set *w_p
 * to NULL.  Accepts NULL and a pointer to NULL. */
void mu_shard_writer_abort (mu_shard_writer_t **w_p);

/* The path a program should write `file` to itself before mu_shard_adopt:
 * "<dir>/<file>.tmp".  0, MUSTER_EINVAL (bad name) or MUSTER_ETOOBIG. */
int mu_shard_tmp_path (const char *dir, const char *file, char *buf,
                       size_t size);

/* Take over a shard the program wrote itself: fsync and checksum
 * `<dir>/<file>.tmp`, rename it to `<dir>/<file>`, fsync the directory and
 * fill `info`.  If there is no .tmp but `<file>` exists (written in place,
 * or adopted before), that file is fsync'd and checksummed where it is.
 * -ENOENT if neither exists.  The program must have closed the file. */
int mu_shard_adopt (const char *dir, const char *file, mu_shard_info_t *info);

/* Check `<dir>/<info->file>` against the record: a regular file of
 * info->size bytes and, if `deep`, of CRC-32C info->crc32c.  Returns 0;
 * -ENOENT if it is missing; MUSTER_ECORRUPT if size or checksum differ;
 * MUSTER_EINVAL for a bad name; other -errno for I/O.  If `err` is not
 * NULL a sentence naming the file and the difference goes there.  Note: a
 * file just written is read back from the page cache, so this checks what
 * the kernel holds, not the medium. */
int mu_shard_verify (const char *dir, const mu_shard_info_t *info, bool deep,
                     char *err, size_t errlen);

/* Size and CRC-32C of an open file read from its start (used by verify and
 * adopt; exposed for restore paths that read the shard anyway).  0 or
 * -errno. */
int mu_shard_checksum_fd (int fd, uint64_t *size, uint32_t *crc);

/* Atomically write any small file of muster's own (the MANIFEST) in `dir`
 * with the same protocol as a shard: tmp, fsync, rename, fsync dir.  `name`
 * must be one path component not ending in ".tmp".  0 or -errno. */
int mu_ckpt_write_file (const char *dir, const char *name, const void *buf,
                        size_t len);

/* mu_ckpt_write_file, and the file is fchown'ed to uid:gid before it gets
 * its name ((uid_t)-1 / (gid_t)-1 leave that id alone, as chown(2) does).
 * Files are always mode 0600, whatever the umask. */
int mu_ckpt_write_file_as (const char *dir, const char *name, const void *buf,
                           size_t len, uid_t uid, gid_t gid);

/* fsync a directory by path.  0 or -errno. */
int mu_ckpt_fsync_dir (const char *dir);

/* Deep copy of a shard record (every string duplicated) into the zeroed
 * `dst`.  0 or -ENOMEM (dst then holds nothing to free). */
int mu_shard_info_copy (mu_shard_info_t *dst, const mu_shard_info_t *src);

/* Free the strings an info owns (role, file) and zero it.  Accepts NULL.
 * Only for infos filled by these calls or mu_shard_info_copy. */
void mu_shard_info_clear (mu_shard_info_t *info);

#endif
