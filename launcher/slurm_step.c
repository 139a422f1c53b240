/*
 * slurm_step.c — the srun that starts the joining nodes (slurm_step.h).
 *
 * One uv_process_t and one timer.  The srun inherits this process's
 * stdout and stderr, so the joiners' output (their workers' lines, their
 * errors) lands in the batch job's output beside this node's.  It is not
 * detached: it stays in the batch step's process group, so a signal Slurm
 * sends the batch step reaches it too.
 */
#include "launcher/slurm_step.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <muster/error.h>

extern char **environ;

struct mu_slurm_step
{
  uv_process_t proc;
  uv_timer_t timer;
  int running;
  int status;
  int finishing;
  int killed;
  int closed;
  int quiet;
  uint32_t joiners;
};

static void
on_timer_closed (uv_handle_t *h)
{
  (void)h;
}

static void
on_proc_closed (uv_handle_t *h)
{
  mu_slurm_step_t *s = h->data;
  s->closed = 1;
  if (!uv_is_closing ((uv_handle_t *)&s->timer))
    uv_close ((uv_handle_t *)&s->timer, on_timer_closed);
}

static void
on_exit_cb (uv_process_t *p, int64_t code, int sig)
{
  mu_slurm_step_t *s = p->data;
  s->running = 0;
  s->status = sig ? 128 + sig : (int)code;
  if (s->status != 0 && !s->finishing)
    fprintf (stderr,
             "muster: srun of the other %u nodes exited with %d "
             "before this node's job ended (their errors are above)\n",
             (unsigned)s->joiners, s->status);
  uv_timer_stop (&s->timer);
  uv_close ((uv_handle_t *)&s->proc, on_proc_closed);
}

static void
on_timer (uv_timer_t *t)
{
  mu_slurm_step_t *s = t->data;
  if (!s->running)
    return;
  if (!s->killed)
    {
      s->killed = 1;
      if (!s->quiet)
        fprintf (stderr, "muster: the other nodes' srun is still running; "
                         "stopping it\n");
      uv_process_kill (&s->proc, SIGTERM);
      uv_timer_start (&s->timer, on_timer, 10000, 0);
      return;
    }
  uv_process_kill (&s->proc, SIGKILL);
}

int
mu_slurm_step_start (uv_loop_t *loop, const mu_slurm_step_opts_t *o,
                     mu_slurm_step_t **out, char *err, size_t errlen)
{
  const mu_slurm_plan_t *p = o->plan;
  *out = NULL;
  char self_exe[4096];
  ssize_t n = readlink ("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n <= 0)
    {
      snprintf (err, errlen, "cannot find this program (/proc/self/exe): %s",
                strerror (errno));
      return -errno;
    }
  self_exe[n] = '\0';
  size_t nargs = 0;
  while (o->args[nargs])
    nargs++;
  char nodes[48], ntasks[48], exclude[300];
  snprintf (nodes, sizeof nodes, "--nodes=%u", (unsigned)p->joiners);
  snprintf (ntasks, sizeof ntasks, "--ntasks=%u", (unsigned)p->joiners);
  snprintf (exclude, sizeof exclude, "--exclude=%s", p->self);
  const char *pre[] = { o->srun ? o->srun : "srun",
                        nodes,
                        ntasks,
                        "--ntasks-per-node=1",
                        exclude,
                        "--kill-on-bad-exit=0",
                        "--mpi=none",
                        self_exe };
  size_t npre = sizeof pre / sizeof pre[0];
  char **argv = calloc (npre + nargs + 1, sizeof *argv);
  size_t nenv = 0;
  while (environ[nenv])
    nenv++;
  char **env = calloc (nenv + 2, sizeof *env);
  char *tokvar = NULL;
  mu_slurm_step_t *s = calloc (1, sizeof *s);
  if (o->join_token)
    {
      size_t tl = strlen (o->join_token) + sizeof "MUSTER_JOIN_TOKEN=";
      tokvar = malloc (tl);
      if (tokvar)
        snprintf (tokvar, tl, "MUSTER_JOIN_TOKEN=%s", o->join_token);
    }
  int rc = 0;
  if (argv == NULL || env == NULL || s == NULL || (o->join_token && !tokvar))
    rc = -ENOMEM;
  if (rc == 0)
    {
      for (size_t i = 0; i < npre; i++)
        argv[i] = (char *)pre[i];
      for (size_t i = 0; i < nargs; i++)
        argv[npre + i] = o->args[i];
      size_t k = 0;
      for (size_t i = 0; i < nenv; i++)
        if (strncmp (environ[i], "MUSTER_JOIN_TOKEN=", 18) != 0)
          env[k++] = environ[i];
      if (tokvar)
        env[k++] = tokvar;
      s->quiet = o->quiet;
      s->joiners = p->joiners;
      s->proc.data = s;
      s->timer.data = s;
      uv_timer_init (loop, &s->timer);
      uv_stdio_container_t stdio[3] = {
        { .flags = UV_IGNORE },
        { .flags = UV_INHERIT_FD, .data.fd = 1 },
        { .flags = UV_INHERIT_FD, .data.fd = 2 },
      };
      uv_process_options_t po = { .exit_cb = on_exit_cb,
                                  .file = argv[0],
                                  .args = argv,
                                  .env = env,
                                  .stdio_count = 3,
                                  .stdio = stdio };
      rc = uv_spawn (loop, &s->proc, &po);
      if (rc != 0)
        {
          snprintf (err, errlen,
                    "cannot start %s: %s (is Slurm's srun in "
                    "PATH?)",
                    argv[0], uv_strerror (rc));
          s->closed = 1;
          uv_close ((uv_handle_t *)&s->timer, on_timer_closed);
          uv_close ((uv_handle_t *)&s->proc, NULL);
        }
      else
        {
          s->running = 1;
          if (!o->quiet)
            fprintf (stderr,
                     "muster: Slurm job %s: hosting on %s; srun starts "
                     "the other %u node%s\n",
                     p->job, p->self, (unsigned)p->joiners,
                     p->joiners == 1 ? "" : "s");
        }
    }
  else
    snprintf (err, errlen, "out of memory");
  if (tokvar)
    {
      memset (tokvar, 0, strlen (tokvar));
      free (tokvar);
    }
  free (env);
  free (argv);
  if (rc != 0 && s != NULL && !s->closed)
    {
      free (s);
      s = NULL;
    }
  *out = s; /* on a spawn error its handles are closing: destroy later */
  return rc;
}

const char *
mu_slurm_getenv (const char *name, void *arg)
{
  (void)arg;
  return getenv (name);
}

int
mu_slurm_plan_env (mu_run_opts_t *o, mu_slurm_plan_t *p, char *err,
                   size_t errlen)
{
  char host[256] = "";
  if (gethostname (host, sizeof host - 1) != 0)
    host[0] = '\0';
  int rc = mu_slurm_plan (o, mu_slurm_getenv, NULL, host, p, err, errlen);
  /* Read once: the joiners and the workers must not inherit it. */
  unsetenv ("MUSTER_SLURM_DRIVE");
  return rc;
}

int
mu_slurm_relaunch (const mu_slurm_plan_t *p, int argc, char **argv)
{
  char self_exe[4096];
  ssize_t n = readlink ("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n <= 0)
    {
      fprintf (stderr,
               "muster run: cannot find this program "
               "(/proc/self/exe): %s\n",
               strerror (errno));
      return 1;
    }
  self_exe[n] = '\0';
  const char *srun = getenv ("MUSTER_SRUN");
  char nodelist[300];
  snprintf (nodelist, sizeof nodelist, "--nodelist=%s", p->first);
  char **v = calloc ((size_t)argc + 10, sizeof *v);
  if (v == NULL)
    {
      fprintf (stderr, "muster run: out of memory\n");
      return 1;
    }
  size_t k = 0;
  v[k++] = (char *)(srun ? srun : "srun");
  v[k++] = "--nodes=1";
  v[k++] = "--ntasks=1";
  v[k++] = nodelist;
  v[k++] = "--kill-on-bad-exit=0";
  v[k++] = "--mpi=none";
  v[k++] = self_exe;
  v[k++] = "run";
  for (int i = 0; i < argc; i++)
    v[k++] = argv[i];
  v[k] = NULL;
  fprintf (stderr,
           "muster: Slurm job %s: this shell is not on one of its "
           "%u nodes; running muster run on %s\n",
           p->job, (unsigned)p->nnodes, p->first);
  setenv ("MUSTER_SLURM_DRIVE", "1", 1);
  execvp (v[0], v);
  fprintf (stderr,
           "muster run: cannot run %s: %s (is Slurm's srun in "
           "PATH?)\n",
           v[0], strerror (errno));
  free (v);
  return 1;
}

int
mu_slurm_step_launch (uv_loop_t *loop, const mu_slurm_plan_t *p,
                      const mu_run_opts_t *o, char **opts, int nopts,
                      const char *endpoint, const char *job_id,
                      const mu_token_t *token, mu_slurm_step_t **out, char *err,
                      size_t errlen)
{
  char **args = mu_slurm_child_args (p, o, opts, nopts, endpoint, job_id);
  if (args == NULL)
    {
      snprintf (err, errlen, "out of memory");
      return -ENOMEM;
    }
  /* The join-only form of the job's secret: it lets a node join, not
   * host (the secret itself never leaves this node's state directory). */
  char tok[MU_SECRET_LEN + 1] = "";
  if (token != NULL)
    {
      mu_token_t join = *token;
      memset (join.server_sec, 0, sizeof join.server_sec);
      mu_token_format (&join, tok, sizeof tok);
      memset (&join, 0, sizeof join);
    }
  mu_slurm_step_opts_t so = { .plan = p,
                              .args = args,
                              .join_token = token ? tok : NULL,
                              .srun = getenv ("MUSTER_SRUN"),
                              .quiet = o->quiet };
  int rc = mu_slurm_step_start (loop, &so, out, err, errlen);
  memset (tok, 0, sizeof tok);
  free (args);
  return rc;
}

void
mu_slurm_step_finish (mu_slurm_step_t *s, uint64_t wait_ms)
{
  if (s == NULL || s->finishing)
    return;
  s->finishing = 1;
  if (s->running)
    uv_timer_start (&s->timer, on_timer, wait_ms, 0);
}

int
mu_slurm_step_exited (const mu_slurm_step_t *s, int *status)
{
  if (s == NULL || s->running)
    return 0;
  *status = s->status;
  return 1;
}

void
mu_slurm_step_destroy (mu_slurm_step_t **s_p)
{
  if (s_p == NULL || *s_p == NULL)
    return;
  free (*s_p);
  *s_p = NULL;
}

int
mu_slurm_requeue (const mu_slurm_plan_t *p, int quiet)
{
  const char *scontrol = getenv ("MUSTER_SCONTROL");
  char *argv[] = { (char *)(scontrol ? scontrol : "scontrol"), "requeue",
                   (char *)p->job, NULL };
  /* Said first: a requeue ends the running job at once, this process
   * included, so nothing after scontrol may get printed. */
  if (!quiet)
    fprintf (stderr,
             "muster: requeueing Slurm job %s: it resumes from the "
             "checkpoint when it runs again\n",
             p->job);
  fflush (stderr);
  pid_t pid;
  int st = 0;
  int rc = posix_spawnp (&pid, argv[0], NULL, NULL, argv, environ);
  if (rc == 0)
    while (waitpid (pid, &st, 0) < 0 && errno == EINTR)
      ;
  if (rc != 0 || !WIFEXITED (st) || WEXITSTATUS (st) != 0)
    {
      fprintf (stderr,
               "muster: cannot requeue Slurm job %s (%s requeue %s "
               "%s): resubmit the same script to resume\n",
               p->job, argv[0], p->job, rc ? strerror (rc) : "failed");
      return -1;
    }
  return 0;
}
