/*
 * ctl_client.h — control-port subcommands of the muster CLI.
 */
#ifndef MU_CTL_CLIENT_H
#define MU_CTL_CLIENT_H

/* `muster status [--endpoint EP] [JOB]`; returns the exit status. */
int mu_ctl_status_main (int argc, char **argv);
/* `muster cancel [--endpoint EP] JOB`; returns the exit status. */
int mu_ctl_cancel_main (int argc, char **argv);
/* `muster checkpoint|preempt|resume [--endpoint EP] [--grace DUR] JOB`. */
int mu_ctl_job_main (const char *cmd, int argc, char **argv);

/* `muster keygen` (keygen.c). */
int mu_keygen_main (int argc, char **argv);

#endif
