/*
 * log.c — the logger of log.h: level filter, formatting, stderr sink.
 *
 * mu_log_write() compares the level first and returns before touching the
 * format when the line would be dropped, so debug calls on hot paths cost a
 * compare.  A message is formatted into a bounded stack buffer (no malloc, so
 * logging works when memory is short); one that does not fit is cut at a
 * UTF-8 character boundary and ends in "...".  The default sink builds the
 * whole "<name>: <level> <ID> <message>\n" line and hands it to a single
 * write(2): lines are at most PIPE_BUF bytes, so lines of several processes
 * sharing one stderr pipe never interleave.  Newlines inside a message become
 * spaces there, keeping one record per line for grep.  There is no global
 * state: everything comes from the mu_log_t the caller passes, and a NULL
 * logger drops the line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "muster/error.h"

/* PIPE_BUF on Linux: a write of at most this many bytes to a pipe is atomic. */
#define MU_LOG_LINE_MAX 4096
/* Room left in a line for the "<name>: <level> <ID> " prefix. */
#define MU_LOG_MSG_MAX 3584
/* Longest name or id printed; longer ones are cut. */
#define MU_LOG_TAG_MAX 64

static const char *const mu_log_names[] = {
  [MU_LOG_ERR] = "err",   [MU_LOG_WARN] = "warn",   [MU_LOG_NOTICE] = "notice",
  [MU_LOG_INFO] = "info", [MU_LOG_DEBUG] = "debug",
};

static const char *
mu_log_level_name (mu_log_level_t level)
{
  if (level >= MU_LOG_ERR && level <= MU_LOG_DEBUG)
    return mu_log_names[level];
  return level < MU_LOG_ERR ? "crit" : "debug";
}

void
mu_log_init (mu_log_t *log, const char *name)
{
  if (!log)
    return;
  log->level = MU_LOG_NOTICE;
  log->name = name;
  log->sink = NULL;
  log->sink_arg = NULL;
}

int
mu_log_parse_level (const char *s, mu_log_level_t *out)
{
  if (!s || !out)
    return MUSTER_EINVAL;
  for (int l = MU_LOG_ERR; l <= MU_LOG_DEBUG; l++)
    if (strcasecmp (s, mu_log_names[l]) == 0)
      {
        *out = (mu_log_level_t)l;
        return 0;
      }
  if (strcasecmp (s, "error") == 0)
    *out = MU_LOG_ERR;
  else if (strcasecmp (s, "warning") == 0)
    *out = MU_LOG_WARN;
  else
    return MUSTER_EINVAL;
  return 0;
}

/* Mark a cut message: end it with "..." on a UTF-8 character boundary. */
static void
mu_log_mark_cut (char *msg, size_t size)
{
  size_t end = size - 4; /* room for "..." and the NUL */
  while (end > 0 && ((unsigned char)msg[end] & 0xC0) == 0x80)
    end--;
  memcpy (msg + end, "...", 4);
}

/* Write all of buf to fd; one write() unless interrupted or cut short. */
static void
mu_log_write_all (int fd, const char *buf, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, buf, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return; /* nowhere left to report it */
      buf += n;
      len -= (size_t)n;
    }
}

size_t
mu_log_format (char *line, size_t size, const char *name,
               mu_log_level_t level, const char *id, const char *msg)
{
  int n = snprintf (line, size, "%.*s: %s %.*s ", MU_LOG_TAG_MAX,
                    name ? name : "muster", mu_log_level_name (level),
                    MU_LOG_TAG_MAX, id ? id : "-");
  if (n < 0)
    n = 0;
  size_t len = (size_t)n < size - 1 ? (size_t)n : size - 2;
  for (const char *p = msg; p && *p && len < size - 2; p++)
    line[len++] = (*p == '\n' || *p == '\r') ? ' ' : *p;
  line[len++] = '\n';
  line[len] = '\0';
  return len;
}

/* The default sink: one line on stderr in one write(). */
static void
mu_log_stderr (const char *name, mu_log_level_t level, const char *id,
               const char *msg)
{
  char line[MU_LOG_LINE_MAX];
  size_t len = mu_log_format (line, sizeof line, name, level, id, msg);
  mu_log_write_all (STDERR_FILENO, line, len);
}

void
mu_log_write (const mu_log_t *log, mu_log_level_t level, const char *id,
              const char *fmt, ...)
{
  if (!log || level > log->level || !fmt)
    return;
  int saved = errno; /* logging must not disturb the caller's errno */
  char msg[MU_LOG_MSG_MAX];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    snprintf (msg, sizeof msg, "(unformattable message: %.64s)", fmt);
  else if ((size_t)n >= sizeof msg)
    mu_log_mark_cut (msg, sizeof msg);
  if (!id)
    id = "-";
  if (log->sink)
    log->sink (log->sink_arg, level, id, msg);
  else
    mu_log_stderr (log->name, level, id, msg);
  errno = saved;
}
