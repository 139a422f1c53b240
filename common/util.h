/*
 * util.h — small helpers every component needs: a monotonic millisecond
 * clock, random ids, bounded string parsing and copying.  Kept here so no
 * component grows its own slightly different version.
 */
#ifndef MU_UTIL_H
#define MU_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic time in milliseconds (CLOCK_MONOTONIC). */
uint64_t mu_now_ms (void);
/* Monotonic time in microseconds. */
uint64_t mu_now_us (void);
/* Wall-clock time in microseconds since the epoch (for cross-process
 * timestamps in benchmarks). */
uint64_t mu_wall_us (void);

/* Fill buf with 2*nbytes lowercase hex characters from /dev/urandom (falls
 * back to time and pid mixing) and a NUL; buf must hold 2*nbytes+1. */
void mu_random_hex (char *buf, size_t nbytes);

/* Parse a whole decimal unsigned integer; 0 or MUSTER_EINVAL. */
int mu_parse_u64 (const char *s, uint64_t *out);

/* Parse a duration into milliseconds: a bare number is SECONDS ("600",
 * "0.5"), as in torchrun and Slurm; "500ms", "2s", "1.5m", "1h" name their
 * unit.  0, or MUSTER_EINVAL (negative, empty, other units, overflow). */
int mu_parse_duration_ms (const char *s, uint64_t *out);

/* The accepted forms, for error messages and usage texts. */
#define MU_DURATION_FORMS                                                      \
  "give seconds (600), or a number with ms, s, m or h (500ms, 10m)"

/* "WHAT: 'S' is not a duration: give seconds (600), or ..." into err;
 * returns MUSTER_EINVAL. */
int mu_duration_error (char *err, size_t errlen, const char *what,
                       const char *s);

/* snprintf into buf that reports truncation: 0, or MUSTER_ETOOBIG. */
int mu_strlcpy (char *dst, const char *src, size_t size);

/* Directory of the running executable (from /proc/self/exe) into buf;
 * 0 or a negative errno. */
int mu_self_dir (char *buf, size_t size);

#endif
