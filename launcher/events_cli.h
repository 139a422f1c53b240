/*
 * events_cli.h — `muster events` and `muster timeline` (events_cli.c).
 */
#ifndef MU_EVENTS_CLI_H
#define MU_EVENTS_CLI_H

/* `muster events [-f] [--job J] [--since N] [--json] ...`; exit status. */
int mu_events_main (int argc, char **argv);
/* `muster timeline JOB -o FILE.json|FILE.svg ...`; exit status. */
int mu_timeline_main (int argc, char **argv);

#endif
