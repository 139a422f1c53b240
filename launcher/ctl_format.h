/*
 * ctl_format.h — the pure text pieces of the control commands' tables:
 * an age, a rank range, a pid list.  No I/O; each writes into a buffer
 * and returns it, cut to fit (never overflowing).
 */
#ifndef MU_CTL_FORMAT_H
#define MU_CTL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

/* "850ms", "42s", "3m12s", "2h05m", "3d04h". */
const char *mu_ctl_fmt_age (uint64_t ms, char *buf, size_t cap);
/* A member's ranks as runs: "0-3", "4", "0-1,5" (they are contiguous for
 * a member, but the form holds any list). */
const char *mu_ctl_fmt_ranks (const mu_rank_info_t *r, size_t n, char *buf,
                              size_t cap);
/* Its pids, comma-separated, "-" for one not reported yet; a list cut to
 * fit ends in "...". */
const char *mu_ctl_fmt_pids (const mu_rank_info_t *r, size_t n, char *buf,
                             size_t cap);

#endif
