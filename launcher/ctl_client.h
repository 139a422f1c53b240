/*
 * ctl_client.h — control-port subcommands of the muster CLI.
 */
#ifndef MU_CTL_CLIENT_H
#define MU_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

/* `muster status [--endpoint EP] [JOB]`; returns the exit status. */
int mu_ctl_status_main (int argc, char **argv);
/* `muster cancel [--endpoint EP] JOB`; returns the exit status. */
int mu_ctl_cancel_main (int argc, char **argv);
/* `muster checkpoint|preempt|resume [--endpoint EP] [--grace DUR] JOB`. */
int mu_ctl_job_main (const char *cmd, int argc, char **argv);

/* sched: send req to the control port and wait up to timeout_ms for *rep
 * (the caller clears it).  endpoint NULL: the default (as `muster status`);
 * key_file/server_key NULL: $MUSTER_KEY/$MUSTER_SERVER_KEY over TCP.  0, or
 * a code with the reason in err (an "error" answer: its code and message;
 * MUSTER_EINVAL: a malformed endpoint). */
int mu_ctl_request (const char *endpoint, const char *key_file,
                    const char *server_key, uint64_t timeout_ms,
                    const mu_msg_t *req, mu_msg_t *rep, char *err, size_t errlen);

/* `muster submit FILE` (submit.c). */
int mu_submit_main (int argc, char **argv);

/* `muster keygen` (keygen.c). */
int mu_keygen_main (int argc, char **argv);

#endif
