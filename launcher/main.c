/*
 * main.c — the `muster` command: dispatch to its subcommands.  Every
 * subcommand answers --help (usage on stdout, exit 0), and `muster help
 * CMD` is the same as `muster CMD --help`.
 */
#include <stdio.h>
#include <string.h>

#include "common/proto.h"
#include "launcher/ctl_client.h"
#include "launcher/events_cli.h"
#include "launcher/run.h"

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: muster COMMAND [ARGS]\n"
           "  run       launch a gang (like torchrun); muster run --help\n"
           "  status    jobs of a running coordinator (control port)\n"
           "  ls [--state S] [--owner U]  the jobs you may see, one line each\n"
           "  logs [-f] [--rank R] JOB  a job's output (-f: follow)\n"
           "  scale JOB (--min N --max M | N)  change an elastic job's nodes\n"
           "  update [--env K=V]... JOB [--command ...]  rolling update (service)\n"
           "  load JOB X  a service's load figure (external balancer)\n"
           "  nodes     the registered nodes and their health (admin)\n"
           "  cordon NODE | uncordon NODE | drain NODE  steer a node (admin)\n"
           "  cancel    cancel a job of a running coordinator\n"
           "  checkpoint [--wait [--timeout D]] JOB  take a checkpoint now (--wait:\n"
           "                       until it commits or aborts, 60 s by default)\n"
           "  preempt [--grace D] JOB  checkpoint, stop and suspend a job\n"
           "  resume JOB           run a suspended job again from its checkpoint\n"
           "  keygen FILE          make a CURVE key pair (TCP control clients)\n"
           "  submit FILE          submit a job spec file (YAML; docs/scheduler.md)\n"
           "  events [-f] [--job J] what happened to jobs, live with -f\n"
           "  timeline JOB -o F.json|F.svg  a job's events as a trace or picture\n"
           "  version   print the version\n"
           "  help CMD  the usage of CMD (as muster CMD --help)\n"
           "The control port is --endpoint EP or $MUSTER_CTL_ENDPOINT (default:\n"
           "the local socket of the coordinator on this machine, your state\n"
           "directory's ctl.sock, else /var/lib/muster/ctl.sock); over TCP add\n"
           "--key FILE --server-key KEY (docs/security.md).\n");
}

static int
dispatch (int argc, char **argv);

/* `muster help CMD [...]` = `muster CMD --help`. */
static int
help (const char *cmd)
{
  char *v[] = { (char *)"muster", (char *)cmd, (char *)"--help", NULL };
  if (strcmp (cmd, "help") == 0 || strcmp (cmd, "version") == 0)
    {
      usage (stdout);
      return 0;
    }
  return dispatch (3, v);
}

int
main (int argc, char **argv)
{
  if (argc >= 3 && strcmp (argv[1], "help") == 0)
    return help (argv[2]);
  return dispatch (argc, argv);
}

static int
dispatch (int argc, char **argv)
{
  if (argc < 2)
    {
      usage (stderr);
      return 2;
    }
  const char *cmd = argv[1];
  if (strcmp (cmd, "run") == 0)
    return mu_run_main (argc - 2, argv + 2);
  if (strcmp (cmd, "status") == 0)
    return mu_ctl_status_main (argc - 2, argv + 2);
  if (strcmp (cmd, "cancel") == 0)
    return mu_ctl_cancel_main (argc - 2, argv + 2);
  if (strcmp (cmd, "checkpoint") == 0 || strcmp (cmd, "preempt") == 0
      || strcmp (cmd, "resume") == 0)
    return mu_ctl_job_main (cmd, argc - 2, argv + 2);
  if (strcmp (cmd, "ls") == 0)
    return mu_ctl_ls_main (argc - 2, argv + 2);
  if (strcmp (cmd, "logs") == 0)
    return mu_ctl_logs_main (argc - 2, argv + 2);
  if (strcmp (cmd, "scale") == 0)
    return mu_ctl_scale_main (argc - 2, argv + 2);
  if (strcmp (cmd, "update") == 0) /* service */
    return mu_ctl_update_main (argc - 2, argv + 2);
  if (strcmp (cmd, "load") == 0) /* service */
    return mu_ctl_load_main (argc - 2, argv + 2);
  if (strcmp (cmd, "nodes") == 0 || strcmp (cmd, "cordon") == 0
      || strcmp (cmd, "uncordon") == 0 || strcmp (cmd, "drain") == 0)
    return mu_ctl_nodes_main (cmd, argc - 2, argv + 2);
  if (strcmp (cmd, "events") == 0)
    return mu_events_main (argc - 2, argv + 2);
  if (strcmp (cmd, "timeline") == 0)
    return mu_timeline_main (argc - 2, argv + 2);
  if (strcmp (cmd, "keygen") == 0)
    return mu_keygen_main (argc - 2, argv + 2);
  if (strcmp (cmd, "submit") == 0) /* sched: submit.c */
    return mu_submit_main (argc - 2, argv + 2);
  if (strcmp (cmd, "version") == 0 || strcmp (cmd, "--version") == 0)
    {
      printf ("muster 0.1.0 (protocol %d)\n", MU_PROTO_VERSION);
      return 0;
    }
  if (strcmp (cmd, "help") == 0 || strcmp (cmd, "--help") == 0
      || strcmp (cmd, "-h") == 0)
    {
      usage (stdout);
      return 0;
    }
  fprintf (stderr, "muster: unknown command '%s'\n", cmd);
  usage (stderr);
  return 2;
}
