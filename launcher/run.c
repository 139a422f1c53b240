/*
 * run.c — `muster run`: launch a gang, show its progress, report its
 * outcome, exit with its status.
 *
 * Three shapes, one loop:
 *  - no --rdzv-endpoint: an embedded coordinator on 127.0.0.1 (ephemeral
 *    port) and an agent bringing the job, in this process (torchrun's
 *    --standalone);
 *  - --rdzv-endpoint H:P --host: serve the coordinator at H:P and join it;
 *  - --rdzv-endpoint H:P: join the coordinator there as one more node.
 * The program is checked before anything starts (a missing program is a
 * clear error, not N crashing workers).  On a terminal the rendezvous
 * progress is redrawn in place; otherwise a line is printed when it
 * changes.  When the job ends, a failure is reported once, by its root
 * cause: the first rank that failed, its node, its exit code or signal and
 * the tail of its stderr (and, when a Python program could not import a
 * module, which interpreter ran it).
 *
 * Signals and exit statuses (the README's table): SIGTERM and
 * --preempt-signal with a --ckpt-dir are a preemption (checkpoint, stop,
 * suspended, exit --preempt-exit-code, 75 by default: EX_TEMPFAIL, which
 * requeue scripts retry); SIGINT with a --ckpt-dir checkpoints the same way
 * but the job ends as interrupted (130); a second signal while
 * checkpointing stops at once.  Without a --ckpt-dir SIGINT/SIGTERM stop
 * the workers (grace, then SIGKILL) and exit 128+signal.
 */
#include "launcher/run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <muster/error.h>

#include "common/log.h"
#include "common/netaddr.h"
#include "common/util.h"
#include "common/keys.h"
#include "common/state_dir.h"
#include "checkpoint/dir_probe.h"
#include "coordinator/coord.h"
#include "launcher/ckpt_report.h"
#include "launcher/elf_needs.h"
#include "launcher/job_id.h"
#include "launcher/nproc.h"
#include "launcher/run_opts.h"
#include "launcher/run_console.h"
#include "launcher/run_ha.h"
#include "launcher/run_report.h"
#include "launcher/run_spec.h"
#include "launcher/slurm_step.h"
#include "worker/agent.h"
#include "worker/fd_limit.h"
#include "worker/log_files.h"

typedef struct run {
  mu_run_opts_t o;
  mu_log_t log;       /* the agent's */
  mu_log_t coord_log; /* the embedded coordinator's: quieter, since the
                         launcher itself reports the outcome */
  uv_loop_t loop;
  mu_coord_t *coord;
  mu_agent_t *agent;
  uv_signal_t sigint, sigterm, sigpreempt;
  uv_timer_t linger;      /* a hosting launcher waits for the others */
  uint64_t linger_start;
  char ckpt_dir_abs[4096];
  char log_dir[4096];     /* --log-dir, -r, -t: this job's log directory */
  int tty;
  int progress_shown;
  uint64_t last_joined;
  int exit_code;
  int done;
  int signalled;          /* the first signal */
  int checkpointing;      /* that signal started a checkpoint-and-stop */
  int stop_now;           /* a second signal: stop without waiting */
  int python;             /* the program runs under an interpreter */
  char interpreter[4096]; /* ... found here (for the "No module" hint) */
  int epochs;             /* epochs this node ran workers in */
  uint64_t last_round;    /* epoch of the round last shown (non-tty) */
  char endpoint[640]; /* a joiner's: "tcp://A" or "tcp://A,tcp://STANDBY" */
  char host_bind[300];    /* --host: the checked address to bind */
  char host_ctl_bind[300];
  mu_keypair_t agent_key; /* this node's CURVE key pair */
  mu_token_t token;       /* joining: the job's or cluster's join token */
  int have_token;
  int hosting;             /* this node serves the coordinator */
  char secret_path[1024];  /* the job secret or token file in use */
  const char *prog_path;  /* the program as found (default job id) */
  const char *job_id;      /* the job's id (make_spec) */
  mu_ckpt_tally_t ckpt;    /* failed checkpoints, for the final report */
  char ctl_sock_path[200]; /* its automatic local control socket */
  mu_slurm_plan_t slurm;   /* driving a Slurm allocation (slurm.h) */
  mu_slurm_step_t *step;   /* ... the srun of its other nodes */
  mu_run_console_t console; /* stdout/stderr while the loop runs */
  mu_run_ha_t ha;           /* --standby: a musterd child (run_ha.h) */
  int ha_primary;           /* ... serving this job's coordinator */
  int ha_standby;           /* ... this node runs the job's standby */
  uv_timer_t ha_timer;      /* the standby waits for the stream endpoint */
  int ha_timer_open;
} run_t;

/* Find `prog` the way execvp will; 0 if it can be run, with its path in
 * `found` (size PATH_BUF). */
#define PATH_BUF 4096
static int
find_program (const char *prog, char *found, char *why, size_t whylen)
{
  snprintf (found, PATH_BUF, "%s", prog);
  if (strchr (prog, '/') != NULL)
    {
      struct stat st;
      if (stat (prog, &st) != 0)
        {
          snprintf (why, whylen, "program '%s' not found", prog);
          return -ENOENT;
        }
      if (S_ISDIR (st.st_mode) || access (prog, X_OK) != 0)
        {
          snprintf (why, whylen, "program '%s' is not executable", prog);
          return -EACCES;
        }
      return 0;
    }
  const char *path = getenv ("PATH");
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin";
  char buf[4096];
  for (const char *p = path; *p;)
    {
      const char *colon = strchr (p, ':');
      size_t n = colon ? (size_t)(colon - p) : strlen (p);
      snprintf (buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", prog);
      struct stat st;
      if (stat (buf, &st) == 0 && !S_ISDIR (st.st_mode) && access (buf, X_OK) == 0)
        {
          snprintf (found, PATH_BUF, "%s", buf);
          return 0;
        }
      p += n + (colon ? 1 : 0);
    }
  snprintf (why, whylen, "program '%s' not found in PATH", prog);
  return -ENOENT;
}

/* In-place mode re-ranks running workers through libmuster; a program
 * that cannot hear of it must not be started in that mode.  Interpreters
 * (the script may use the Python binding) and scripts cannot be checked
 * here: a worker of theirs that never attaches libmuster is replaced
 * instead of re-ranked when the gang changes (agent_workers.c). */
static int
check_in_place (const char *path)
{
  static const char *const interpreters[]
      = { "python", "bash", "sh", "dash", "env", "perl", "ruby", "node", NULL };
  const char *base = strrchr (path, '/');
  base = base ? base + 1 : path;
  for (int i = 0; interpreters[i]; i++)
    if (strncmp (base, interpreters[i], strlen (interpreters[i])) == 0)
      return 0;
  int rc = mu_elf_needs (path, "libmuster.so");
  if (rc == 0)
    {
      fprintf (stderr,
               "muster run: --elastic-mode in-place needs a program linked "
               "with libmuster (-lmuster) to hear of membership changes; %s "
               "does not link it (use --elastic-mode restart)\n",
               path);
      return MUSTER_EINVAL;
    }
  return 0;
}

static int
ends_with (const char *s, const char *suffix)
{
  size_t n = strlen (s), m = strlen (suffix);
  return n >= m && strcmp (s + n - m, suffix) == 0;
}

/* torchrun runs "script.py" and "-m module" with the Python interpreter;
 * so does muster run, unless --no-python (--run-path: always).  The
 * interpreter is --python, else $MUSTER_PYTHON, else python3 from PATH. */
static char **
build_argv (const mu_run_opts_t *o, size_t *n_out)
{
  int python = o->run_path
               || (!o->no_python && (o->module || ends_with (o->argv[0], ".py")));
  size_t n = (size_t)o->argc + (python ? (o->module ? 2 : 1) : 0);
  char **v = calloc (n + 1, sizeof *v);
  if (v == NULL)
    return NULL;
  size_t k = 0;
  if (python)
    {
      const char *py = o->python ? o->python : getenv ("MUSTER_PYTHON");
      v[k++] = (char *)(py && *py ? py : "python3");
      if (o->module)
        v[k++] = (char *)"-m";
    }
  for (int i = 0; i < o->argc; i++)
    v[k++] = o->argv[i];
  *n_out = k;
  return v;
}

static void
clear_progress (run_t *r)
{
  if (r->tty && r->progress_shown)
    {
      fputs ("\r\033[K", stderr);
      r->progress_shown = 0;
    }
}

static void
on_progress (void *arg, const mu_rdzv_progress_t *p)
{
  run_t *r = arg;
  if (r->o.quiet)
    return;
  char line[256];
  if (p->waiting)
    snprintf (line, sizeof line,
              "muster: job %s is full (%llu/%llu nodes); waiting for a place",
              p->job, (unsigned long long)p->joined,
              (unsigned long long)p->max_nodes);
  else
    {
      int n = snprintf (line, sizeof line,
                        "muster: waiting for nodes %llu/%llu (min %llu)",
                        (unsigned long long)p->joined,
                        (unsigned long long)p->max_nodes,
                        (unsigned long long)p->min_nodes);
      if (p->joined < p->min_nodes && p->join_left_ms >= 0)
        snprintf (line + n, sizeof line - (size_t)n, ", gives up in %.0f s",
                  (double)p->join_left_ms / 1000.0);
      else if (p->last_call_ms >= 0)
        snprintf (line + n, sizeof line - (size_t)n, ", last call in %.1f s",
                  (double)p->last_call_ms / 1000.0);
    }
  if (r->tty)
    {
      fprintf (stderr, "\r\033[K%s", line);
      r->progress_shown = 1;
    }
  else if (p->joined != r->last_joined || p->epoch != r->last_round
           || p->waiting)
    fprintf (stderr, "%s\n", line);
  r->last_joined = p->joined;
  r->last_round = p->epoch;
  fflush (stderr);
}

static void
on_epoch (void *arg, const mu_start_t *s)
{
  run_t *r = arg;
  clear_progress (r);
  r->epochs++;
  if (!r->o.quiet)
    fprintf (stderr,
             "muster: job %s epoch %llu: %llu worker(s) on %llu node(s); this "
             "node runs ranks %llu-%llu%s\n",
             s->job, (unsigned long long)s->epoch, (unsigned long long)s->world,
             (unsigned long long)s->nnodes, (unsigned long long)s->assign.v[0].rank,
             (unsigned long long)s->assign.v[s->assign.n - 1].rank,
             s->in_place ? " (re-formed in place)"
             : s->restart_count ? " (restarted)" : "");
  char note[1024];
  if (!r->o.quiet && mu_run_finished_notice (s, note, sizeof note) > 0)
    fprintf (stderr, "%s\n", note);
  if (!r->o.quiet && mu_run_resume_notice (s, mu_wall_us (), note, sizeof note) > 0)
    fprintf (stderr, "%s\n", note);
}

static void
on_stop (void *arg, const mu_stop_t *s)
{
  run_t *r = arg;
  if (r->o.quiet || !s->recover)
    return; /* a final stop is reported with the outcome */
  clear_progress (r);
  fprintf (stderr, "muster: job %s epoch %llu stopped: %s; re-forming the "
                   "gang\n",
           s->job, (unsigned long long)s->epoch,
           s->reason ? s->reason : "recovery");
}

static void
print_tail (const char *tail)
{
  const char *p = tail;
  while (p && *p)
    {
      const char *nl = strchr (p, '\n');
      size_t n = nl ? (size_t)(nl - p) : strlen (p);
      fprintf (stderr, "muster:   | %.*s\n", (int)n, p);
      p += n + (nl ? 1 : 0);
    }
}

/* A Python program that cannot import a module usually ran under another
 * interpreter than the one its packages are installed for (a venv's or
 * /usr/local's python3 first in PATH, Debian's python3-* packages in
 * /usr/bin/python3): name the interpreter and the way to choose another. */
static void
python_hint (const run_t *r, const mu_job_done_t *d)
{
  if (!r->python || d->stderr_tail == NULL
      || strstr (d->stderr_tail, "No module named") == NULL)
    return;
  char used[4096], sys_py[4096];
  const char *deb = "/usr/bin/python3";
  int other = realpath (r->interpreter, used) != NULL
              && realpath (deb, sys_py) != NULL && access (deb, X_OK) == 0
              && strcmp (used, sys_py) != 0;
  if (other)
    fprintf (stderr, "muster: hint: the program ran under %s; Debian's "
             "python3-* packages (e.g. python3-torch) live in %s: use "
             "--python %s (or set MUSTER_PYTHON)\n", r->interpreter, deb, deb);
  else
    fprintf (stderr, "muster: hint: the program ran under %s: install the "
             "module for it, or choose another interpreter with --python "
             "PATH (or MUSTER_PYTHON)\n", r->interpreter);
}

/* A checkpoint failed: say so at once, at the default level. */
static void
on_ckpt_done (void *arg, const mu_ckpt_done_t *d)
{
  run_t *r = arg;
  char line[1200];
  if (mu_ckpt_report_done (&r->ckpt, d, line, sizeof line) > 0)
    {
      clear_progress (r);
      fprintf (stderr, "%s\n", line);
    }
}

static void report_outcome (run_t *r, const mu_job_done_t *d);

static void
ha_timer_close (run_t *r)
{
  if (r->ha_timer_open)
    uv_close ((uv_handle_t *)&r->ha_timer, NULL);
  r->ha_timer_open = 0;
}

static void
on_done (void *arg, const mu_job_done_t *d)
{
  run_t *r = arg;
  report_outcome (r, d);
  /* The job is over: a standby that did not take over has nothing left
   * to do (one that did is the coordinator now: it lingers at the end). */
  ha_timer_close (r);
  if (r->ha_standby && !mu_run_ha_serving (&r->ha))
    mu_run_ha_stop (&r->ha);
  /* The final report says when checkpoints failed, whatever the outcome
   * (the exit status stays the job's). */
  char line[1200];
  if (mu_ckpt_report_summary (&r->ckpt, line, sizeof line) > 0)
    fprintf (stderr, "%s\n", line);
}

static void
report_outcome (run_t *r, const mu_job_done_t *d)
{
  clear_progress (r);
  r->done = 1;
  r->exit_code = (int)d->exit_code;
  if (r->signalled && (r->stop_now || !r->checkpointing))
    {
      /* Stopped by the user (or twice signalled): whatever the workers
       * did on their way out, the job ended because of the signal. */
      r->exit_code = 128 + r->signalled;
      if (!r->o.quiet)
        fprintf (stderr, "muster: job %s stopped by %s (exit %d)\n", d->job,
                 strsignal (r->signalled), r->exit_code);
      return;
    }
  if (strcmp (d->state, "succeeded") == 0)
    {
      if (!r->o.quiet)
        fprintf (stderr, "muster: job %s succeeded: %s\n", d->job,
                 d->reason ? d->reason : "");
      if (!r->o.quiet && r->epochs == 0)
        fprintf (stderr, "muster: this node ran no worker: the job ended "
                         "while it waited for a place\n");
      return;
    }
  if (strcmp (d->state, "suspended") == 0 && r->signalled == SIGINT)
    {
      /* Ctrl-C with a --ckpt-dir: checkpointed, then stopped; the user
       * ended the job, so it is not retried as a preemption would be. */
      r->exit_code = 128 + SIGINT;
      if (d->resumable)
        fprintf (stderr,
                 "muster: job %s interrupted; checkpointed, resumable from "
                 "step %llu: run the same command (same --rdzv-id and "
                 "--ckpt-dir) to resume\n",
                 d->job, (unsigned long long)d->resume_step);
      else
        fprintf (stderr, "muster: job %s interrupted before a checkpoint "
                 "committed (%s)\n", d->job, d->reason ? d->reason : "");
      return;
    }
  if (strcmp (d->state, "suspended") == 0)
    {
      r->exit_code = r->o.preempt_exit_code;
      r->slurm.requeue = r->slurm.active; /* at exit: scontrol requeue */
      if (d->resumable)
        fprintf (stderr,
                 "muster: job %s suspended: %s; run the same command (same "
                 "--rdzv-id and --ckpt-dir) to resume\n",
                 d->job, d->reason ? d->reason : "");
      else
        fprintf (stderr, "muster: job %s suspended: %s\n", d->job,
                 d->reason ? d->reason : "");
      return;
    }
  fprintf (stderr, "muster: job %s %s: %s\n", d->job[0] ? d->job : "(none)",
           d->state, d->reason ? d->reason : "");
  if (d->failed_rank >= 0)
    {
      fprintf (stderr, "muster: root cause: rank %lld on node %s ",
               (long long)d->failed_rank, d->failed_node ? d->failed_node : "?");
      if (d->failed_signal > 0)
        fprintf (stderr, "was killed by signal %lld (%s)\n",
                 (long long)d->failed_signal, strsignal ((int)d->failed_signal));
      else
        fprintf (stderr, "exited with code %d\n", r->exit_code);
      if (d->stderr_tail && d->stderr_tail[0])
        {
          fprintf (stderr, "muster: last lines of rank %lld's stderr:\n",
                   (long long)d->failed_rank);
          print_tail (d->stderr_tail);
        }
      python_hint (r, d);
    }
  if (r->exit_code == 0)
    r->exit_code = 1;
}

static void
close_signals (run_t *r)
{
  if (!uv_is_closing ((uv_handle_t *)&r->sigint))
    uv_close ((uv_handle_t *)&r->sigint, NULL);
  if (!uv_is_closing ((uv_handle_t *)&r->sigterm))
    uv_close ((uv_handle_t *)&r->sigterm, NULL);
  if (r->o.preempt_signal && r->o.preempt_signal != SIGTERM
      && !uv_is_closing ((uv_handle_t *)&r->sigpreempt))
    uv_close ((uv_handle_t *)&r->sigpreempt, NULL);
}

#define HOST_LINGER_MS 5000

static void
on_linger (uv_timer_t *t)
{
  run_t *r = t->data;
  if (mu_coord_nodes_alive (r->coord) > 0
      && mu_now_ms () - r->linger_start < HOST_LINGER_MS)
    return;
  uv_close ((uv_handle_t *)&r->linger, NULL);
  mu_coord_stop (r->coord);
  close_signals (r);
}

static void
on_agent_closed (void *arg)
{
  run_t *r = arg;
  mu_slurm_step_finish (r->step, 30000);
  ha_timer_close (r);
  if (r->coord && r->o.host && !r->signalled
      && mu_coord_nodes_alive (r->coord) > 0)
    {
      /* The other nodes still have to hear the outcome and leave: a
       * coordinator that vanished with job.done still queued would make
       * them report a finished job as lost. */
      r->linger_start = mu_now_ms ();
      uv_timer_init (&r->loop, &r->linger);
      r->linger.data = r;
      uv_timer_start (&r->linger, on_linger, 10, 10);
      return;
    }
  if (r->coord)
    mu_coord_stop (r->coord);
  close_signals (r);
}

static void
on_signal (uv_signal_t *s, int signum)
{
  run_t *r = s->data;
  if (r->signalled)
    {
      /* A second signal while checkpointing: stop now (SIGTERM to the
       * workers, SIGKILL after --grace).  Otherwise the stop is already
       * under way and bounded by the grace. */
      if (r->checkpointing && !r->stop_now && !r->done)
        {
          r->stop_now = 1;
          clear_progress (r);
          fprintf (stderr, "muster: %s again: stopping workers now without "
                   "the checkpoint (grace %.1f s)\n", strsignal (signum),
                   (double)r->o.grace_ms / 1000.0);
          r->exit_code = 128 + r->signalled;
          mu_agent_shutdown (r->agent, r->o.grace_ms);
        }
      return;
    }
  r->signalled = signum;
  clear_progress (r);
  /* With checkpoints, SIGTERM (Kubernetes, Slurm) and the configured
   * warning signal are a preemption, and SIGINT (Ctrl-C) an interruption:
   * checkpoint, then stop.  Without checkpoints, just stop. */
  if (r->o.ckpt_dir != NULL && !r->done)
    {
      r->checkpointing = 1;
      /* What the launcher exits with if no job.done comes (the
       * coordinator never answered within the grace). */
      r->exit_code = signum == SIGINT ? 128 + SIGINT : r->o.preempt_exit_code;
      if (signum == SIGINT)
        fprintf (stderr, "muster: Interrupt: checkpointing within %.1f s, "
                 "then stopping (interrupt again to stop at once)\n",
                 (double)r->o.preempt_grace_ms / 1000.0);
      else
        fprintf (stderr, "muster: %s: preempted; checkpointing within %.1f s\n",
                 strsignal (signum), (double)r->o.preempt_grace_ms / 1000.0);
      mu_agent_preempt (r->agent, r->o.preempt_grace_ms,
                        signum == SIGINT ? "interrupted (SIGINT)"
                                         : strsignal (signum));
      return;
    }
  fprintf (stderr, "muster: %s: stopping workers (grace %.1f s)\n",
           strsignal (signum), (double)r->o.grace_ms / 1000.0);
  if (!r->done)
    r->exit_code = 128 + signum;
  mu_agent_shutdown (r->agent, r->o.grace_ms);
}

/* --host binds the address given, resolved and checked to be this
 * machine's (netaddr.c), never all interfaces unless asked: a mistyped or
 * foreign address is a one-line error before anything starts.  The same
 * for --ctl-bind of a served or embedded coordinator. */
static int
check_binds (run_t *r)
{
  char why[1024];
  mu_endpoint_t ep;
  mu_bind_scope_t scope = MU_BIND_OTHER;
  if (r->o.host
      && (mu_endpoint_parse (r->o.endpoint, r->slurm.active ? MU_EP_ANY_PORT : 0,
                             &ep, why, sizeof why) != 0
          || mu_netaddr_bind (&ep, r->host_bind, sizeof r->host_bind, &scope,
                              why, sizeof why) != 0))
    {
      fprintf (stderr, "muster: cannot host the coordinator at %s: %s\n",
               r->o.endpoint, why);
      return MUSTER_EINVAL;
    }
  /* A name (Debian's /etc/hosts maps the hostname to 127.0.1.1) that is
   * loopback here cannot be reached by other nodes: say so. */
  if (r->o.host && scope == MU_BIND_LOOPBACK && r->o.max_nodes > 1
      && strncmp (ep.host, "127.", 4) != 0 && strcmp (ep.host, "::1") != 0
      && strcmp (ep.host, "localhost") != 0)
    fprintf (stderr, "muster: warning: %s is a loopback address here (%s): "
             "other nodes cannot connect; give this machine's address or "
             "0.0.0.0\n", ep.host, r->host_bind);
  if (r->o.ctl_bind != NULL && strncmp (r->o.ctl_bind, "ipc://", 6) != 0
      && (mu_endpoint_parse (r->o.ctl_bind, MU_EP_ANY_PORT | MU_EP_OTHER_TRANSPORT,
                             &ep, why, sizeof why) != 0
          || mu_netaddr_bind (&ep, r->host_ctl_bind, sizeof r->host_ctl_bind,
                              NULL, why, sizeof why) != 0))
    {
      fprintf (stderr, "muster: cannot bind the control port at %s: %s\n",
               r->o.ctl_bind, why);
      return MUSTER_EINVAL;
    }
  return 0;
}

/* STATE_DIR/run/JOB-PID.sock (the pid: two runs of one command must not
 * take each other's socket).  0, or non-zero when there is no short enough
 * path (then the job simply has no local control socket). */
static int
auto_ctl_socket (run_t *r)
{
  char dir[200];
  if (mu_state_dir_default (dir, sizeof dir) != 0
      || strlen (dir) + sizeof "/run" >= sizeof dir)
    return -1;
  strcat (dir, "/run");
  if (mu_mkdir_p (dir, 0700) != 0)
    return -1;
  int n = snprintf (r->ctl_sock_path, sizeof r->ctl_sock_path, "%s/%s-%d.sock",
                    dir, r->job_id, (int)getpid ());
  return n > 0 && (size_t)n < 100 ? 0 : -1; /* sun_path */
}

static int
start_coordinator (run_t *r, int quiet_if_busy)
{
  char bind[300];
  if (r->o.endpoint == NULL)
    strcpy (bind, "tcp://127.0.0.1:*");
  else
    mu_strlcpy (bind, r->host_bind, sizeof bind);
  /* --ctl-bind ipc://PATH: a local control socket (callers known by uid);
   * a TCP one speaks CURVE and needs listed user keys, which an embedded
   * coordinator has none of, so only --insecure makes it useful. */
  int local = r->o.ctl_bind && strncmp (r->o.ctl_bind, "ipc://", 6) == 0;
  /* Without --ctl-bind, a local socket in STATE_DIR/run/, where `muster
   * status` on this machine finds it without flags. */
  const char *auto_local = NULL;
  if (r->o.ctl_bind == NULL && auto_ctl_socket (r) == 0)
    auto_local = r->ctl_sock_path;
  mu_coord_opts_t co = { .agent_bind = bind,
                         .ctl_bind = r->o.ctl_bind && !local ? r->host_ctl_bind
                                                             : NULL,
                         .ctl_local = local ? r->o.ctl_bind + 6 : auto_local,
                         .insecure = r->o.insecure,
                         .server_secret = r->token.server_sec[0]
                                            ? r->token.server_sec
                                            : NULL,
                         .log = &r->coord_log };
  int rc = mu_coord_new (&co, &r->coord);
  mu_log_level_t level = r->coord_log.level;
  if (quiet_if_busy)
    r->coord_log.level = (mu_log_level_t)(MU_LOG_ERR - 1); /* a try */
  if (rc == 0)
    rc = mu_coord_start (r->coord, &r->loop);
  r->coord_log.level = level;
  if (rc != 0)
    {
      if (!(quiet_if_busy && rc == -EADDRINUSE))
        fprintf (stderr, "muster: cannot serve the coordinator at %s: %s\n",
                 bind, muster_strerror (rc));
      mu_coord_destroy (&r->coord);
      return rc;
    }
  mu_strlcpy (r->endpoint, mu_coord_agent_endpoint (r->coord),
              sizeof r->endpoint);
  if (r->o.endpoint != NULL && !r->o.quiet)
    fprintf (stderr, "muster: serving the coordinator at %s %s\n", r->endpoint,
             mu_bind_scope_text (mu_netaddr_endpoint_scope (r->endpoint)));
  if (mu_coord_ctl_endpoint (r->coord) && !r->o.quiet)
    fprintf (stderr, "muster: control port %s%s\n", mu_coord_ctl_endpoint (r->coord),
             r->o.insecure ? "" : " (CURVE: no client key is listed here; "
                                  "--ctl-bind ipc://PATH gives a local socket)");
  if (mu_coord_ctl_local_endpoint (r->coord) && !r->o.quiet
      && (local || r->log.level >= MU_LOG_INFO))
    fprintf (stderr, "muster: control socket %s\n",
             mu_coord_ctl_local_endpoint (r->coord));
  return 0;
}

/* The embedded or served coordinator knows this process's own agent key
 * (made here, never written anywhere).  A served one also accepts the
 * job secret's enrolment key (the other nodes hold the same secret) and
 * says how the other nodes join. */
static int
secure_local_agent (run_t *r, const char *job_id)
{
  if (r->o.insecure)
    return 0;
  int rc = mu_keypair_new (&r->agent_key);
  if (rc == 0)
    rc = mu_coord_authorize_node (r->coord, r->agent_key.pub);
  if (rc == 0 && r->hosting)
    rc = mu_coord_job_enroll_key (r->coord, job_id, r->token.enroll.pub);
  if (rc != 0)
    {
      fprintf (stderr, "muster: cannot set up this node's keys: %s\n",
               muster_strerror (rc));
      return rc;
    }
  /* (In a Slurm allocation the joiners get the token from srun: it is
   * not printed into the job's output file.) */
  if (!r->hosting || r->o.quiet || r->slurm.active)
    return 0;
  /* The join-only form of the secret: it lets a node join, not host. */
  mu_token_t join = r->token;
  memset (join.server_sec, 0, sizeof join.server_sec);
  char tok[MU_SECRET_LEN + 1];
  mu_token_format (&join, tok, sizeof tok);
  fprintf (stderr, "muster: hosting job %s at %s; other nodes run the same "
           "command (they read the job secret %s: keep it on a shared "
           "filesystem or copy it, 0600), or join with --join-token %s\n",
           job_id, r->o.endpoint, r->secret_path, tok);
  memset (tok, 0, sizeof tok);
  memset (&join, 0, sizeof join);
  return 0;
}

/* Where this node's job secret lives when no file is given:
 * STATE_DIR/jobs/ID.secret, so identical commands on the machines of a
 * cluster with a shared home directory (or on one machine) share it. */
static int
default_secret_path (run_t *r, const char *job_id, char *err, size_t errlen)
{
  char dir[900];
  int rc = mu_state_dir_default (dir, sizeof dir);
  if (rc != 0)
    {
      snprintf (err, errlen, "no home directory for the job secret: give "
                "--join-token-file FILE");
      return rc;
    }
  mu_strlcpy (dir + strlen (dir), "/jobs", sizeof dir - strlen (dir));
  rc = mu_mkdir_p (dir, 0700);
  if (rc != 0)
    {
      snprintf (err, errlen, "cannot create %s: %s", dir, muster_strerror (rc));
      return rc;
    }
  snprintf (r->secret_path, sizeof r->secret_path, "%s/%s.secret", dir, job_id);
  return 0;
}

/* --standby on the hosting node: serve the job's coordinator as a musterd
 * child that streams its journal (run_ha.h).  0, -EADDRINUSE (another
 * node hosts), or non-zero after a one-line error. */
static int
start_ha_primary (run_t *r)
{
  char stream[320], err[1200];
  mu_strlcpy (stream, r->host_bind, sizeof stream);
  char *colon = strrchr (stream, ':');
  if (colon == NULL || (size_t)(colon - stream) + 3 > sizeof stream)
    return MUSTER_EINVAL;
  strcpy (colon, ":0");
  if (r->o.ctl_bind == NULL)
    auto_ctl_socket (r);
  mu_run_ha_opts_t ho = { .job_id = r->job_id,
                          .secret = r->o.insecure ? NULL : &r->token,
                          .agent_bind = r->host_bind,
                          .stream_bind = stream,
                          .ctl_socket = r->ctl_sock_path[0] ? r->ctl_sock_path
                                                            : NULL,
                          .log_level = r->o.log_level };
  int rc = mu_run_ha_primary (&r->ha, &ho, err, sizeof err);
  if (rc == -EADDRINUSE)
    {
      mu_run_ha_stop (&r->ha); /* its directory */
      return rc;
    }
  if (rc != 0)
    {
      fprintf (stderr, "muster run: %s\n", err);
      return rc;
    }
  r->ha_primary = 1;
  if (!r->o.quiet)
    fprintf (stderr, "muster: serving the coordinator at %s (musterd pid %d, "
             "with a standby at %s)\n", r->ha.agent_ep, (int)r->ha.pid,
             r->o.standby);
  return 0;
}

/* The standby node: once its agent has registered, it knows where the
 * hosting node streams the journal, and starts the standby musterd. */
static void
on_ha_timer (uv_timer_t *t)
{
  run_t *r = t->data;
  const char *stream = mu_agent_standby_stream (r->agent);
  if (r->ha.pid > 0 || stream == NULL || stream[0] == '\0')
    return;
  char bind[320], err[1200];
  snprintf (bind, sizeof bind, "tcp://%s", r->o.standby);
  mu_run_ha_opts_t ho = { .job_id = r->job_id,
                          .secret = r->o.insecure ? NULL : &r->token,
                          .agent_bind = bind,
                          .standby_of = stream,
                          .log_level = r->o.log_level };
  if (mu_run_ha_standby (&r->ha, &ho, err, sizeof err) != 0)
    fprintf (stderr, "muster: cannot run the job's standby coordinator: %s\n",
             err);
  else if (!r->o.quiet)
    fprintf (stderr, "muster: this node runs the job's standby coordinator "
             "(musterd pid %d) at %s, following %s\n", (int)r->ha.pid,
             r->o.standby, stream);
  ha_timer_close (r);
}

/* Which node hosts, and with which key (torchrun's c10d rules, secured):
 *  - a join token given (--join-token, --join-token-file with a token,
 *    $MUSTER_JOIN_TOKEN: a musterd's or a `--host` job's) only joins;
 *  - otherwise the nodes share a job secret (--join-token-file, made there
 *    if missing, else STATE_DIR/jobs/ID.secret); --host (or is_host=1, or
 *    --node-rank 0) hosts, and a node whose address is the endpoint's tries
 *    to: the first to bind hosts, the others (is_host=0 always) join.
 * 0 with r->hosting and r->token set, or non-zero after a one-line error. */
static int
choose_role (run_t *r, const char *job_id)
{
  char err[2048];
  int rc = 0;
  int created = 0;
  const char *envtok = getenv ("MUSTER_JOIN_TOKEN");
  int may_host = r->o.host || r->o.is_host != 0;
  if (r->o.insecure)
    r->token.server_sec[0] = '\0';
  else if (r->o.join_token != NULL
           || (envtok != NULL && *envtok && !r->o.host)
           || (r->o.join_token_file != NULL
               && (access (r->o.join_token_file, F_OK) == 0 || !may_host)))
    {
      mu_agent_creds_opts_t co = { .token = r->o.join_token,
                                   .token_file = r->o.join_token_file };
      int have_key = 0;
      mu_keypair_t unused;
      rc = mu_agent_creds_load (&co, &r->token, &unused, &have_key, err,
                                sizeof err);
      /* A token given inline is in argv, which every local user can read
       * in /proc/PID/cmdline: blank it there now that it is parsed. */
      if (r->o.join_token != NULL)
        memset ((char *)r->o.join_token, 'x', strlen (r->o.join_token));
      if (r->o.join_token_file != NULL)
        mu_strlcpy (r->secret_path, r->o.join_token_file, sizeof r->secret_path);
    }
  else if (!may_host)
    {
      /* is_host=0 / a later --node-rank: join with the job's secret. */
      rc = default_secret_path (r, job_id, err, sizeof err);
      /* The hosting node makes it (same machine, or a shared home): a node
       * started first waits for it, within --connect-timeout. */
      for (uint64_t waited = 0;
           rc == 0 && access (r->secret_path, F_OK) != 0
           && waited < r->o.connect_timeout_ms;
           waited += 20)
        {
          struct timespec ts = { 0, 20 * 1000000L };
          nanosleep (&ts, NULL);
        }
      if (rc == 0 && access (r->secret_path, F_OK) != 0)
        {
          snprintf (err, sizeof err, "no join token: this node never hosts "
                    "(is_host=0 or --node-rank > 0) and there is no job secret "
                    "at %s; give --join-token-file FILE (the file the hosting "
                    "node wrote) or --join-token TOKEN", r->secret_path);
          rc = MUSTER_EAUTH;
        }
      if (rc == 0)
        rc = mu_token_load (r->secret_path, &r->token, err, sizeof err);
    }
  else
    {
      if (r->o.join_token_file != NULL)
        mu_strlcpy (r->secret_path, r->o.join_token_file, sizeof r->secret_path);
      else
        rc = default_secret_path (r, job_id, err, sizeof err);
      if (rc == 0)
        rc = mu_job_secret_load_or_create (r->secret_path, &r->token, &created,
                                           err, sizeof err);
    }
  if (rc != 0)
    {
      fprintf (stderr, "muster run: %s\n", err);
      return 2;
    }
  r->have_token = !r->o.insecure;
  int secret = r->o.insecure || r->token.server_sec[0] != '\0';
  if (r->o.host && !secret)
    {
      fprintf (stderr, "muster run: --host needs a job secret, and %s holds a "
               "join token (it lets a node join, not host): give another "
               "--join-token-file path, or none\n",
               r->o.join_token_file ? r->o.join_token_file : "the token given");
      return 2;
    }
  /* Auto-hosting: only with the secret, and only where the endpoint's
   * address is this machine's. */
  int try_host = r->o.host;
  /* Without CURVE there is no secret to prove the nodes belong together:
   * only a node told to (--host, is_host=1, --node-rank 0) hosts. */
  if (!try_host && may_host && secret && !r->o.insecure)
    {
      mu_endpoint_t ep;
      mu_bind_scope_t scope;
      char why[600];
      try_host = mu_endpoint_parse (r->o.endpoint, 0, &ep, why, sizeof why) == 0
                 && mu_netaddr_bind (&ep, r->host_bind, sizeof r->host_bind,
                                     &scope, why, sizeof why) == 0;
    }
  if (try_host && r->o.standby != NULL)
    {
      /* --standby: the coordinator is a musterd child whose journal the
       * standby node follows (run_ha.h); this node joins it like any. */
      int may_join = !r->o.host || (!r->o.insecure && secret);
      rc = start_ha_primary (r);
      if (rc == -EADDRINUSE && may_join)
        {
          rc = 0;
          if (r->o.host || r->log.level >= MU_LOG_INFO)
            fprintf (stderr, "muster: %s is already served (by another node "
                     "of the job?); joining it\n", r->o.endpoint);
        }
      else if (rc != 0)
        return 1;
    }
  else if (try_host)
    {
      /* With a job secret even --host only prefers to host: when another
       * node of the job bound the endpoint first (identical commands and
       * one --host can race), it joins that node instead. */
      int may_join = !r->o.host || (!r->o.insecure && secret);
      rc = start_coordinator (r, may_join);
      if (rc == -EADDRINUSE && may_join)
        {
          rc = 0;
          if (r->o.host || r->log.level >= MU_LOG_INFO)
            fprintf (stderr, "muster: %s is already served (by another node "
                     "of the job?); joining it\n", r->o.endpoint);
        }
      else if (rc != 0)
        return 1;
      else
        r->hosting = 1;
    }
  /* With a job secret the job is a `muster run` one: the node at the
   * standby's address (the first launcher there) runs its standby. */
  if (!r->hosting && !r->ha_primary && r->o.standby != NULL && secret
      && !r->o.insecure)
    {
      rc = mu_run_ha_claim_standby (&r->ha, r->o.standby, err, sizeof err);
      if (rc < 0)
        {
          fprintf (stderr, "muster run: %s\n", err);
          return 2;
        }
      r->ha_standby = rc == 1;
      rc = 0;
    }
  if (!r->hosting && r->o.standby != NULL)
    snprintf (r->endpoint, sizeof r->endpoint, "tcp://%s,tcp://%s",
              r->o.endpoint, r->o.standby);
  else if (!r->hosting)
    snprintf (r->endpoint, sizeof r->endpoint, "tcp://%s", r->o.endpoint);
  (void)created;
  return 0;
}

/* torchrun's worker log directory (worker/log_files.h): DIR/<id>_XXXXXX,
 * made now so a directory that cannot be made is a one-line error before
 * anything starts; -r/-t without --log-dir use a fresh one in $TMPDIR, as
 * torchrun does.  Said on stderr, so the files can be found. */
static int
make_log_dir (run_t *r, const char *id)
{
  char err[4600];
  if (mu_log_job_dir (r->o.log_dir, id, r->log_dir, sizeof r->log_dir, err,
                      sizeof err) != 0)
    {
      fprintf (stderr, "muster run: --log-dir: %s\n", err);
      return MUSTER_EINVAL;
    }
  if (!r->o.quiet)
    fprintf (stderr, "muster: worker logs in %s\n", r->log_dir);
  return 0;
}

/* Many workers need many open files (worker/fd_limit.h): raise the soft
 * limit to the hard one, and say at once, before anything starts, when
 * this node's workers cannot fit even so. */
static int
check_fd_limit (run_t *r)
{
  uint64_t nproc = r->o.nproc, limit = UINT64_MAX;
  for (size_t i = 0; i < r->o.nroles; i++)
    if (r->o.roles[i].nproc > nproc)
      nproc = r->o.roles[i].nproc;
  char err[512];
  if (mu_fd_limit_raise (&limit) == 0
      && mu_fd_limit_fits (nproc, r->o.log_dir || r->o.redirects || r->o.tee,
                           limit, err, sizeof err) != 0)
    {
      fprintf (stderr, "muster run: --nproc-per-node %llu: %s\n",
               (unsigned long long)nproc, err);
      return MUSTER_EQUOTA;
    }
  return 0;
}

static void
make_spec (run_t *r, mu_job_spec_t *spec, mu_role_spec_t *role, char **argv,
           size_t argc, char *idbuf, size_t idlen)
{
  /* Without --rdzv-id, an id of the command, directory and user
   * (job_id.c): a rerun finds its checkpoints under <ckpt-dir>/<id>, and
   * unrelated runs never share a job or a checkpoint directory. */
  char cwd[2048];
  if (r->o.rdzv_id)
    mu_strlcpy (idbuf, r->o.rdzv_id, idlen);
  else
    mu_job_id_derive (r->prog_path, argv, argc,
                      getcwd (cwd, sizeof cwd) ? cwd : "", (uint32_t)getuid (),
                      idbuf, idlen);
  /* One mapping of flags to the spec, shared with the spec-file front end
   * (run_spec.c, run_spec_test.c); only the run's own parts differ. */
  mu_run_spec_from_opts (&r->o, idbuf, spec, role);
  spec->argv.v = argv;
  spec->argv.n = argc;
  /* Embedded: no other node can find this coordinator, so do not wait. */
  spec->last_call_ms = r->o.endpoint ? r->o.last_call_ms : 0;
}

int
mu_run_main (int argc, char **argv)
{
  run_t r;
  memset (&r, 0, sizeof r);
  mu_run_ha_init (&r.ha);
  char err[512];
  if (argc > 0 && (strcmp (argv[0], "--help") == 0 || strcmp (argv[0], "-h") == 0))
    {
      fputs (mu_run_opts_usage (), stdout);
      return 0;
    }
  /* In a Slurm batch script or salloc shell, muster run drives the
   * allocation: it hosts here and srun starts the other nodes (slurm.h). */
  int in_alloc = mu_slurm_in_allocation (mu_slurm_getenv, NULL);
  if ((in_alloc ? mu_run_opts_parse_in_allocation (argc, argv, &r.o, err, sizeof err)
                : mu_run_opts_parse (argc, argv, &r.o, err, sizeof err)) != 0
      || (in_alloc && mu_slurm_plan_env (&r.o, &r.slurm, err, sizeof err) != 0))
    {
      fprintf (stderr, "muster run: %s\n", err);
      return 2;
    }
  if (r.slurm.relaunch) /* an salloc shell on a login node */
    return mu_slurm_relaunch (&r.slurm, argc, argv);
  if (!r.o.quiet)
    for (size_t k = 0; k < r.o.nnotes; k++)
      fprintf (stderr, "muster: %s\n", r.o.notes[k]);
  if (r.o.nproc_kind != NULL && r.o.nroles == 0
      && mu_nproc_resolve (r.o.nproc_kind, "/dev",
                           getenv ("CUDA_VISIBLE_DEVICES"), &r.o.nproc, err,
                           sizeof err) != 0)
    {
      fprintf (stderr, "muster run: %s\n", err);
      return 2;
    }
  if (check_fd_limit (&r) != 0)
    return 2;
  mu_log_init (&r.log, "muster");
  mu_log_init (&r.coord_log, "musterd");
  r.log.level = MU_LOG_WARN;
  r.coord_log.level = MU_LOG_ERR;
  if (r.o.log_level)
    {
      if (mu_log_parse_level (r.o.log_level, &r.log.level) != 0)
        {
          fprintf (stderr, "muster run: --log-level '%s': expected err, warn, "
                   "notice, info or debug\n", r.o.log_level);
          return 2;
        }
      r.coord_log.level = r.log.level;
    }
  size_t pargc = 0;
  char **pargv = build_argv (&r.o, &pargc);
  if (pargv == NULL)
    return 1;
  char found[PATH_BUF];
  int frc = find_program (pargv[0], found, err, sizeof err);
  r.python = pargc > (size_t)r.o.argc;
  if (r.python)
    mu_strlcpy (r.interpreter, found, sizeof r.interpreter);
  if (frc != 0)
    {
      fprintf (stderr, "muster run: %s%s\n", err,
               r.python ? " (the Python interpreter: choose one with --python "
                          "PATH or MUSTER_PYTHON)" : "");
      free (pargv);
      return frc == -EACCES ? 126 : 127; /* as a shell would */
    }
  if (r.o.elastic_mode && strcmp (r.o.elastic_mode, "in-place") == 0
      && check_in_place (found) != 0)
    {
      free (pargv);
      return 2;
    }
  if (r.o.ckpt_dir != NULL && r.o.ckpt_dir[0] != '/')
    {
      char cwd[2048];
      if (getcwd (cwd, sizeof cwd) == NULL)
        {
          fprintf (stderr, "muster run: cannot resolve --ckpt-dir %s\n", r.o.ckpt_dir);
          free (pargv);
          return 2;
        }
      snprintf (r.ckpt_dir_abs, sizeof r.ckpt_dir_abs, "%s/%s", cwd, r.o.ckpt_dir);
      r.o.ckpt_dir = r.ckpt_dir_abs;
    }
  /* An unwritable --ckpt-dir is one line now, not a silent loss later. */
  if (r.o.ckpt_dir != NULL
      && mu_ckpt_dir_probe (r.o.ckpt_dir, (uid_t)-1, (gid_t)-1, err,
                            sizeof err) != 0)
    {
      fprintf (stderr, "muster run: --ckpt-dir: %s\n", err);
      free (pargv);
      return 2;
    }
  if ((r.o.endpoint == NULL || r.o.host) && check_binds (&r) != 0)
    {
      free (pargv);
      return 2;
    }
  r.tty = isatty (2);
  if ((r.o.log_dir || r.o.redirects || r.o.tee)
      && make_log_dir (&r, r.o.rdzv_id ? r.o.rdzv_id : "default") != 0)
    {
      free (pargv);
      return 2;
    }
  uv_loop_init (&r.loop);
  int rc = 0;
  mu_job_spec_t spec;
  mu_role_spec_t role[MU_RUN_MAX_ROLES];
  char id[160];
  r.prog_path = found;
  make_spec (&r, &spec, role, pargv, pargc, id, sizeof id);
  r.job_id = id;
  if (r.o.rdzv_id == NULL && !r.o.quiet)
    fprintf (stderr, "muster: job %s (from the command, directory and user; "
             "--rdzv-id names it)\n", id);
  if (r.o.endpoint == NULL)
    rc = start_coordinator (&r, 0);
  else
    {
      int crc = choose_role (&r, id);
      if (crc != 0)
        {
          mu_run_ha_stop (&r.ha);
          uv_loop_close (&r.loop);
          free (pargv);
          return crc;
        }
    }
  if (rc == 0 && r.coord != NULL)
    {
      rc = secure_local_agent (&r, id);
      if (rc != 0)
        mu_coord_stop (r.coord);
    }
  if (rc == 0)
    mu_run_console_open (&r.console, &r.loop, &r.log, &r.coord_log);
  if (rc == 0)
    {
      mu_agent_opts_t ao = {
        .coordinator = r.endpoint,
        .node_id = r.o.node_id ? r.o.node_id : (r.o.endpoint ? NULL : "local"),
        .host = r.o.advertise,
        .slots = r.o.nproc,
        .role = r.o.role,
        .job = &spec,
        .connect_timeout_ms = r.o.connect_timeout_ms,
        .out_fd = 1,
        .err_fd = 2,
        .out_q = r.console.out_q,
        .err_q = r.console.err_q,
        .exit_on_done = 1,
        .log_dir = r.log_dir[0] ? r.log_dir : NULL,
        .redirects = r.o.redirects,
        .tee = r.o.tee,
        .log = &r.log,
        .server_key = r.coord ? mu_coord_server_key (r.coord) : NULL,
        .key = r.coord && r.agent_key.pub[0] ? &r.agent_key : NULL,
        .token = r.have_token && r.coord == NULL ? &r.token : NULL,
        .rank_hint = r.o.node_rank >= 0 ? (uint32_t)r.o.node_rank + 1 : 0,
        /* Hosting: coordinator and agent share this loop, and neither
         * may take the other's silence (our own stall) for a loss. */
        .coord_in_process = r.coord != NULL,
        .ev = { .on_progress = on_progress, .on_epoch = on_epoch,
                .on_stop = on_stop, .on_ckpt_done = on_ckpt_done,
                .on_done = on_done, .on_closed = on_agent_closed, .arg = &r },
      };
      rc = mu_agent_new (&ao, &r.agent);
      if (rc == 0 && r.coord != NULL)
        rc = mu_coord_in_process_node (r.coord, mu_agent_node_id (r.agent),
                                       mu_agent_public_key (r.agent));
      if (rc == 0)
        rc = mu_agent_start (r.agent, &r.loop);
      if (rc != 0)
        {
          fprintf (stderr, "muster run: cannot start the agent: %s\n",
                   muster_strerror (rc));
          if (r.coord)
            mu_coord_stop (r.coord);
        }
    }
  if (rc == 0)
    {
      uv_signal_init (&r.loop, &r.sigint);
      uv_signal_init (&r.loop, &r.sigterm);
      r.sigint.data = r.sigterm.data = &r;
      uv_signal_start (&r.sigint, on_signal, SIGINT);
      uv_signal_start (&r.sigterm, on_signal, SIGTERM);
      if (r.o.preempt_signal && r.o.preempt_signal != SIGTERM)
        {
          uv_signal_init (&r.loop, &r.sigpreempt);
          r.sigpreempt.data = &r;
          uv_signal_start (&r.sigpreempt, on_signal, r.o.preempt_signal);
        }
      if (r.ha_standby)
        {
          uv_timer_init (&r.loop, &r.ha_timer);
          r.ha_timer.data = &r;
          r.ha_timer_open = 1;
          uv_timer_start (&r.ha_timer, on_ha_timer, 20, 50);
        }
      if (r.slurm.active
          && mu_slurm_step_launch (&r.loop, &r.slurm, &r.o, argv,
                                   (int)(r.o.argv - argv), r.endpoint, id,
                                   r.have_token ? &r.token : NULL, &r.step,
                                   err, sizeof err) != 0)
        {
          fprintf (stderr, "muster run: %s\n", err);
          r.exit_code = 1;
          mu_agent_shutdown (r.agent, 0);
        }
    }
  uv_run (&r.loop, UV_RUN_DEFAULT);
  mu_run_ha_linger (&r.ha, 5000);
  mu_run_ha_stop (&r.ha);
  mu_run_console_close (&r.console, &r.loop);
  mu_slurm_step_destroy (&r.step);
  if (r.slurm.requeue)
    mu_slurm_requeue (&r.slurm, r.o.quiet);
  mu_agent_destroy (&r.agent);
  mu_coord_destroy (&r.coord);
  uv_loop_close (&r.loop);
  free (pargv);
  if (rc != 0)
    return 1;
  return r.exit_code;
}
