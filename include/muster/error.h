/*
 * muster/error.h — the one error space of muster.
 *
 * Every call in muster that can fail returns an int: 0 on success or a
 * negative code.  Operating-system failures are reported as -errno (so
 * -ENOMEM, -EINVAL, ...); muster's own conditions have codes below
 * MUSTER_ERR_BASE so they never collide with an errno value.  The codes are
 * declared once, in MUSTER_ERRNO_MAP, in the manner of libuv's UV_ERRNO_MAP,
 * and muster_strerror()/muster_err_name() cover both kinds.
 */
#ifndef MUSTER_ERROR_H
#define MUSTER_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define MUSTER_EXPORT __attribute__((visibility("default")))
#else
#define MUSTER_EXPORT
#endif

#define MUSTER_ERR_BASE (-10000)

/* XX(name, offset, message) — code = MUSTER_ERR_BASE - offset. */
#define MUSTER_ERRNO_MAP(XX)                                                   \
  XX(EPROTO, 1, "malformed or unsupported protocol message")                   \
  XX(EVERSION, 2, "unsupported protocol version")                              \
  XX(ETYPE, 3, "unknown message type")                                         \
  XX(ETOOBIG, 4, "message or field exceeds its size bound")                    \
  XX(ESTALE_EPOCH, 5, "message belongs to an older epoch")                     \
  XX(ERDZV_TIMEOUT, 6, "rendezvous timed out before the minimum joined")       \
  XX(EPEERLOST, 7, "a peer or the coordinator was lost")                       \
  XX(ETIMEDOUT, 8, "operation timed out")                                      \
  XX(ECLOSED, 9, "handle is closed or shutting down")                          \
  XX(ENOTFOUND, 10, "no such key, job, node or rank")                          \
  XX(EEXIST, 11, "already exists")                                             \
  XX(EINVAL, 12, "invalid argument")                                           \
  XX(EMEMBERSHIP, 13, "membership changed (new epoch); retry in the new one")  \
  XX(EJOBSPEC, 14, "job spec does not match the job already registered")       \
  XX(EFULL, 15, "job is full; waiting for a free place")                       \
  XX(ENOENV, 16, "not started by muster (MUSTER_* environment missing)")       \
  XX(ECANCELED, 17, "operation canceled")                                      \
  XX(EJOBDONE, 18, "job has already finished")                                 \
  XX(EINTERNAL, 19, "internal error")                                         \
  XX(EPASSED, 20, "the worker is already past the requested step")            \
  XX(ECORRUPT, 21, "checkpoint data is corrupt (size or checksum mismatch)")  \
  XX(ENOCKPT, 22, "no complete checkpoint to restore from")                  \
  XX(EPERM, 23, "not permitted: the job or node belongs to someone else")     \
  XX(EQUOTA, 24, "a per-job or per-peer resource limit was reached")          \
  XX(EAUTH, 25, "authentication failed: missing, unknown or refused key or token")

enum {
#define MUSTER_XX_(name, off, msg) MUSTER_##name = MUSTER_ERR_BASE - (off),
  MUSTER_ERRNO_MAP(MUSTER_XX_)
#undef MUSTER_XX_
};

/* Human-readable text for any muster code or negated errno; never NULL. */
MUSTER_EXPORT const char *muster_strerror(int code);

/* Symbolic name ("MUSTER_ETIMEDOUT", "ENOMEM", ...) of a code; never NULL. */
MUSTER_EXPORT const char *muster_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
