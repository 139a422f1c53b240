/*
 * run.h — entry point of `muster run` (run.c).
 */
#ifndef MU_RUN_H
#define MU_RUN_H

/* Run `muster run` with its arguments (argv[0] is the first option) and
 * return the process exit status: the job's (0 on success, the first
 * failed worker's code or 128+signal on failure), 2 for usage errors, 127
 * for a missing program, 1 for other failures. */
int mu_run_main (int argc, char **argv);

#endif
