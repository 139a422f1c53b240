/*
 * run_opts.c — parsing `muster run` flags (see run_opts.h).
 *
 * Flags take their value as "--flag value" or "--flag=value"; a flag
 * spelled with underscores is the same flag.  The program starts at "--"
 * or at the first argument that is not a flag, as with torchrun.
 */
#include "launcher/run_opts.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <muster/error.h>

#include "common/netaddr.h"
#include "common/job_defaults.h"
#include "common/util.h"
#include "launcher/nproc.h"
#include "launcher/run_compat.h"

const char *
mu_run_opts_usage (void)
{
  return "usage: muster run [options] [--] PROGRAM [ARGS...]\n"
         "  --nnodes MIN:MAX|N      nodes in the gang (default 1)\n"
         "  --nproc-per-node N      workers per node (default 1); gpu: one per\n"
         "                          GPU (CUDA_VISIBLE_DEVICES), cpu: one per\n"
         "                          usable CPU, auto: gpu if any, else cpu\n"
         "  --rdzv-endpoint H:P     coordinator to join (none: run embedded, or\n"
         "                          in a Slurm batch script or salloc shell, a\n"
         "                          gang over the allocation: docs/slurm.md);\n"
         "                          HOST:PORT or tcp://HOST:PORT, [V6]:PORT\n"
         "  --host                  serve the coordinator at --rdzv-endpoint:\n"
         "                          an address of this machine, bound as given\n"
         "                          (0.0.0.0 for all interfaces)\n"
         "  --standby H:P           a standby coordinator at H:P, where every\n"
         "                          node goes when the one at --rdzv-endpoint is\n"
         "                          lost: the node whose address H is runs it\n"
         "                          (the same command on every node), or, joining\n"
         "                          a musterd, its standby (musterd --standby-of)\n"
         "  --rdzv-id ID            job id shared by all nodes\n"
         "  --max-restarts N        restarts after worker failures (default 0)\n"
         "  --standalone            embedded coordinator (the default without\n"
         "                          --rdzv-endpoint)\n"
         "  --node-id ID            this node's id\n"
         "  --advertise-host ADDR   address other nodes reach this node at\n"
         "  --role NAME             role of this node's workers (default worker)\n"
         "  --roles R=MIN:MAXxN,... several roles (same on every node), e.g.\n"
         "                          worker=2:4x2,ps=2x1; each node picks one\n"
         "                          with --role\n"
         "  --last-call DUR         wait after min nodes joined (default 1s)\n"
         "  --join-timeout DUR      fail if min nodes never join (default 600s)\n"
         "  --connect-timeout DUR   give up on an unreachable coordinator (30s)\n"
         "  --grace DUR             SIGTERM-to-SIGKILL grace (default 5s)\n"
         "  --outage-window DUR     how long a node keeps its workers without\n"
         "                          a coordinator before killing them and\n"
         "                          reporting their outcome (default 30s)\n"
         "  --elastic-mode MODE     restart (default) or in-place\n"
         "  --spares N              in-place mode: N spare processes per node,\n"
         "                          started and waiting (after their imports)\n"
         "                          to take a lost worker's place at once\n"
         "  --ctl-bind EP           control port of a served coordinator;\n"
         "                          ipc://PATH: a local socket for `muster\n"
         "                          status --endpoint ipc://PATH`\n"
         "  --master-addr A, --master-port P, --node-rank R\n"
         "                          static rendezvous (torchrun's): node R of a\n"
         "                          fixed --nnodes N; node 0 hosts at A:P\n"
         "  --rdzv-conf is_host=1|0 this node hosts (1) or never does (0); by\n"
         "                          default the first node whose address is the\n"
         "                          endpoint's and that can bind it hosts\n"
         "  --join-token-file FILE  the job secret the nodes share (made here,\n"
         "                          0600, if missing; default STATE_DIR/jobs/\n"
         "                          ID.secret), or a musterd's join token\n"
         "  --join-token TOKEN      join with a token (the one a hosting node\n"
         "                          prints, a musterd's; also $MUSTER_JOIN_TOKEN;\n"
         "                          never passed to workers)\n"
         "  --insecure              no CURVE: only with a coordinator started\n"
         "                          --insecure (every node must say it)\n"
         "  --progress-timeout DUR  kill and restart a worker (libmuster) that\n"
         "                          reports no progress for this long\n"
         "  --ckpt-dir DIR          checkpoints (shared by all nodes); restores\n"
         "                          from the newest complete one\n"
         "  --ckpt-every DUR        periodic checkpoints\n"
         "  --ckpt-every-steps N    a checkpoint every N training steps\n"
         "  --ckpt-keep N           complete checkpoints kept (default 3)\n"
         "  --ckpt-timeout DUR      how long a checkpoint waits for shards (60s)\n"
         "  --resume                continue from the newest checkpoint even if\n"
         "                          the job's last run finished\n"
         "  --mpi                   Open MPI programs (C, mpi4py) form one MPI\n"
         "                          world per epoch through the agents' PMIx\n"
         "                          server: no mpirun, no ssh (restart mode)\n"
         "  --nbuckets N            PS jobs: hash buckets of the model\n"
         "  --preempt-signal SIG    also treat SIG (e.g. USR1, Slurm's warning)\n"
         "                          as preemption; SIGTERM always is\n"
         "  --preempt-grace DUR     time to checkpoint and stop when preempted (30s)\n"
         "  --preempt-exit-code N   exit status of a preempted or suspended job\n"
         "                          (default 75, EX_TEMPFAIL: Kubernetes Jobs and\n"
         "                          Slurm requeue scripts retry it)\n"
         "  --python PATH           interpreter of a .py PROGRAM and of -m\n"
         "                          (default $MUSTER_PYTHON, else python3 in PATH)\n"
         "  --no-python             run a .py PROGRAM directly\n"
         "  --run-path              run PROGRAM under python3, whatever its name\n"
         "                          (takes precedence over --no-python)\n"
         "  --log-dir DIR           worker log files, as torchrun's: DIR/ID_XXXXXX/\n"
         "                          attempt_N/LOCAL_RANK/{stdout,stderr}.log\n"
         "  -r, --redirects R       streams to those files only: 0 none, 1 stdout,\n"
         "                          2 stderr, 3 both, or per local rank (0:1,1:2)\n"
         "  -t, --tee T             streams to the files and the console (as -r)\n"
         "  --local-addr ADDR       torchrun's name for --advertise-host\n"
         "  -m, --module            run PROGRAM as 'python3 -m PROGRAM'\n"
         "  --quiet                 no rendezvous progress display\n"
         "  --log-level L           err, warn, notice, info, debug\n"
         "  --rdzv-backend B, --rdzv-conf K=V,...  accepted as in torchrun\n"
         "  --monitor-interval S, --start-method M  accepted, ignored (said so)\n"
         "durations: a bare number is seconds (600); or 500ms, 2s, 1.5m, 1h\n"
         "signals: with --ckpt-dir, SIGTERM checkpoints and suspends the job\n"
         "  (exit 75), Ctrl-C checkpoints and stops it (exit 130), a second\n"
         "  one stops at once; without, SIGTERM exits 143 and SIGINT 130\n"
         "exit status: 0; the first failed rank's code (128+N if killed by\n"
         "  signal N); 1 coordinator unreachable, rendezvous timed out or\n"
         "  internal; 2 usage; 75 preempted; 126/127 program not executable/\n"
         "  not found; 130/143 interrupted (README: the full table)\n";
}

static int
fail (char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
  snprintf (err, errlen, fmt, a, b ? b : "");
  return MUSTER_EINVAL;
}

static int
parse_u32 (const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
  uint64_t v;
  if (mu_parse_u64 (s, &v) != 0 || v < lo || v > hi)
    return MUSTER_EINVAL;
  *out = (uint32_t)v;
  return 0;
}

static int
parse_nnodes (const char *v, mu_run_opts_t *o)
{
  const char *colon = strchr (v, ':');
  if (colon == NULL)
    {
      if (parse_u32 (v, 1, 1000000, &o->min_nodes) != 0)
        return MUSTER_EINVAL;
      o->max_nodes = o->min_nodes;
      return 0;
    }
  char lo[32];
  size_t n = (size_t)(colon - v);
  if (n == 0 || n >= sizeof lo)
    return MUSTER_EINVAL;
  memcpy (lo, v, n);
  lo[n] = '\0';
  if (parse_u32 (lo, 1, 1000000, &o->min_nodes) != 0
      || parse_u32 (colon + 1, 1, 1000000, &o->max_nodes) != 0
      || o->min_nodes > o->max_nodes)
    return MUSTER_EINVAL;
  return 0;
}

/* --roles worker=2:4x2,ps=2x1: NAME=MIN:MAX or NAME=N, then xNPROC. */
static int
parse_roles (const char *v, mu_run_opts_t *o, char *err, size_t errlen)
{
  char buf[1024];
  if (mu_strlcpy (buf, v, sizeof buf) != 0)
    return fail (err, errlen, "--roles is too long", NULL, NULL);
  o->nroles = 0;
  for (char *save = NULL, *r = strtok_r (buf, ",", &save); r;
       r = strtok_r (NULL, ",", &save))
    {
      if (o->nroles == MU_RUN_MAX_ROLES)
        return fail (err, errlen, "--roles: at most 16 roles", NULL, NULL);
      mu_run_role_t *role = &o->roles[o->nroles];
      char *eq = strchr (r, '=');
      char *x = eq ? strchr (eq, 'x') : NULL;
      if (eq == NULL || x == NULL || eq == r || (size_t)(eq - r) >= sizeof role->name)
        return fail (err, errlen,
                     "--roles: '%s' is not NAME=MIN:MAXxNPROC (e.g. ps=2x1)", r,
                     NULL);
      *eq = '\0';
      *x = '\0';
      snprintf (role->name, sizeof role->name, "%s", r);
      mu_run_opts_t tmp;
      memset (&tmp, 0, sizeof tmp);
      if (parse_nnodes (eq + 1, &tmp) != 0
          || parse_u32 (x + 1, 1, 4096, &role->nproc) != 0)
        return fail (err, errlen,
                     "--roles: bad counts for role '%s' (NAME=MIN:MAXxNPROC)",
                     r, NULL);
      role->min_nodes = tmp.min_nodes;
      role->max_nodes = tmp.max_nodes;
      for (size_t k = 0; k < o->nroles; k++)
        if (strcmp (o->roles[k].name, role->name) == 0)
          return fail (err, errlen, "--roles: role '%s' given twice", r, NULL);
      o->nroles++;
    }
  if (o->nroles == 0)
    return fail (err, errlen, "--roles: no role given", NULL, NULL);
  return 0;
}

/* torchrun's --rdzv-conf: join_timeout=S,last_call_timeout=S (seconds, or
 * any duration: the one rule of mu_parse_duration_ms). */
static int
parse_rdzv_conf (const char *v, mu_run_opts_t *o, char *err, size_t errlen)
{
  char buf[512];
  if (mu_strlcpy (buf, v, sizeof buf) != 0)
    return fail (err, errlen, "--rdzv-conf is too long", NULL, NULL);
  for (char *save = NULL, *kv = strtok_r (buf, ",", &save); kv;
       kv = strtok_r (NULL, ",", &save))
    {
      char *eq = strchr (kv, '=');
      if (eq == NULL)
        return fail (err, errlen, "--rdzv-conf: '%s' is not key=value", kv, NULL);
      *eq = '\0';
      if (strcmp (kv, "is_host") == 0)
        {
          /* torchrun's c10d: this node hosts the store (1), or never (0). */
          const char *b = eq + 1;
          if (strcmp (b, "1") == 0 || strcasecmp (b, "true") == 0)
            o->is_host = 1;
          else if (strcmp (b, "0") == 0 || strcasecmp (b, "false") == 0)
            o->is_host = 0;
          else
            return fail (err, errlen, "--rdzv-conf: is_host=%s: expected 1, "
                         "0, true or false", b, NULL);
          continue;
        }
      if (strcmp (kv, "join_timeout") != 0 && strcmp (kv, "last_call_timeout") != 0
          && strcmp (kv, "timeout") != 0 && strcmp (kv, "read_timeout") != 0)
        {
          /* torchrun passes any key to its backend, which ignores what it
           * does not know: so do we, saying so */
          mu_run_note (o, "--rdzv-conf %s=%s: ignored (not a setting of "
                       "muster's rendezvous)", kv, eq + 1);
          continue;
        }
      uint64_t ms = 0;
      int timed = strcmp (kv, "join_timeout") == 0
                  || strcmp (kv, "last_call_timeout") == 0;
      if (timed && mu_parse_duration_ms (eq + 1, &ms) != 0)
        {
          char what[80];
          snprintf (what, sizeof what, "--rdzv-conf %s", kv);
          return mu_duration_error (err, errlen, what, eq + 1);
        }
      if (strcmp (kv, "join_timeout") == 0)
        o->join_timeout_ms = ms;
      else if (strcmp (kv, "last_call_timeout") == 0)
        o->last_call_ms = ms;
      else if (strcmp (kv, "timeout") == 0 || strcmp (kv, "read_timeout") == 0)
        ; /* torchrun store settings with no meaning here */
      else
        return fail (err, errlen, "--rdzv-conf: unknown key '%s'", kv, NULL);
    }
  return 0;
}

/* Canonical flag name: leading dashes dropped, '_' turned into '-'. */
static void
canon (const char *a, char *out, size_t outlen)
{
  while (*a == '-')
    a++;
  size_t i = 0;
  for (; a[i] && a[i] != '=' && i + 1 < outlen; i++)
    out[i] = a[i] == '_' ? '-' : a[i];
  out[i] = '\0';
}

static const char *const FLAGS_WITH_VALUE[]
    = { "nnodes", "nproc-per-node", "rdzv-endpoint", "rdzv-id",
        "max-restarts", "node-id", "role", "advertise-host", "last-call",
        "join-timeout", "connect-timeout", "grace", "outage-window",
        "elastic-mode",
        "log-level", "ctl-bind", "rdzv-backend", "rdzv-conf",
        "progress-timeout", "ckpt-dir", "ckpt-every", "ckpt-every-steps",
        "ckpt-keep",
        "ckpt-timeout", "nbuckets", "preempt-signal", "preempt-grace", "roles",
        "join-token", "join-token-file", "master-addr", "master-port",
        "node-rank", "python", "preempt-exit-code", "standby", "spares", NULL };

static int
takes_value (const char *name)
{
  for (int i = 0; FLAGS_WITH_VALUE[i]; i++)
    if (strcmp (FLAGS_WITH_VALUE[i], name) == 0)
      return 1;
  return mu_run_compat_knows (name);
}

/* Every duration flag: the one rule of mu_parse_duration_ms, and an error
 * that names the accepted forms. */
static int
duration (const char *name, const char *v, uint64_t *out, char *err,
          size_t errlen)
{
  if (mu_parse_duration_ms (v, out) == 0)
    return 0;
  char what[80];
  snprintf (what, sizeof what, "--%s", name);
  return mu_duration_error (err, errlen, what, v);
}

static int
apply (mu_run_opts_t *o, const char *name, const char *v, char *err,
       size_t errlen)
{
  int rc = 0;
  if (strcmp (name, "nnodes") == 0)
    {
      if (parse_nnodes (v, o) != 0)
        return fail (err, errlen,
                     "--nnodes '%s': expected N or MIN:MAX with 1 <= MIN <= MAX",
                     v, NULL);
    }
  else if (strcmp (name, "nproc-per-node") == 0)
    {
      o->nproc_kind = mu_nproc_is_kind (v) ? v : NULL;
      if (o->nproc_kind == NULL && parse_u32 (v, 1, 4096, &o->nproc) != 0)
        return fail (err, errlen, "--nproc-per-node '%s': expected 1..4096, auto, gpu or cpu", v,
                     NULL);
    }
  else if (strcmp (name, "rdzv-endpoint") == 0)
    {
      mu_endpoint_t ep;
      char why[400];
      if (mu_endpoint_parse (v, 0, &ep, why, sizeof why) != 0)
        return fail (err, errlen, "--rdzv-endpoint %s", why, NULL);
      /* HOST:PORT from here on, whichever form was given */
      o->endpoint = strncmp (v, "tcp://", 6) == 0 ? v + 6 : v;
    }
  else if (strcmp (name, "standby") == 0)
    {
      mu_endpoint_t ep;
      char why[400];
      if (mu_endpoint_parse (v, 0, &ep, why, sizeof why) != 0)
        return fail (err, errlen, "--standby %s", why, NULL);
      o->standby = strncmp (v, "tcp://", 6) == 0 ? v + 6 : v;
    }
  else if (strcmp (name, "rdzv-id") == 0)
    o->rdzv_id = v;
  else if (strcmp (name, "max-restarts") == 0)
    rc = mu_parse_u64 (v, &o->max_restarts);
  else if (strcmp (name, "node-id") == 0)
    o->node_id = v;
  else if (strcmp (name, "role") == 0)
    o->role = v;
  else if (strcmp (name, "advertise-host") == 0)
    o->advertise = v;
  else if (strcmp (name, "last-call") == 0)
    return duration (name, v, &o->last_call_ms, err, errlen);
  else if (strcmp (name, "join-timeout") == 0)
    return duration (name, v, &o->join_timeout_ms, err, errlen);
  else if (strcmp (name, "connect-timeout") == 0)
    return duration (name, v, &o->connect_timeout_ms, err, errlen);
  else if (strcmp (name, "grace") == 0)
    return duration (name, v, &o->grace_ms, err, errlen);
  else if (strcmp (name, "outage-window") == 0)
    {
      int rc = duration (name, v, &o->outage_ms, err, errlen);
      if (rc == 0 && o->outage_ms == 0)
        {
          snprintf (err, errlen, "--outage-window must be more than 0 "
                    "(got '%s')", v);
          return MUSTER_EINVAL;
        }
      return rc;
    }
  else if (strcmp (name, "elastic-mode") == 0)
    {
      if (strcmp (v, "restart") != 0 && strcmp (v, "in-place") != 0)
        return fail (err, errlen,
                     "--elastic-mode '%s': expected restart or in-place", v, NULL);
      o->elastic_mode = v;
    }
  else if (strcmp (name, "log-level") == 0)
    o->log_level = v;
  else if (strcmp (name, "master-addr") == 0)
    o->master_addr = v;
  else if (strcmp (name, "master-port") == 0)
    {
      if (parse_u32 (v, 1, 65535, &o->master_port) != 0)
        return fail (err, errlen, "--master-port '%s': expected 1..65535", v,
                     NULL);
    }
  else if (strcmp (name, "node-rank") == 0)
    {
      uint32_t nr;
      if (parse_u32 (v, 0, 65535, &nr) != 0)
        return fail (err, errlen, "--node-rank '%s': expected 0..N-1", v, NULL);
      o->node_rank = nr;
    }
  else if (strcmp (name, "join-token") == 0)
    o->join_token = v;
  else if (strcmp (name, "join-token-file") == 0)
    o->join_token_file = v;
  else if (strcmp (name, "ctl-bind") == 0)
    {
      mu_endpoint_t ep;
      char why[400];
      if (mu_endpoint_parse (v, MU_EP_ANY_PORT | MU_EP_OTHER_TRANSPORT, &ep,
                             why, sizeof why) != 0)
        return fail (err, errlen, "--ctl-bind %s", why, NULL);
      o->ctl_bind = v;
    }
  else if (strcmp (name, "rdzv-backend") == 0)
    {
      if (strcmp (v, "c10d") != 0 && strcmp (v, "muster") != 0
          && strcmp (v, "static") != 0)
        return fail (err, errlen,
                     "--rdzv-backend '%s': muster is its own backend (c10d, "
                     "static and muster are accepted)", v, NULL);
    }
  else if (strcmp (name, "rdzv-conf") == 0)
    return parse_rdzv_conf (v, o, err, errlen);
  else if (mu_run_compat_knows (name))
    return mu_run_compat_apply (o, name, v, err, errlen);
  else if (strcmp (name, "roles") == 0)
    return parse_roles (v, o, err, errlen);
  else if (strcmp (name, "progress-timeout") == 0)
    return duration (name, v, &o->progress_timeout_ms, err, errlen);
  else if (strcmp (name, "ckpt-dir") == 0)
    {
      if (v[0] == '\0')
        return fail (err, errlen, "--ckpt-dir needs a directory", NULL, NULL);
      o->ckpt_dir = v;
    }
  else if (strcmp (name, "ckpt-every") == 0)
    return duration (name, v, &o->ckpt_every_ms, err, errlen);
  else if (strcmp (name, "ckpt-every-steps") == 0)
    rc = mu_parse_u64 (v, &o->ckpt_every_steps);
  else if (strcmp (name, "ckpt-keep") == 0)
    {
      rc = mu_parse_u64 (v, &o->ckpt_keep);
      if (rc == 0 && o->ckpt_keep == 0)
        return fail (err, errlen, "--ckpt-keep '%s': keep at least 1", v, NULL);
    }
  else if (strcmp (name, "ckpt-timeout") == 0)
    return duration (name, v, &o->ckpt_timeout_ms, err, errlen);
  else if (strcmp (name, "nbuckets") == 0)
    rc = mu_parse_u64 (v, &o->nbuckets);
  else if (strcmp (name, "spares") == 0)
    {
      if (mu_parse_u64 (v, &o->spares) != 0 || o->spares > 1)
        return fail (err, errlen, "--spares '%s': expected 0 or 1 (spare "
                     "processes per node)", v, NULL);
    }
  else if (strcmp (name, "preempt-grace") == 0)
    return duration (name, v, &o->preempt_grace_ms, err, errlen);
  else if (strcmp (name, "python") == 0)
    {
      if (v[0] == '\0')
        return fail (err, errlen, "--python needs an interpreter (a path, or "
                     "a name looked up in PATH)", NULL, NULL);
      o->python = v;
    }
  else if (strcmp (name, "preempt-exit-code") == 0)
    {
      uint32_t code;
      if (parse_u32 (v, 0, 255, &code) != 0)
        return fail (err, errlen, "--preempt-exit-code '%s': expected 0..255",
                     v, NULL);
      o->preempt_exit_code = (int)code;
    }
  else if (strcmp (name, "preempt-signal") == 0)
    {
      static const struct { const char *n; int s; } sigs[]
          = { { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "HUP", SIGHUP },
              { "TERM", SIGTERM }, { "URG", SIGURG }, { "XCPU", SIGXCPU },
              { NULL, 0 } };
      const char *s = strncmp (v, "SIG", 3) == 0 ? v + 3 : v;
      o->preempt_signal = 0;
      for (int k = 0; sigs[k].n; k++)
        if (strcmp (sigs[k].n, s) == 0)
          o->preempt_signal = sigs[k].s;
      if (o->preempt_signal == 0)
        return fail (err, errlen,
                     "--preempt-signal '%s': expected USR1, USR2, HUP, TERM, "
                     "URG or XCPU", v, NULL);
    }
  if (rc != 0)
    return fail (err, errlen, "bad value '%s' for --%s", v, name);
  return 0;
}

static int
parse (int argc, char **argv, int in_allocation, mu_run_opts_t *o, char *err,
       size_t errlen);

int
mu_run_opts_parse (int argc, char **argv, mu_run_opts_t *o, char *err,
                   size_t errlen)
{
  return parse (argc, argv, 0, o, err, errlen);
}

int
mu_run_opts_parse_in_allocation (int argc, char **argv, mu_run_opts_t *o,
                                 char *err, size_t errlen)
{
  return parse (argc, argv, 1, o, err, errlen);
}

static int
parse (int argc, char **argv, int in_allocation, mu_run_opts_t *o, char *err,
       size_t errlen)
{
  memset (o, 0, sizeof *o);
  o->min_nodes = o->max_nodes = 1;
  o->nproc = 1;
  o->last_call_ms = mu_job_default (MU_JD_LAST_CALL_MS)->value;
  o->join_timeout_ms = mu_job_default (MU_JD_JOIN_TIMEOUT_MS)->value;
  o->connect_timeout_ms = mu_job_default (MU_JD_CONNECT_TIMEOUT_MS)->value;
  o->grace_ms = mu_job_default (MU_JD_GRACE_MS)->value;
  o->preempt_grace_ms = mu_job_default (MU_JD_PREEMPT_GRACE_MS)->value;
  o->is_host = -1;
  o->node_rank = -1;
  /* 75, EX_TEMPFAIL: requeue scripts retry */
  o->preempt_exit_code
      = (int)mu_job_default (MU_JD_PREEMPT_EXIT_CODE)->value;
  int i = 0;
  for (; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--") == 0)
        {
          i++;
          break;
        }
      if (a[0] != '-' || a[1] == '\0')
        break;
      char name[64];
      canon (a, name, sizeof name);
      const char *eq = strchr (a, '=');
      if (a[1] != '-' && (a[1] == 'r' || a[1] == 't') && a[2] != '\0'
          && a[2] != '=')
        {
          /* torchrun's short forms with the value attached: -r3, -t0:1 */
          char flag[2] = { a[1], '\0' };
          int rc = apply (o, flag, a + 2, err, errlen);
          if (rc != 0)
            return rc;
          continue;
        }
      if (strcmp (name, "standalone") == 0)
        o->standalone = 1;
      else if (strcmp (name, "host") == 0)
        o->host = 1;
      else if (strcmp (name, "insecure") == 0)
        o->insecure = 1;
      else if (strcmp (name, "quiet") == 0 || strcmp (name, "q") == 0)
        o->quiet = 1;
      else if (strcmp (name, "no-python") == 0)
        o->no_python = 1;
      else if (strcmp (name, "resume") == 0)
        o->resume = 1;
      else if (strcmp (name, "mpi") == 0)
        o->mpi = 1;
      else if (strcmp (name, "run-path") == 0)
        o->run_path = 1;
      else if (strcmp (name, "m") == 0 || strcmp (name, "module") == 0)
        o->module = 1;
      else if (takes_value (name))
        {
          const char *v;
          if (eq != NULL)
            v = eq + 1;
          else if (i + 1 < argc)
            v = argv[++i];
          else
            return fail (err, errlen, "option --%s needs a value", name, NULL);
          int rc = apply (o, name, v, err, errlen);
          if (rc != 0)
            return rc;
          continue;
        }
      else
        return fail (err, errlen, "unknown option '%s' (see muster run --help)",
                     a, NULL);
      if (eq != NULL)
        return fail (err, errlen, "option '%s' takes no value", a, NULL);
    }
  if (i >= argc)
    return fail (err, errlen, "no program given: muster run [options] -- PROGRAM [ARGS...]",
                 NULL, NULL);
  if (argv[i][0] == '\0')
    return fail (err, errlen, "the program name is empty", NULL, NULL);
  if (o->spares > 0
      && (o->elastic_mode == NULL || strcmp (o->elastic_mode, "in-place") != 0))
    return fail (err, errlen, "--spares needs --elastic-mode in-place (a "
                 "restart starts every process anew)", NULL, NULL);
  if (o->master_addr != NULL || o->master_port != 0 || o->node_rank >= 0)
    {
      /* torchrun's static rendezvous: node 0 serves at MASTER_ADDR:PORT,
       * the others join it; GROUP_RANK follows --node-rank (rule R8). */
      if (o->endpoint != NULL)
        return fail (err, errlen, "give either --rdzv-endpoint or "
                     "--master-addr/--master-port, not both", NULL, NULL);
      if (o->min_nodes != o->max_nodes)
        return fail (err, errlen, "static rendezvous (--master-addr, "
                     "--master-port, --node-rank) needs a fixed --nnodes N",
                     NULL, NULL);
      if (o->node_rank >= (int64_t)o->max_nodes)
        return fail (err, errlen, "--node-rank must be below --nnodes",
                     NULL, NULL);
      const char *addr = o->master_addr ? o->master_addr : "127.0.0.1";
      int v6 = strchr (addr, ':') != NULL && addr[0] != '[';
      snprintf (o->static_ep, sizeof o->static_ep, "%s%s%s:%u", v6 ? "[" : "",
                addr, v6 ? "]" : "",
                (unsigned)(o->master_port ? o->master_port : 29500));
      if (o->max_nodes > 1)
        {
          o->endpoint = o->static_ep;
          if (o->node_rank < 0)
            o->node_rank = 0; /* torchrun's default */
          if (o->is_host < 0)
            o->is_host = o->node_rank == 0;
        }
      else
        o->node_rank = -1; /* one node: the embedded coordinator */
    }
  if (o->is_host == 1 && o->endpoint != NULL)
    o->host = 1;
  if (o->host && o->is_host == 0)
    return fail (err, errlen, "--host and --rdzv-conf is_host=0 contradict "
                 "each other", NULL, NULL);
  if (o->host && o->endpoint == NULL)
    return fail (err, errlen, "--host needs --rdzv-endpoint (where to serve)",
                 NULL, NULL);
  if (o->standby != NULL && o->endpoint == NULL)
    return fail (err, errlen, "--standby needs --rdzv-endpoint: it names the "
                 "coordinator's standby, where the nodes go when the "
                 "coordinator is lost", NULL, NULL);
  if (o->standby != NULL && o->endpoint != NULL
      && strcmp (o->standby, o->endpoint) == 0)
    return fail (err, errlen, "--standby %s is the --rdzv-endpoint itself: "
                 "the standby needs its own address or port", o->standby, NULL);
  if (o->standalone && o->endpoint != NULL)
    return fail (err, errlen, "--standalone and --rdzv-endpoint exclude each other",
                 NULL, NULL);
  if (o->mpi && o->elastic_mode != NULL
      && strcmp (o->elastic_mode, "in-place") == 0)
    return fail (err, errlen, "--mpi needs --elastic-mode restart: an MPI "
                 "world cannot change its ranks in place, a failure re-forms "
                 "it in a new epoch", NULL, NULL);
  if (o->nroles > 0)
    {
      size_t k = 0;
      if (o->role != NULL)
        while (k < o->nroles && strcmp (o->roles[k].name, o->role) != 0)
          k++;
      if (k == o->nroles)
        return fail (err, errlen, "--role '%s' is not one of --roles",
                     o->role, NULL);
      if (o->endpoint == NULL)
        return fail (err, errlen,
                     "--roles needs --rdzv-endpoint: each node runs one role",
                     NULL, NULL);
      o->nproc = o->roles[k].nproc; /* this node's workers */
    }
  if (o->endpoint == NULL && o->min_nodes > 1 && !in_allocation)
    return fail (err, errlen,
                 "--nnodes needs more than one node: give --rdzv-endpoint "
                 "(the embedded coordinator serves this machine only)",
                 NULL, NULL);
  o->argv = argv + i;
  o->argc = argc - i;
  return 0;
}
