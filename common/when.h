/*
 * when.h — wall-clock times for people: "2026-12-03 10:12:05" (local
 * time) and ages ("3 min ago").  Used by the launcher's resume notice and
 * the status table; pure (the caller passes "now"), so tested exactly.
 */
#ifndef MU_WHEN_H
#define MU_WHEN_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DD HH:MM:SS" of a wall-clock time in µs, local time.  Returns
 * buf ("?" when the time cannot be converted). */
const char *mu_when_stamp (uint64_t us, char *buf, size_t cap);

/* The age of `us` at `now_us`: "just now" (< 1 s), "12 s ago", "3 min ago"
 * (< 1 h), "2 h 5 min ago" (< 2 days), "3 days ago"; "in the future" when
 * us is after now by more than a second (clocks of two machines).  Returns
 * buf. */
const char *mu_when_age (uint64_t us, uint64_t now_us, char *buf, size_t cap);

/* Both: "2026-12-03 10:12:05, 3 min ago".  Returns buf. */
const char *mu_when_text (uint64_t us, uint64_t now_us, char *buf, size_t cap);

#endif
