/*
 * agent_workers.c — the agent's node side: spawning the workers of an
 * epoch, reporting their exits, stopping them, and the ipc ROUTER that
 * libmuster connects to.
 *
 * Workers are spawned through muster-exec (spawn.c) so none outlives the
 * agent, a fresh epoch's in batches across loop iterations so that the
 * loop keeps serving while hundreds start; each output line gets a
 * "[role rank] " prefix and goes to the non-blocking console
 * (agent_output.c).  An exit is reported
 * to the coordinator the moment the process is gone and its pipes are
 * drained, with the code or signal and the tail of its stderr.  Requests
 * from workers (kv, barrier, progress) are checked to come from the rank
 * that said hello on that socket, then relayed unchanged; replies come back
 * addressed by rank.
 *
 * Whose workers: owner.c decides, per job.start, the uid the workers run as
 * (the job's owner under a root agent); a job this agent may not run has
 * every rank reported failed-to-start with the reason.  Workers of another
 * user get an endpoint of their own (agent_ipc_owner.c) and are spawned
 * with muster-exec --uid; every message carries its sender's uid (ZAP,
 * agent_ipc_auth.c) and a hello is accepted only from its worker's uid or
 * root.
 */
#include "worker/agent_int.h"
#include "worker/spawner.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"
#include "common/metrics.h"
#include "common/zwatch.h"
#include "worker/env.h"
#include "worker/fd_limit.h"
#include "worker/owner.h"

#define WORKER_HWM 100000

static void
report_state (mu_agent_t *a, mu_agent_worker_t *w, const char *state,
              int64_t code, int64_t sig, const char *tail)
{
  const mu_start_t *s = &a->start.u.start;
  if (strcmp (state, "running") != 0)
    mu_agent_logs_flush (a); /* its last lines before its exit */
  if (strcmp (state, "running") != 0 && w->exit_seq == 0)
    {
      /* Kept for agent.register: a report sent while the coordinator is
       * unreachable is lost, and reconciliation replays it. */
      w->exit_state = state;
      w->exit_code = code;
      w->exit_signal = sig;
      w->exit_seq = ++a->exit_seq;
    }
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_WORKER_STATE;
  m.u.worker_state.job = s->job;
  m.u.worker_state.epoch = w->epoch;
  m.u.worker_state.rank = w->rank;
  m.u.worker_state.state = (char *)state;
  m.u.worker_state.pid = (uint64_t)(w->pid > 0 ? w->pid : 0);
  m.u.worker_state.exit_code = code;
  m.u.worker_state.signal = sig;
  m.u.worker_state.stderr_tail = (char *)tail;
  mu_agent_send_coord (a, &m);
}

static void
on_worker_exit (mu_proc_t *p, int64_t exit_code, int term_signal, void *arg)
{
  mu_agent_worker_t *w = arg;
  mu_agent_t *a = w->agent;
  if (w->spare)
    {
      mu_agent_spare_exited (a, w);
      return;
    }
  char *tail = mu_proc_stderr_tail (p);
  tail = mu_agent_pmix_exit_tail (a, w->rank, exit_code != 0 && !term_signal,
                                  tail);
  w->running = 0;
  w->has_route = 0;
  if (a->live > 0)
    a->live--;
  mu_am_worker_exit (a, w, exit_code, term_signal);
  mu_log_info (a->log, "WORKER-EXIT", "rank %llu (pid %d) %s %lld",
               (unsigned long long)w->rank, w->pid,
               term_signal ? "killed by signal" : "exited with code",
               (long long)(term_signal ? term_signal : exit_code));
  if (a->start.type == MU_MSG_START)
    report_state (a, w, w->hung ? "hung" : w->fenced ? "fenced" : "exited",
                  term_signal ? -1 : exit_code, term_signal, tail);
  free (tail);
  mu_proc_close (&w->proc);
  mu_agent_ipc_owner_gc (a);
  mu_agent_maybe_finish (a);
}

/* Kill what is left of an older epoch without reporting it (the
 * coordinator has moved on and ignores that epoch). */
static void
discard_workers (mu_agent_t *a)
{
  mu_agent_spare_kill (a);
  for (size_t i = 0; i < a->nworkers; i++)
    {
      mu_agent_worker_t *w = &a->workers[i];
      if (w->proc != NULL)
        {
          if (w->running && a->live > 0)
            a->live--;
          if (w->running)
            mu_metrics_inc (a->metrics, MU_AM_EXITS, "stopped");
          mu_proc_close (&w->proc);
        }
    }
  free (a->workers);
  a->workers = NULL;
  a->nworkers = 0;
}

int
mu_agent_env_set (char ***envp, const char *key, const char *val)
{
  size_t klen = strlen (key), n = 0;
  char *kv = malloc (klen + strlen (val) + 2);
  if (kv == NULL)
    return -ENOMEM;
  sprintf (kv, "%s=%s", key, val);
  for (; (*envp)[n] != NULL; n++)
    if (strncmp ((*envp)[n], key, klen) == 0 && (*envp)[n][klen] == '=')
      {
        free ((*envp)[n]);
        (*envp)[n] = kv;
        return 0;
      }
  char **v = realloc (*envp, (n + 2) * sizeof *v);
  if (v == NULL)
    {
      free (kv);
      return -ENOMEM;
    }
  v[n] = kv;
  v[n + 1] = NULL;
  *envp = v;
  return 0;
}

/* Worker of another user: muster-exec's options (the identity is passed
 * as arguments, muster-exec reads no user database) and the login
 * variables of the user in its environment.  uid_s and gid_s have 16
 * bytes; *groups is malloc'd. */
static int
as_owner (const mu_agent_t *a, const char *cwd, char ***envp, char *uid_s,
          char *gid_s, char **groups, char *args[10])
{
  const mu_owner_t *o = a->run_owner;
  size_t cap = (size_t)o->ngroups * 11 + 1, used = 0;
  if ((*groups = malloc (cap)) == NULL)
    return -ENOMEM;
  (*groups)[0] = '\0';
  for (int i = 0; i < o->ngroups; i++)
    used += (size_t)snprintf (*groups + used, cap - used, "%s%u",
                              i ? "," : "", (unsigned)o->groups[i]);
  snprintf (uid_s, 16, "%u", (unsigned)o->uid);
  snprintf (gid_s, 16, "%u", (unsigned)o->gid);
  size_t k = 0;
  args[k++] = (char *)"--uid";
  args[k++] = uid_s;
  args[k++] = (char *)"--gid";
  args[k++] = gid_s;
  args[k++] = (char *)"--groups";
  args[k++] = *groups;
  if (cwd != NULL)
    {
      args[k++] = (char *)"--cwd";
      args[k++] = (char *)cwd;
    }
  args[k] = NULL;
  int rc = mu_agent_env_set (envp, "HOME", o->home);
  if (rc == 0)
    rc = mu_agent_env_set (envp, "USER", o->name);
  if (rc == 0)
    rc = mu_agent_env_set (envp, "LOGNAME", o->name);
  if (rc == 0)
    rc = mu_agent_env_set (envp, "SHELL", o->shell);
  return rc;
}

/* A worker's log file could not be written: say so once; spawn.c sends
 * the stream to the console from then on. */
static void
on_log_file_error (mu_proc_t *p, int stream, int err, void *arg)
{
  mu_agent_worker_t *w = arg;
  (void)p;
  mu_log_warn (w->agent->log, "LOG-FILE",
               "rank %llu: cannot write %s/attempt_%llu/%u/%s.log: %s; its "
               "%s goes to the console from now on",
               (unsigned long long)w->rank, w->agent->log_dir,
               (unsigned long long)w->log_attempt, (unsigned)w->local_rank,
               stream ? "stderr" : "stdout", muster_strerror (err),
               stream ? "stderr" : "stdout");
}

/* --log_dir: the worker's directory, its TORCHELASTIC_ERROR_FILE and the
 * files of the streams -r/-t name (log_files.h).  A directory or file
 * that cannot be made is reported and the worker's output stays on the
 * console. */
static void
open_log_files (mu_agent_t *a, mu_agent_worker_t *w, char ***envp,
                mu_proc_files_t *files)
{
  files->fd[0] = files->fd[1] = -1;
  if (a->log_dir[0] == '\0')
    return;
  unsigned r = mu_std_spec_mask (&a->redirects, w->local_rank);
  unsigned t = mu_std_spec_mask (&a->tee, w->local_rank);
  char dir[4400], err[4600];
  w->log_attempt = a->start.u.start.restart_count;
  int rc = mu_log_open_worker (a->log_dir, w->log_attempt, w->local_rank,
                               r | t, files->fd, dir, sizeof dir, err,
                               sizeof err);
  if (rc != 0)
    {
      mu_log_warn (a->log, "LOG-FILE", "rank %llu: %s; its output goes to "
                   "the console", (unsigned long long)w->rank, err);
      return;
    }
  /* tee: the file and the console; redirect alone: the file only */
  files->redirect[0] = (r & MU_STD_OUT) && !(t & MU_STD_OUT);
  files->redirect[1] = (r & MU_STD_ERR) && !(t & MU_STD_ERR);
  files->on_error = on_log_file_error;
  char ef[4500];
  snprintf (ef, sizeof ef, "%s/error.json", dir);
  (void)mu_agent_env_set (envp, "TORCHELASTIC_ERROR_FILE", ef);
}

int
mu_agent_spawn_into (mu_agent_t *a, size_t idx, mu_agent_worker_t *w,
                     int spare)
{
  const mu_start_t *s = &a->start.u.start;
  const mu_assign_t *as = &s->assign.v[idx];
  memset (w, 0, sizeof *w);
  w->spare = spare;
  w->agent = a;
  w->new_member = s->in_place;
  w->rank = as->rank;
  w->epoch = s->epoch;
  w->local_rank = (uint32_t)as->local_rank;
  w->uid = a->run_uid;
  snprintf (w->prefix, sizeof w->prefix, "[%s %llu] ", as->role,
            (unsigned long long)as->rank);
  char **envp = NULL;
  mu_env_extra_t x = { .node_id = a->node_id, .agent_endpoint = a->run_ep };
  /* The decoded argv is a counted list; exec wants it NULL-terminated. */
  char **argv = calloc (s->spec->argv.n + 1, sizeof *argv);
  int rc = argv ? mu_env_build (s, idx, &x, &envp) : -ENOMEM;
  if (rc == 0 && spare)
    {
      char id[24];
      w->spare_id = ++a->spare_seq;
      snprintf (id, sizeof id, "%llu", (unsigned long long)w->spare_id);
      rc = mu_agent_env_set (&envp, "MUSTER_SPARE", id);
      snprintf (w->prefix, sizeof w->prefix, "[spare] ");
    }
  if (rc == 0)
    rc = mu_agent_pmix_env (a, as->rank, &envp);
  char uid_s[16], gid_s[16], *groups = NULL, *helper_args[10];
  if (rc == 0 && a->run_owner != NULL)
    rc = as_owner (a, s->spec->cwd, &envp, uid_s, gid_s, &groups,
                   helper_args);
  mu_proc_files_t files = { .fd = { -1, -1 } };
  if (rc == 0 && !spare)
    open_log_files (a, w, &envp, &files);
  if (rc == 0)
    {
      memcpy (argv, s->spec->argv.v, s->spec->argv.n * sizeof *argv);
      mu_proc_opts_t po = { .exec_helper = a->exec_helper,
                            .argv = argv,
                            .env = envp,
                            .cwd = s->spec->cwd,
                            .prefix = w->prefix,
                            .out_fd = a->opts.out_fd,
                            .err_fd = a->opts.err_fd,
                            .out_q = a->out_q,
                            .err_q = a->err_q,
                            .on_line = mu_agent_logs_line,
                            .on_exit = on_worker_exit,
                            .arg = w,
                            .helper_args = a->run_owner ? helper_args
                                                        : NULL,
                            .files = &files,
                            .spawner = a->spawner };
      rc = mu_proc_spawn (a->loop, &po, &w->proc);
      unsigned restarts = mu_spawner_restarts (a->spawner);
      if (restarts != a->spawner_restarts)
        {
          a->spawner_restarts = restarts;
          mu_log_warn (a->log, "SPAWNER-RESTART",
                       "the spawner (muster-exec --serve) had died; started "
                       "it again (%u restart(s) so far)", restarts);
        }
    }
  mu_env_free (&envp);
  free (argv);
  free (groups);
  if (rc != 0)
    return rc;
  w->pid = mu_proc_pid (w->proc);
  w->running = 1;
  if (!spare)
    a->live++;
  return 0;
}

static void
spawn_one (mu_agent_t *a, size_t idx)
{
  mu_agent_worker_t *w = &a->workers[idx];
  int rc = mu_agent_spawn_into (a, idx, w, 0);
  if (rc != 0)
    {
      const mu_start_t *s = &a->start.u.start;
      char why[512];
      snprintf (why, sizeof why, "muster-agent: cannot start %s: %s",
                s->spec->argv.v[0],
                rc == MUSTER_EPEERLOST && a->spawner != NULL
                    ? "the spawner (muster-exec --serve) died while "
                      "starting it"
                    : muster_strerror (rc));
      mu_log_err (a->log, "SPAWN-FAILED", "rank %llu: %s",
                  (unsigned long long)w->rank, why);
      report_state (a, w, "failed-to-start", 127, 0, why);
      mu_am_worker_exit (a, NULL, 127, 0);
      return;
    }
  mu_am_spawned (a);
}

/* A rank this agent will not start (refused by the owner policy, or its
 * owner cannot be run as): reported failed-to-start with the reason. */
static void
refuse_one (mu_agent_t *a, size_t idx, const char *reason)
{
  const mu_start_t *s = &a->start.u.start;
  mu_agent_worker_t *w = &a->workers[idx];
  memset (w, 0, sizeof *w);
  w->agent = a;
  w->rank = s->assign.v[idx].rank;
  w->epoch = s->epoch;
  w->local_rank = (uint32_t)s->assign.v[idx].local_rank;
  char why[768];
  snprintf (why, sizeof why, "muster-agent: cannot start %s: %s",
            s->spec->argv.v[0], reason);
  mu_log_err (a->log, "SPAWN-REFUSED", "rank %llu: %s",
              (unsigned long long)w->rank, why);
  report_state (a, w, "failed-to-start", 127, 0, why);
}

/* Who this epoch's workers run as (owner.c) and where they reach us:
 * a->run_uid and a->run_ep.  0, or a negative code with the reason. */
static int
choose_identity (mu_agent_t *a, const mu_start_t *s, char *why, size_t n)
{
  a->run_uid = a->euid;
  snprintf (a->run_ep, sizeof a->run_ep, "%s", a->ipc_ep);
  free (a->run_owner);
  a->run_owner = NULL;
  uint32_t uid;
  int rc = mu_owner_policy (a->euid, s, &uid, why, n);
  if (rc != 0 || uid == a->euid)
    return rc;
  /* A user lookup can block on a remote user database; it runs once per
   * job.start, not per worker. */
  mu_owner_t *o = malloc (sizeof *o);
  if (o == NULL)
    return -ENOMEM;
  char err[512];
  rc = mu_owner_lookup (uid, o, err, sizeof err);
  if (rc == 0)
    rc = mu_agent_ipc_owner_bind (a, uid, o->gid, a->run_ep, sizeof a->run_ep,
                                  err, sizeof err);
  if (rc != 0)
    snprintf (why, n, "cannot run it as uid %u%s%.64s%s: %.300s", (unsigned)uid,
              s->owner ? " (" : "", s->owner ? s->owner : "",
              s->owner ? ")" : "", err);
  if (rc != 0)
    {
      free (o);
      snprintf (a->run_ep, sizeof a->run_ep, "%s", a->ipc_ep);
      return rc;
    }
  a->run_uid = uid;
  a->run_owner = o;
  return 0;
}

static void send_info (mu_agent_t *a, mu_agent_worker_t *w,
                       const mu_route_t *to);
static void info_when_ready (mu_agent_t *a, mu_agent_worker_t *w);

/* In-place epoch: keep the running workers, tell each (through libmuster)
 * its new rank, world and peers; a survivor that never attached libmuster
 * cannot learn a new rank, so it is replaced like a lost one. */
static void
keep_or_replace (mu_agent_t *a, size_t i)
{
  const mu_start_t *s = &a->start.u.start;
  mu_agent_worker_t *w = &a->workers[i];
  if (w->running && w->proc != NULL && w->has_route)
    {
      w->exit_seq = 0;
      w->rank = s->assign.v[i].rank;
      w->epoch = s->epoch;
      w->new_member = 0;
      snprintf (w->prefix, sizeof w->prefix, "[%s %llu] ", s->assign.v[i].role,
                (unsigned long long)w->rank);
      (void)mu_proc_set_prefix (w->proc, w->prefix); /* always fits */
      info_when_ready (a, w);
      return;
    }
  if (w->proc != NULL)
    {
      if (w->running && a->live > 0)
        a->live--;
      mu_proc_close (&w->proc);
    }
  if (mu_agent_spare_take (a, i))
    return;
  spawn_one (a, i);
}

static void
on_hang_check (uv_timer_t *t)
{
  mu_agent_t *a = t->data;
  if (a->start.type != MU_MSG_START)
    return;
  uint64_t limit = a->start.u.start.spec->progress_timeout_ms;
  uint64_t now = mu_now_ms ();
  for (size_t i = 0; i < a->nworkers; i++)
    {
      mu_agent_worker_t *w = &a->workers[i];
      if (!w->running || w->hung || w->last_progress_ms == 0
          || now - w->last_progress_ms <= limit)
        continue;
      mu_log_warn (a->log, "WORKER-HUNG",
                   "rank %llu (pid %d): no progress for %llu ms; killing it",
                   (unsigned long long)w->rank, w->pid,
                   (unsigned long long)(now - w->last_progress_ms));
      w->hung = 1;
      mu_proc_signal (w->proc, SIGKILL);
    }
}

void
mu_agent_workers_init_timers (mu_agent_t *a)
{
  uv_timer_init (a->loop, &a->hang_timer);
  a->hang_timer.data = a;
  uv_idle_init (a->loop, &a->spawn_idle);
  a->spawn_idle.data = a;
  mu_agent_logs_init (a);
}

/* The epoch's workers are all started (or refused): arm the hang check,
 * report them running, tell the embedding program. */
static void
epoch_started (mu_agent_t *a)
{
  const mu_start_t *s = &a->start.u.start;
  mu_agent_ipc_owner_gc (a); /* an earlier job's user may be gone now */
  if (s->spec->progress_timeout_ms > 0)
    {
      uint64_t every = s->spec->progress_timeout_ms / 4;
      every = every < 10 ? 10 : every > 1000 ? 1000 : every;
      uv_timer_start (&a->hang_timer, on_hang_check, every, every);
    }
  else
    uv_timer_stop (&a->hang_timer);
  size_t running = 0;
  for (size_t i = 0; i < a->nworkers; i++)
    if (a->workers[i].running)
      {
        running++;
        report_state (a, &a->workers[i], "running", 0, 0, NULL);
      }
  /* How long the whole start took, from the job.start's arrival (its
   * wall-clock instant too, so bench/agent_scale.py can set it against
   * the instants the workers' main() began). */
  uint64_t took = mu_now_us () - a->cm_start_us;
  mu_log_info (a->log, "EPOCH-SPAWNED",
               "job %s epoch %llu: %zu of %zu worker(s) running %llu.%03llu "
               "ms after the job.start (received at %llu.%06llu)",
               s->job, (unsigned long long)s->epoch, running, s->assign.n,
               (unsigned long long)(took / 1000),
               (unsigned long long)(took % 1000),
               (unsigned long long)(a->cm_start_wall_us / 1000000),
               (unsigned long long)(a->cm_start_wall_us % 1000000));
  mu_agent_spare_ensure (a);
  if (a->opts.ev.on_epoch)
    a->opts.ev.on_epoch (a->opts.ev.arg, s);
}

static void cancel_spawning (mu_agent_t *a);

/* Starting one process costs a fork (milliseconds in a large process):
 * a thousand of them in one callback would keep the loop from heartbeats,
 * worker output and the coordinator's messages for seconds.  So an
 * epoch's workers start in batches of at most SPAWN_SLICE_NS of work per
 * loop iteration, from an idle handle (which also keeps the loop from
 * sleeping in poll meanwhile). */
#define SPAWN_SLICE_NS (10u * 1000 * 1000)

static void
on_spawn_idle (uv_idle_t *h)
{
  mu_agent_t *a = h->data;
  if (a->start.type != MU_MSG_START || a->shutting_down)
    {
      /* The job ended (or the agent is going) before all were started. */
      if (a->start.type == MU_MSG_START)
        cancel_spawning (a);
      uv_idle_stop (&a->spawn_idle);
      a->spawning = 0;
      mu_agent_maybe_finish (a);
      return;
    }
  const mu_start_t *s = &a->start.u.start;
  uint64_t t0 = uv_hrtime ();
  while (a->spawn_next < s->assign.n && uv_hrtime () - t0 < SPAWN_SLICE_NS)
    spawn_one (a, a->spawn_next++);
  if (a->spawn_next < s->assign.n)
    return;
  uv_idle_stop (&a->spawn_idle);
  a->spawning = 0;
  epoch_started (a);
}

/* A stop (or a newer start) while an epoch is still being spawned: the
 * ranks not started yet never will be.  The coordinator counts an exit
 * for every rank it assigned, so each is reported as stopped (SIGTERM)
 * before it ran. */
static void
cancel_spawning (mu_agent_t *a)
{
  if (!a->spawning)
    return;
  uv_idle_stop (&a->spawn_idle);
  a->spawning = 0;
  const mu_start_t *s = &a->start.u.start;
  mu_log_info (a->log, "SPAWN-CANCELLED",
               "job %s epoch %llu stopped with %zu of %zu worker(s) started",
               s->job, (unsigned long long)s->epoch, a->spawn_next,
               s->assign.n);
  for (size_t i = a->spawn_next; i < s->assign.n && i < a->nworkers; i++)
    {
      mu_agent_worker_t *w = &a->workers[i];
      memset (w, 0, sizeof *w);
      w->agent = a;
      w->rank = s->assign.v[i].rank;
      w->epoch = s->epoch;
      w->local_rank = (uint32_t)s->assign.v[i].local_rank;
      report_state (a, w, "exited", -1, SIGTERM,
                    "stopped before it was started");
    }
  a->spawn_next = s->assign.n;
}

void
mu_agent_workers_start (mu_agent_t *a, mu_msg_t *m)
{
  mu_start_t *s = &m->u.start;
  if (a->job != NULL && strcmp (s->job, a->job->id) != 0)
    {
      mu_log_warn (a->log, "WRONG-JOB", "start for job %s, this node runs %s",
                   s->job, a->job->id);
      return;
    }
  if (s->assign.n == 0 || s->spec->argv.n == 0)
    {
      mu_log_warn (a->log, "BAD-START", "job %s epoch %llu: nothing to run",
                   s->job, (unsigned long long)s->epoch);
      return;
    }
  cancel_spawning (a); /* a start before the last one was all spawned */
  mu_am_start_received (a);
  char refused[512] = "";
  if (choose_identity (a, s, refused, sizeof refused) != 0
      && refused[0] == '\0')
    snprintf (refused, sizeof refused, "out of memory");
  uint64_t fd_limit = UINT64_MAX;
  if (refused[0] == '\0' && mu_fd_limit_raise (&fd_limit) == 0)
    (void)mu_fd_limit_fits (s->assign.n, a->log_dir[0] != '\0', fd_limit,
                            refused, sizeof refused);
  int in_place = s->in_place && a->start.type == MU_MSG_START
                 && strcmp (a->start.u.start.job, s->job) == 0
                 && a->nworkers == s->assign.n && refused[0] == '\0';
  if (!in_place)
    {
      discard_workers (a);
      a->max_step = 0;
    }
  a->exit_seq = 0;
  mu_msg_clear (&a->start);
  mu_msg_clear (&a->members);
  mu_msg_clear (&a->ckpt_request); /* of the old epoch */
  a->members_requested = 0;
  a->start = *m;
  m->type = MU_MSG_NONE; /* moved: the agent owns it now */
  s = &a->start.u.start;
  if (!in_place)
    {
      a->workers = calloc (s->assign.n, sizeof *a->workers);
      if (a->workers == NULL)
        {
          mu_log_err (a->log, "NOMEM", "cannot start %zu workers", s->assign.n);
          return;
        }
      a->nworkers = s->assign.n;
    }
  mu_log_info (a->log, "EPOCH-START", "job %s epoch %llu: %s %zu worker(s)",
               s->job, (unsigned long long)s->epoch,
               in_place ? "re-ranking" : "starting", s->assign.n);
  if (refused[0] == '\0' && !in_place
      && mu_agent_pmix_epoch (a, refused, sizeof refused) != 0
      && refused[0] == '\0')
    snprintf (refused, sizeof refused, "cannot serve PMIx");
  if (refused[0] != '\0' || in_place)
    {
      /* Cheap (reports, re-ranks and the odd replacement), and an
       * in-place epoch must re-rank all survivors at once: here. */
      for (size_t i = 0; i < s->assign.n; i++)
        if (refused[0] != '\0')
          refuse_one (a, i, refused);
        else
          keep_or_replace (a, i);
      epoch_started (a);
      return;
    }
  /* A fresh epoch starts in batches from the loop (on_spawn_idle); the
   * first batch runs on the next iteration. */
  a->spawn_next = 0;
  a->spawning = 1;
  uv_idle_start (&a->spawn_idle, on_spawn_idle);
}

int
mu_agent_workers_describe (const mu_agent_t *a, mu_run_worker_t **out,
                           size_t *n)
{
  *out = NULL;
  *n = 0;
  if (a->start.type != MU_MSG_START || a->nworkers == 0)
    return 0;
  mu_run_worker_t *v = calloc (a->nworkers, sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < a->nworkers; i++)
    {
      const mu_agent_worker_t *w = &a->workers[i];
      v[i].rank = w->rank;
      v[i].pid = w->pid > 0 ? (uint64_t)w->pid : 0;
      v[i].state = (char *)(w->exit_seq ? w->exit_state : "running");
      v[i].exit_code = w->exit_code;
      v[i].signal = w->exit_signal;
      v[i].exit_seq = w->exit_seq;
    }
  *out = v;
  *n = a->nworkers;
  return 0;
}

void
mu_agent_workers_kill (mu_agent_t *a)
{
  mu_agent_spare_kill (a);
  for (size_t i = 0; i < a->nworkers; i++)
    {
      mu_agent_worker_t *w = &a->workers[i];
      if (w->running && w->proc != NULL)
        {
          w->fenced = 1;
          mu_proc_signal (w->proc, SIGKILL);
        }
    }
}

void
mu_agent_workers_stop (mu_agent_t *a, uint64_t epoch, uint64_t grace_ms)
{
  mu_agent_spare_kill (a);
  if (a->spawning && a->start.type == MU_MSG_START
      && (epoch == UINT64_MAX || a->start.u.start.epoch == epoch))
    cancel_spawning (a);
  for (size_t i = 0; i < a->nworkers; i++)
    {
      mu_agent_worker_t *w = &a->workers[i];
      if (w->running && w->proc != NULL
          && (epoch == UINT64_MAX || w->epoch == epoch))
        {
          w->cm_stopped = 1;
          mu_proc_stop (w->proc, grace_ms);
        }
    }
}

static mu_agent_worker_t *
worker_by_rank (mu_agent_t *a, uint64_t rank)
{
  if (a->nworkers == 0)
    return NULL;
  /* Ranks of one node are contiguous. */
  uint64_t first = a->workers[0].rank;
  if (rank < first || rank - first >= a->nworkers)
    return NULL;
  return &a->workers[rank - first];
}

void
mu_agent_workers_relay_reply (mu_agent_t *a, const mu_msg_t *m)
{
  mu_agent_worker_t *w = worker_by_rank (a, m->u.reply.rank);
  if (w == NULL || !w->has_route)
    return;
  mu_wire_send (a->work_sock, &w->route, m);
}

static void
send_info (mu_agent_t *a, mu_agent_worker_t *w, const mu_route_t *to)
{
  const mu_start_t *s = &a->start.u.start;
  const mu_assign_t *as = &s->assign.v[w - a->workers];
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_WORKER_INFO;
  mu_worker_info_t *i = &m.u.worker_info;
  i->job = s->job;
  i->epoch = s->epoch;
  i->rank = as->rank;
  i->world = s->world;
  i->local_rank = as->local_rank;
  i->local_world = s->assign.n;
  i->role = as->role;
  i->role_rank = as->role_rank;
  for (size_t r = 0; r < s->roles.n; r++)
    if (strcmp (s->roles.v[r].name, as->role) == 0)
      i->role_world = s->roles.v[r].world;
  i->node_rank = s->node_rank;
  i->nnodes = s->nnodes;
  i->restart_count = s->restart_count;
  if (a->members.type == MU_MSG_MEMBERS)
    {
      i->nodes.v = a->members.u.members.nodes.v;
      i->nodes.n = a->members.u.members.nodes.n;
    }
  else
    {
      i->nodes.v = s->nodes.v;
      i->nodes.n = s->nodes.n;
    }
  i->reason = s->reason;
  i->new_member = w->new_member;
  i->sync_from = w->new_member ? s->sync_from : -1;
  mu_wire_send (a->work_sock, to, &m);
  /* A checkpoint requested before this worker attached. */
  if (a->ckpt_request.type == MU_MSG_CKPT_REQUEST
      && a->ckpt_request.u.ckpt_request.epoch == s->epoch)
    mu_wire_send (a->work_sock, to, &a->ckpt_request);
}

/* Answer a worker's hello with its epoch's info; in a large job the agent
 * first fetches the whole membership, once per epoch, and answers every
 * waiting worker when it arrives (mu_agent_workers_members). */
static void
info_when_ready (mu_agent_t *a, mu_agent_worker_t *w)
{
  const mu_start_t *s = &a->start.u.start;
  if (s->nodes.n >= s->nnodes || a->members.type == MU_MSG_MEMBERS)
    {
      send_info (a, w, &w->route);
      return;
    }
  if (a->members_requested)
    return;
  a->members_requested = 1;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_MEMBERS_GET;
  m.u.members_get.job = s->job;
  m.u.members_get.epoch = s->epoch;
  mu_agent_send_coord (a, &m);
}

void
mu_agent_workers_info (mu_agent_t *a, mu_agent_worker_t *w)
{
  info_when_ready (a, w);
}

void
mu_agent_workers_members (mu_agent_t *a, mu_msg_t *m)
{
  if (a->start.type != MU_MSG_START
      || strcmp (m->u.members.job, a->start.u.start.job) != 0
      || m->u.members.epoch != a->start.u.start.epoch)
    return;
  mu_msg_clear (&a->members);
  a->members = *m;
  m->type = MU_MSG_NONE;
  for (size_t i = 0; i < a->nworkers; i++)
    if (a->workers[i].has_route && a->workers[i].running)
      send_info (a, &a->workers[i], &a->workers[i].route);
}

void
mu_agent_workers_broadcast (mu_agent_t *a, const mu_msg_t *m)
{
  if (a->start.type != MU_MSG_START)
    return;
  for (size_t i = 0; i < a->nworkers; i++)
    if (a->workers[i].has_route && a->workers[i].running)
      mu_wire_send (a->work_sock, &a->workers[i].route, m);
}

static int
same_route (const mu_route_t *x, const mu_route_t *y)
{
  return x->len == y->len && memcmp (x->id, y->id, x->len) == 0;
}

/* Which worker sent this?  Only a rank that said hello on this socket. */
static mu_agent_worker_t *
sender (mu_agent_t *a, const mu_route_t *from, uint64_t rank)
{
  mu_agent_worker_t *w = worker_by_rank (a, rank);
  if (w == NULL || !w->has_route || !same_route (&w->route, from))
    return NULL;
  return w;
}

/* service: a worker's load report to the coordinator. */
static void
forward_load (mu_agent_t *a, mu_agent_worker_t *w)
{
  if (a->start.type != MU_MSG_START)
    return;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_LOAD;
  m.u.load.job = a->start.u.start.job;
  m.u.load.epoch = w->load_epoch;
  m.u.load.rank = w->rank;
  m.u.load.load_milli = w->load_milli;
  w->load_pending = 0;
  w->load_fwd_ms = mu_now_ms ();
  (void)mu_agent_send_coord (a, &m); /* a figure: the next one replaces it */
}

void
mu_agent_workers_flush_loads (mu_agent_t *a)
{
  for (size_t i = 0; i < a->nworkers; i++)
    if (a->workers[i].load_pending && a->workers[i].running)
      forward_load (a, &a->workers[i]);
}

static void
on_hello (mu_agent_t *a, const mu_route_t *from, const mu_hello_t *h,
          const char *user_id)
{
  if (a->start.type != MU_MSG_START)
    {
      mu_wire_send_error (a->work_sock, from, MUSTER_ENOTFOUND, "worker.hello",
                          0, "this agent runs no job");
      return;
    }
  const mu_start_t *s = &a->start.u.start;
  /* A spare says hello with the rank and epoch of the environment it was
   * started with: it is known by its spare id. */
  if (h->spare != 0 && strcmp (h->job, s->job) == 0
      && mu_agent_spare_hello (a, from, h))
    return;
  mu_agent_worker_t *w = worker_by_rank (a, h->rank);
  if (h->spare != 0)
    w = NULL;
  if (strcmp (h->job, s->job) != 0 || w == NULL)
    {
      mu_wire_send_error (a->work_sock, from, MUSTER_ENOTFOUND, "worker.hello",
                          0, "no such job or rank on this node");
      return;
    }
  uint32_t peer;
  if (mu_agent_ipc_auth_uid (user_id, &peer) == 0 && peer != w->uid
      && peer != 0)
    {
      mu_log_warn (a->log, "IPC-WRONG-UID",
                   "worker.hello for rank %llu of job %s from uid %u dropped: "
                   "that worker runs as uid %u",
                   (unsigned long long)h->rank, h->job, (unsigned)peer,
                   (unsigned)w->uid);
      return;
    }
  if (h->epoch != s->epoch)
    {
      mu_wire_send_error (a->work_sock, from, MUSTER_ESTALE_EPOCH,
                          "worker.hello", 0, "epoch is not the current one");
      return;
    }
  w->route = *from;
  w->has_route = 1;
  w->last_progress_ms = mu_now_ms ();
  info_when_ready (a, w);
}

static void
relay (mu_agent_t *a, const mu_route_t *from, const mu_msg_t *m,
       uint64_t rank, uint64_t req_id)
{
  if (sender (a, from, rank) == NULL)
    {
      mu_wire_send_error (a->work_sock, from, MUSTER_EINVAL,
                          mu_msg_name (m->type), req_id,
                          "send worker.hello first, from the rank you name");
      return;
    }
  mu_agent_send_coord (a, m);
}

static int
on_work_readable (void *sock, void *arg)
{
  mu_agent_t *a = arg;
  mu_route_t from;
  mu_msg_t m;
  char err[256], user_id[32];
  int rc = mu_wire_recv_user (sock, &from, &m, err, sizeof err, user_id,
                              sizeof user_id);
  if (rc == -EAGAIN || (rc < 0 && rc > MUSTER_ERR_BASE))
    return -EAGAIN; /* nothing, or a socket error: stop draining */
  uint32_t peer;
  if (mu_agent_ipc_auth_uid (user_id, &peer) == 0
      && !mu_agent_ipc_uid_known (a, peer))
    {
      /* Its connection was let in while that user had a job here. */
      mu_log_warn (a->log, "IPC-WRONG-UID",
                   "message from uid %u dropped: no job of that user runs here",
                   (unsigned)peer);
      mu_msg_clear (&m);
      return 0;
    }
  if (rc != 0)
    {
      mu_log_info (a->log, "PROTO-ERROR", "from a worker: %s", err);
      mu_wire_send_error (sock, &from, rc, NULL, 0, err);
      return 0;
    }
  switch (m.type)
    {
    case MU_MSG_HELLO:
      on_hello (a, &from, &m.u.hello, user_id);
      break;
    case MU_MSG_KV_PUT:
      relay (a, &from, &m, m.u.kv_put.rank, m.u.kv_put.req_id);
      break;
    case MU_MSG_KV_GET:
      relay (a, &from, &m, m.u.kv_get.rank, m.u.kv_get.req_id);
      break;
    case MU_MSG_BARRIER:
      relay (a, &from, &m, m.u.barrier.rank, m.u.barrier.req_id);
      break;
    case MU_MSG_KV_ADD: /* torch/kv */
      relay (a, &from, &m, m.u.kv_add.rank, m.u.kv_add.req_id);
      break;
    case MU_MSG_KV_CAS:
      relay (a, &from, &m, m.u.kv_cas.rank, m.u.kv_cas.req_id);
      break;
    case MU_MSG_KV_DEL:
      relay (a, &from, &m, m.u.kv_del.rank, m.u.kv_del.req_id);
      break;
    case MU_MSG_KV_COUNT:
      relay (a, &from, &m, m.u.kv_count.rank, m.u.kv_count.req_id);
      break;
    case MU_MSG_PROGRESS:
      {
        /* Hang detection happens here, next to the worker; the
         * coordinator never sees per-step traffic, only the node's highest
         * step in each heartbeat (for checkpoint step agreement). */
        mu_agent_worker_t *w = sender (a, &from, m.u.progress.rank);
        if (w != NULL)
          {
            w->last_progress_ms = mu_now_ms ();
            if (m.u.progress.step > a->max_step)
              a->max_step = m.u.progress.step;
          }
        break;
      }
    case MU_MSG_CKPT_SAVED:
      relay (a, &from, &m, m.u.ckpt_saved.rank, 0);
      break;
    case MU_MSG_LOAD: /* service: at most one per worker every 100 ms */
      {
        mu_agent_worker_t *w = sender (a, &from, m.u.load.rank);
        if (w == NULL)
          break;
        w->load_milli = m.u.load.load_milli;
        w->load_epoch = m.u.load.epoch;
        w->load_pending = 1;
        if (mu_now_ms () - w->load_fwd_ms >= 100)
          forward_load (a, w);
        break;
      }
    case MU_MSG_BYE:
      {
        mu_agent_worker_t *w = sender (a, &from, m.u.bye.rank);
        if (w != NULL)
          w->has_route = 0;
        break;
      }
    default:
      mu_wire_send_error (sock, &from, MUSTER_ETYPE, mu_msg_name (m.type), 0,
                          "not a worker request");
      break;
    }
  mu_msg_clear (&m);
  return 0;
}

int
mu_agent_workers_open (mu_agent_t *a)
{
  int orc = mu_agent_output_open (a);
  if (orc != 0)
    return orc;
  const char *tmp = mu_run_dir_tmp ();
  int rc = mu_run_dir_open (&a->run_dir, tmp);
  if (rc != 0)
    {
      mu_log_err (a->log, "RUN-DIR", "cannot make a run directory in %s: %s",
                  tmp, muster_strerror (rc));
      return rc;
    }
  snprintf (a->ipc_ep, sizeof a->ipc_ep, "ipc://%s/a.sock", a->run_dir.path);
  snprintf (a->run_ep, sizeof a->run_ep, "%s", a->ipc_ep);
  a->euid = (uint32_t)geteuid ();
  a->run_uid = a->euid;
  a->work_sock = zmq_socket (a->zctx, ZMQ_ROUTER);
  if (a->work_sock == NULL)
    return -errno;
  rc = mu_wire_sockopts (a->work_sock, WORKER_HWM);
  if (rc == 0)
    rc = mu_agent_ipc_auth_open (a); /* the ZAP domain precedes the bind */
  if (rc == 0 && zmq_bind (a->work_sock, a->ipc_ep) != 0)
    {
      rc = -errno;
      mu_log_err (a->log, "RUN-DIR", "cannot listen on %s: %s", a->ipc_ep,
                  zmq_strerror (-rc));
    }
  /* Only the agent's user may connect, whatever the umask (the directory
   * may become passable for other users, agent_ipc_owner.c). */
  if (rc == 0 && chmod (a->ipc_ep + 6, 0600) != 0)
    rc = -errno;
  if (rc == 0)
    rc = mu_zwatch_start (a->loop, a->work_sock, on_work_readable, a,
                          &a->work_watch);
  return rc;
}

void
mu_agent_workers_close (mu_agent_t *a)
{
  if (a->spawning)
    {
      uv_idle_stop (&a->spawn_idle);
      a->spawning = 0;
    }
  if (a->loop != NULL && a->spawn_idle.loop == a->loop
      && !uv_is_closing ((uv_handle_t *)&a->spawn_idle))
    uv_close ((uv_handle_t *)&a->spawn_idle, NULL);
  mu_zwatch_stop (&a->work_watch);
  mu_agent_logs_close (a);
  mu_agent_spare_kill (a);
  for (size_t i = 0; i < a->nworkers; i++)
    if (a->workers[i].proc != NULL)
      mu_proc_close (&a->workers[i].proc);
  mu_agent_pmix_close (a);
  mu_agent_ipc_owner_close (a);
  free (a->run_owner);
  a->run_owner = NULL;
  if (a->work_sock != NULL)
    zmq_close (a->work_sock);
  a->work_sock = NULL;
  mu_agent_ipc_auth_close (a);
  mu_agent_output_close (a);
}
