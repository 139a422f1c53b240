/*
 * exec_serve.h — the two entry points of the muster-exec program: the
 * supervisor of one worker (muster_exec.c) and the resident spawner that
 * forks supervisors on the agent's request (exec_serve.c).
 */
#ifndef MU_EXEC_SERVE_H
#define MU_EXEC_SERVE_H

/* `muster-exec [OPTIONS] [--] PROGRAM [ARGS...]`: supervise one worker.
 * Does not return (exits with PROGRAM's status). */
int mu_exec_supervise (int argc, char **argv);

/* `muster-exec --serve FD AGENT_PID [ROOM]`: serve spawn requests on the
 * seqpacket socket FD until the agent closes it or dies.  ROOM (blanks)
 * is space for each supervisor's command line in /proc/PID/cmdline.
 * Returns the exit status (0 at the agent's end, 125 on a usage
 * error). */
int mu_exec_serve (int argc, char **argv);

#endif
