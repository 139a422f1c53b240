/*
 * spawner.h — the agent's resident spawner: one `muster-exec --serve`
 * started once, which starts every worker's supervisor by forking
 * itself instead of the agent exec'ing muster-exec per worker
 * (worker/exec_serve.c; docs/architecture.md, decision 110).
 *
 * mu_spawner_launch has mu_launch's contract (proc_launch.h) for a
 * muster-exec command line: the process it returns is the agent's own
 * child (the server forks with CLONE_PARENT), in its own session, stdin
 * /dev/null, stdout and stderr on two fresh pipes, so the caller watches
 * it on a pidfd and reaps it with mu_launch_reap as before.  The server is
 * started on the first launch and again after it died (mu_spawner_
 * restarts counts those); a launch that was sent but never answered
 * (the server died in between) fails with MUSTER_EPEERLOST.
 *
 * One per agent, used from one thread; nothing is global.
 */
#ifndef MU_SPAWNER_H
#define MU_SPAWNER_H

#include "worker/proc_launch.h"

typedef struct mu_spawner mu_spawner_t;

/* A spawner that will run `helper --serve`; nothing is started yet.
 * Caller owns the return value (mu_spawner_destroy); NULL if out of
 * memory or helper is NULL. */
mu_spawner_t *mu_spawner_new (const char *helper);

/* Start a supervisor: o->argv is muster-exec's command line after its
 * name ([OPTIONS] -- PROGRAM ARGS...), o->env its whole environment
 * (MUSTER_EXEC_PPID included; NULL = ours), o->cwd as for mu_launch.
 * 0 and *l filled (the caller owns its descriptors and reaps l->pid), or
 * a negative code: -ENOENT/-ENOTDIR for a missing working directory,
 * -EMSGSIZE when the request is too large for the server (the caller
 * may start it with mu_launch instead), MUSTER_EPEERLOST when the server
 * died with the request (or a server started again for it died before
 * reading it), another negative errno (starting the server,
 * pipes, the fork).  On error no process is left behind that the caller
 * must reap. */
int mu_spawner_launch (mu_spawner_t *s, const mu_launch_opts_t *o,
                       mu_launch_t *l);

/* The server's pid, 0 while none runs. */
int mu_spawner_pid (const mu_spawner_t *s);

/* How many times the server was found dead and started again. */
unsigned mu_spawner_restarts (const mu_spawner_t *s);

/* Close the server (it exits on the socket's end), reap it, free, and set
 * *s_p to NULL; accepts NULL.  Running supervisors are not touched: they
 * are the caller's children. */
void mu_spawner_destroy (mu_spawner_t **s_p);

#endif
