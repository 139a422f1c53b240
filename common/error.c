/*
 * error.c — text and symbolic names for muster's one error space.
 *
 * A code is 0 (success), one of muster's own codes (declared once in
 * MUSTER_ERRNO_MAP, all below MUSTER_ERR_BASE) or a negated errno.  Both
 * functions return pointers to string literals or to libc's immutable
 * message tables, never to a buffer, so they are thread-safe and keep no
 * state.  The errnos muster meets most often have their own table, so their
 * names and texts are the same on every libc; any other errno falls back to
 * glibc's strerrordesc_np()/strerrorname_np() where available, and every
 * remaining value is "unknown error" / "UNKNOWN".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrordesc_np, strerrorname_np */
#endif
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "muster/error.h"

/* Negated errnos lie in (-MU_ERRNO_MAX, 0); checking this range before
 * negating also keeps INT_MIN away from the negation. */
#define MU_ERRNO_MAX 4096

typedef struct mu_errno_entry
{
  int num;
  const char *name;
  const char *text;
} mu_errno_entry_t;

static const mu_errno_entry_t mu_errno_table[] = {
  { EPERM, "EPERM", "Operation not permitted" },
  { ENOENT, "ENOENT", "No such file or directory" },
  { ESRCH, "ESRCH", "No such process" },
  { EINTR, "EINTR", "Interrupted system call" },
  { EIO, "EIO", "Input/output error" },
  { EBADF, "EBADF", "Bad file descriptor" },
  { ECHILD, "ECHILD", "No child processes" },
  { EAGAIN, "EAGAIN", "Resource temporarily unavailable" },
  { ENOMEM, "ENOMEM", "Cannot allocate memory" },
  { EACCES, "EACCES", "Permission denied" },
  { EBUSY, "EBUSY", "Device or resource busy" },
  { EEXIST, "EEXIST", "File exists" },
  { ENOTDIR, "ENOTDIR", "Not a directory" },
  { EISDIR, "EISDIR", "Is a directory" },
  { EINVAL, "EINVAL", "Invalid argument" },
  { EMFILE, "EMFILE", "Too many open files" },
  { ENOSPC, "ENOSPC", "No space left on device" },
  { EPIPE, "EPIPE", "Broken pipe" },
  { ERANGE, "ERANGE", "Numerical result out of range" },
  { ENAMETOOLONG, "ENAMETOOLONG", "File name too long" },
  { ENOSYS, "ENOSYS", "Function not implemented" },
  { EPROTO, "EPROTO", "Protocol error" },
  { EMSGSIZE, "EMSGSIZE", "Message too long" },
  { ENOTSUP, "ENOTSUP", "Operation not supported" },
  { EADDRINUSE, "EADDRINUSE", "Address already in use" },
  { EADDRNOTAVAIL, "EADDRNOTAVAIL", "Cannot assign requested address" },
  { ENETUNREACH, "ENETUNREACH", "Network is unreachable" },
  { ECONNRESET, "ECONNRESET", "Connection reset by peer" },
  { ETIMEDOUT, "ETIMEDOUT", "Connection timed out" },
  { ECONNREFUSED, "ECONNREFUSED", "Connection refused" },
  { EHOSTUNREACH, "EHOSTUNREACH", "No route to host" },
  { ECANCELED, "ECANCELED", "Operation canceled" },
};

#define MU_NERRNO (sizeof (mu_errno_table) / sizeof (mu_errno_table[0]))

/* The table entry for a negated errno, or NULL. */
static const mu_errno_entry_t *
mu_errno_find (int code)
{
  if (code >= 0 || code <= -MU_ERRNO_MAX)
    return NULL;
  for (size_t i = 0; i < MU_NERRNO; i++)
    if (mu_errno_table[i].num == -code)
      return &mu_errno_table[i];
  return NULL;
}

/* libc's own text or name for an errno outside the table, or NULL. */
static const char *
mu_errno_libc (int code, int want_name)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
  if (code < 0 && code > -MU_ERRNO_MAX)
    return want_name ? strerrorname_np (-code) : strerrordesc_np (-code);
#else
  (void)code;
  (void)want_name;
#endif
  return NULL;
}

const char *
muster_strerror (int code)
{
  if (code == 0)
    return "success";
  switch (code)
    {
#define MU_XX_(name, off, msg)                                                 \
  case MUSTER_##name:                                                          \
    return msg;
      MUSTER_ERRNO_MAP (MU_XX_)
#undef MU_XX_
    default:
      break;
    }
  const mu_errno_entry_t *e = mu_errno_find (code);
  if (e)
    return e->text;
  const char *s = mu_errno_libc (code, 0);
  return s ? s : "unknown error";
}

const char *
muster_err_name (int code)
{
  if (code == 0)
    return "OK";
  switch (code)
    {
#define MU_XX_(name, off, msg)                                                 \
  case MUSTER_##name:                                                          \
    return "MUSTER_" #name;
      MUSTER_ERRNO_MAP (MU_XX_)
#undef MU_XX_
    default:
      break;
    }
  const mu_errno_entry_t *e = mu_errno_find (code);
  if (e)
    return e->name;
  const char *s = mu_errno_libc (code, 1);
  return s ? s : "UNKNOWN";
}
