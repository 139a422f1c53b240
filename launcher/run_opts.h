/*
 * run_opts.h — the flags of `muster run`, parsed into a struct.
 *
 * torchrun's flags are accepted where they mean the same thing (with
 * dashes or underscores: --nproc-per-node and --nproc_per_node), so a
 * torchrun command line works by replacing the program name.  Parsing is a
 * pure function of argv so every flag and every error is unit-tested
 * (run_opts_test.c).
 */
#ifndef MU_RUN_OPTS_H
#define MU_RUN_OPTS_H

#include <stddef.h>
#include <stdint.h>

#define MU_RUN_MAX_ROLES 16
#define MU_RUN_MAX_NOTES 16 /* lines about accepted flags that do nothing */

typedef struct mu_run_role {
  char name[64];
  uint32_t min_nodes, max_nodes, nproc;
} mu_run_role_t;

typedef struct mu_run_opts {
  uint32_t min_nodes, max_nodes; /* --nnodes MIN:MAX or N (default 1:1) */
  uint32_t nproc;                /* --nproc-per-node (default 1) */
  const char *endpoint;          /* --rdzv-endpoint HOST:PORT */
  const char *standby;           /* --standby HOST:PORT (coordinator/standby.h) */
  const char *rdzv_id;           /* --rdzv-id */
  uint64_t max_restarts;         /* --max-restarts */
  int standalone;                /* --standalone */
  int host;                      /* --host: serve the coordinator here */
  const char *node_id;           /* --node-id */
  const char *role;              /* --role */
  const char *advertise;         /* --advertise-host: address peers use */
  uint64_t last_call_ms;         /* --last-call (default 1s) */
  uint64_t join_timeout_ms;      /* --join-timeout (default 600s) */
  uint64_t connect_timeout_ms;   /* --connect-timeout (default 30s) */
  uint64_t grace_ms;             /* --grace (default 5s) */
  uint64_t outage_ms;            /* --outage-window (0 = the default, 30s) */
  const char *elastic_mode;      /* --elastic-mode restart|in-place */
  const char *log_level;         /* --log-level */
  const char *ctl_bind;          /* --ctl-bind (with --host/embedded) */
  uint64_t progress_timeout_ms;  /* --progress-timeout: hang detection */
  const char *ckpt_dir;          /* --ckpt-dir */
  uint64_t ckpt_every_ms;        /* --ckpt-every */
  uint64_t ckpt_every_steps;     /* --ckpt-every-steps */
  uint64_t ckpt_keep;            /* --ckpt-keep */
  uint64_t ckpt_timeout_ms;      /* --ckpt-timeout */
  uint64_t nbuckets;             /* --nbuckets (PS jobs) */
  uint64_t spares;               /* --spares (in-place mode; torch/kv) */
  int preempt_signal;            /* --preempt-signal (besides SIGTERM) */
  uint64_t preempt_grace_ms;     /* --preempt-grace (default 30s) */
  mu_run_role_t roles[MU_RUN_MAX_ROLES]; /* --roles (nroles 0: one role
                                            from --nnodes/--nproc-per-node) */
  size_t nroles;
  int quiet;                     /* --quiet: no progress display */
  int is_host;                   /* --rdzv-conf is_host=: -1 unset, 0, 1 */
  const char *master_addr;       /* --master-addr (static rendezvous) */
  uint32_t master_port;          /* --master-port, 0 = unset */
  int64_t node_rank;             /* --node-rank, -1 = unset */
  char static_ep[320];           /* MASTER_ADDR:MASTER_PORT as endpoint */
  const char *join_token;        /* --join-token */
  const char *join_token_file;   /* --join-token-file */
  int insecure;                  /* --insecure */
  int no_python;                 /* --no-python */
  int resume;                    /* --resume: even a finished job's checkpoint */
  int mpi;                       /* --mpi: serve PMIx, one MPI world per epoch */
  int module;                    /* -m/--module: run argv[0] as python -m */
  const char *python;            /* --python: interpreter of .py and -m */
  int preempt_exit_code;         /* --preempt-exit-code (default 75) */
  const char *nproc_kind;        /* --nproc-per-node auto|gpu|cpu: counted
                                    by run.c (nproc.h) */
  const char *log_dir;           /* --log-dir: torchrun's worker log files */
  const char *redirects;         /* -r/--redirects (worker/log_files.h) */
  const char *tee;               /* -t/--tee */
  int run_path;                  /* --run-path: under python, whatever the
                                    name (before --no-python) */
  char notes[MU_RUN_MAX_NOTES][200]; /* accepted torchrun settings that
                                        change nothing here, one line each
                                        (run_compat.c) */
  size_t nnotes;
  char **argv;                   /* the program and its arguments */
  int argc;
} mu_run_opts_t;

/* Parse `muster run` arguments (argv[0] is the first flag, not "run").
 * Returns 0, or MUSTER_EINVAL with a sentence naming the problem in err. */
int mu_run_opts_parse (int argc, char **argv, mu_run_opts_t *o, char *err,
                       size_t errlen);

/* The same inside a cluster manager's allocation (slurm.h): --nnodes above 1
 * without --rdzv-endpoint is allowed there, the allocation's nodes form
 * the gang. */
int mu_run_opts_parse_in_allocation (int argc, char **argv, mu_run_opts_t *o,
                                     char *err, size_t errlen);

/* Usage text of `muster run`. */
const char *mu_run_opts_usage (void);

#endif
