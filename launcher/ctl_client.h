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

/* For other control subcommands (events_cli.c): where and how to reach
 * a coordinator's control port. */
typedef struct mu_ctl_conn {
  const char *endpoint;   /* normalized (mu_ctl_endpoint) */
  const char *key_file;   /* over TCP: --key (NULL: $MUSTER_KEY) */
  const char *server_key; /* over TCP: --server-key (NULL: $MUSTER_SERVER_KEY) */
} mu_ctl_conn_t;
/* The control endpoint `given` (NULL: the default one, as `muster status`
 * finds it) in its normalized form into ep.  0 or a code, with err naming
 * the problem. */
int mu_ctl_endpoint (const char *given, char *ep, size_t cap, char *err,
                     size_t errlen);
/* One request, one answer within timeout_ms into *rep (owned by the
 * caller: mu_msg_clear).  An "error" answer is returned as its code, with
 * its message in err. */
int mu_ctl_request (const mu_ctl_conn_t *conn, uint64_t timeout_ms,
                    const mu_msg_t *req, mu_msg_t *rep, char *err,
                    size_t errlen);

/* `muster keygen` (keygen.c). */
int mu_keygen_main (int argc, char **argv);

#endif
