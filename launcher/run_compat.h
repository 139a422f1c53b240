/*
 * run_compat.h — torchrun's flags that muster run accepts without a flag
 * of its own: --monitor_interval, --start_method, --local_addr,
 * --log_dir, -r/--redirects, -t/--tee (checked here, carried out by the
 * agent: worker/log_files.h), and the notes for accepted flags that change
 * nothing here ("muster: --start-method spawn: ignored (...)"), which
 * run.c prints.  Pure, like run_opts.c, and tested with it.
 */
#ifndef MU_RUN_COMPAT_H
#define MU_RUN_COMPAT_H

#include <stddef.h>

#include "launcher/run_opts.h"

/* Is `name` (canonical: no dashes in front, '-' for '_') a flag of this
 * file?  All of them take a value. */
int mu_run_compat_knows (const char *name);

/* Apply flag `name` with value v.  0, or MUSTER_EINVAL with a sentence in
 * err. */
int mu_run_compat_apply (mu_run_opts_t *o, const char *name, const char *v,
                         char *err, size_t errlen);

/* Add a note (a line without the "muster: " in front); notes beyond
 * MU_RUN_MAX_NOTES are dropped, the last one saying so. */
void mu_run_note (mu_run_opts_t *o, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

#endif
