/*
 * ctl_client.h — control-port subcommands of the muster CLI.
 *
 * ctl_client.c holds what they share: finding the coordinator
 * (--endpoint/--coordinator, $MUSTER_CTL_ENDPOINT/$MUSTER_COORDINATOR, the
 * local socket), CURVE keys over TCP, one request/one answer with a bound,
 * the option parser and the usage of each command; and status, cancel,
 * checkpoint, preempt, resume.  ls/status detail (ctl_ls.c), logs
 * (ctl_logs_cmd.c), scale (ctl_scale_cmd.c), nodes/cordon/uncordon/drain
 * (ctl_nodes_cmd.c) and JSON output (ctl_json.c) build on it.
 */
#ifndef MU_CTL_CLIENT_H
#define MU_CTL_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/proto.h"

/* CURVE material of a TCP control client. */
typedef struct mu_ctl_keys {
  const char *key_file;   /* --key: this client's certificate */
  const char *server_key; /* --server-key: Z85 or a certificate file */
} mu_ctl_keys_t;

/* A control command's parsed options. */
typedef struct mu_ctl_args {
  const char *endpoint;
  uint64_t timeout_ms;
  const char *job;   /* the operand: a job, or a node (cordon, drain) */
  const char *arg2;  /* scale: the target N */
  uint64_t grace_ms;
  int wait;          /* checkpoint --wait */
  int timeout_given;
  int json;          /* --json */
  const char *state, *owner; /* ls filters */
  int follow, by_rank, tail_given;     /* logs */
  uint64_t rank, since, tail;
  const char *role;  /* scale */
  uint64_t min, max;
  int min_given, max_given;
  mu_ctl_keys_t keys;
  char ep[600]; /* endpoint in its tcp:// form */
  char dflt[600];
} mu_ctl_args_t;

/* Parse the options of control command `cmd`; need_job: the operand is
 * required.  0 parsed; 2 a usage error (printed); -1 --help was printed
 * (exit 0). */
int mu_ctl_parse (int argc, char **argv, mu_ctl_args_t *a, int need_job,
                  const char *cmd);
/* The usage of `cmd` (`muster CMD --help`). */
void mu_ctl_usage (FILE *f, const char *cmd);
/* Send req to the control port at ep, wait up to timeout_ms for the
 * answer into *rep (owned: mu_msg_clear).  0, or a negative code with a
 * sentence in err (an error reply: its code and message). */
int mu_ctl_call (const char *ep, const mu_ctl_keys_t *keys, uint64_t timeout_ms,
                 const mu_msg_t *req, mu_msg_t *rep, char *err, size_t errlen);
/* mu_ctl_call; an error reply is also printed as JSON on json_err (when
 * not NULL: --json). */
int mu_ctl_call_ex (const char *ep, const mu_ctl_keys_t *keys,
                    uint64_t timeout_ms, const mu_msg_t *req, mu_msg_t *rep,
                    char *err, size_t errlen, FILE *json_err);

/* err without a leading "CMD: " the coordinator's sentence may start with
 * ("scale: field 'max' ..." under "muster scale: "). */
const char *mu_ctl_errmsg (const char *cmd, const char *err);

/* ctl_json.c: a message as one line of JSON (its wire form: msgpack
 * shown as JSON). */
void mu_ctl_print_json (FILE *f, const mu_msg_t *m);

/* `muster status [--endpoint EP] [JOB]`; returns the exit status. */
int mu_ctl_status_main (int argc, char **argv);
/* `muster cancel [--endpoint EP] JOB`; returns the exit status. */
int mu_ctl_cancel_main (int argc, char **argv);
/* `muster checkpoint|preempt|resume [--endpoint EP] [--grace DUR] JOB`. */
int mu_ctl_job_main (const char *cmd, int argc, char **argv);
/* ctl_ls.c: `muster ls`; the detail `muster status JOB` prints. */
int mu_ctl_ls_main (int argc, char **argv);
int mu_ctl_print_detail (const mu_ctl_args_t *a);
/* ctl_logs_cmd.c: `muster logs`. */
int mu_ctl_logs_main (int argc, char **argv);
/* ctl_scale_cmd.c: `muster scale`. */
int mu_ctl_scale_main (int argc, char **argv);
/* service: ctl_update_cmd.c: `muster update`, `muster load`. */
int mu_ctl_update_main (int argc, char **argv);
int mu_ctl_load_main (int argc, char **argv);
/* ctl_nodes_cmd.c: `muster nodes|cordon|uncordon|drain`. */
int mu_ctl_nodes_main (const char *cmd, int argc, char **argv);

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

/* `muster keygen` (keygen.c). */
int mu_keygen_main (int argc, char **argv);

#endif
