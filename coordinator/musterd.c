/*
 * musterd.c — the coordinator daemon's main(): flags and config file,
 * signals, and one libuv loop around mu_coord_t.
 *
 * Configuration comes from a file of "key = value" lines (--config) whose
 * keys are the long flag names, then from the command line, which wins.
 * With --endpoints-file the bound endpoints (ports resolved when binding
 * port 0) are written to a file once serving, so scripts and tests can
 * start musterd on ephemeral ports.  SIGTERM and SIGINT stop it cleanly.
 * At start the descriptor limit is raised to its hard limit (FD-LIMIT):
 * every TCP connection holds one, and at the usual soft limit of 1024 a
 * thousand stalled connections lock every client out (conn_limit.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include <muster/error.h>

#include "common/log.h"
#include "common/metrics_http.h"
#include "common/netaddr.h"
#include "common/state_dir.h"
#include "common/util.h"
#include "coordinator/coord.h"
#include "coordinator/coord_metrics.h"
#include "coordinator/journal.h"
#include "coordinator/kv_quota.h"
#include "coordinator/sched_glue.h"
#include "coordinator/standby.h"

typedef struct daemon_cfg {
  char agent_bind[256];
  char ctl_bind[256];
  char endpoints_file[1024];
  uint64_t heartbeat_ms;
  uint64_t miss_limit;
  uint64_t full_members_max;
  uint64_t kv_max_bytes;
  uint64_t kv_max_keys;
  uint64_t events_keep; /* events area: the global event ring */
  /* schedwire: --quota TENANT=SLOTS (repeatable) */
  char quota_buf[64][128];
  const char *quotas[64];
  size_t nquotas;
  mu_log_level_t level;
  char state_dir[2048];
  char ctl_socket[2048];
  int insecure;
  int agent_zmq; /* zsrv: --agent-transport zmq */
  int journal_group;
  int dump_state;
  uint64_t restore_window_ms;
  char standby_of[256];   /* follow this primary (standby.h) */
  char standby_bind[256]; /* serve the journal stream to a standby */
  uint64_t standby_lease_ms;
  char metrics_bind[256];        /* Prometheus /metrics; "" = off */
  char metrics_token_file[1024]; /* bearer token for it */
  uint64_t job_log_bytes; /* --job-log-bytes (ctl.logs ring per job) */
} daemon_cfg_t;

static void
usage (FILE *f)
{
  char kvb[32];
  fprintf (f,
           "usage: musterd [options]\n"
           "  --agent-bind EP      agent port (default tcp://0.0.0.0:29400);\n"
           "                       HOST:PORT or tcp://HOST:PORT, HOST an\n"
           "                       address of this machine or 0.0.0.0 (all)\n"
           "  --ctl-bind EP        control port (default tcp://127.0.0.1:29401;\n"
           "                       'none' disables it)\n"
           "  --heartbeat DUR      agents' heartbeat interval (default 200ms)\n"
           "  --miss-limit N       missed heartbeats before a node is lost (default 3)\n"
           "  --endpoints-file F   write the bound endpoints to F once serving\n"
           "  --full-members-max N job.start lists every node up to N nodes;\n"
           "                       larger jobs fetch the list lazily (256)\n"
           "  --state-dir DIR      keys, join token, enrolled nodes, ctl.sock\n"
           "                       (default /var/lib/muster for root, else\n"
           "                       $XDG_STATE_HOME/muster or ~/.local/state/muster)\n"
           "  --ctl-socket PATH    local control socket (default STATE_DIR/ctl.sock;\n"
           "                       local users are known by their uid)\n"
           "  --insecure           no CURVE on the TCP ports: anyone who reaches\n"
           "                       them may register nodes and submit jobs\n"
           "  --agent-transport T  native (default): musterd serves ZMTP itself\n"
           "                       on the agent port; zmq: a libzmq ROUTER (the\n"
           "                       baseline bench/rdzv_load compares against)\n"
           "  --journal-sync MODE  record: fsync the job journal (STATE_DIR/journal)\n"
           "                       after every record, and once for a burst's rest\n"
           "                       (default); group: one fsync per loop iteration\n"
           "                       for all records written in it\n"
           "  --restore-window DUR members of a job running when musterd went\n"
           "                       down that are not back within DUR are lost (30s)\n"
           "  --standby-bind EP    stream the journal to a standby musterd here\n"
           "                       (its key: this state directory's server key)\n"
           "  --standby-of EP      be a standby: follow the primary's journal at\n"
           "                       its --standby-bind EP (STATE_DIR must hold a\n"
           "                       copy of the primary's server.key, server.key_secret\n"
           "                       and authorized/); take over when it is silent\n"
           "                       for the lease, under the next fencing term\n"
           "  --standby-lease DUR  silence before a standby takes over (500ms)\n"
           "  --metrics-bind EP    serve Prometheus metrics at http://EP/metrics\n"
           "                       (default: off); a bind other than loopback\n"
           "                       needs --metrics-token-file\n"
           "  --metrics-token-file F  scrapes must send 'Authorization: Bearer\n"
           "                       TOKEN', TOKEN the first line of F (mode 0600)\n"
           "  --dump-state         replay STATE_DIR/journal, print the job table as\n"
           "                       JSON and exit (changes nothing)\n"
           "  --config FILE        read 'key = value' lines (keys: the long options)\n"
           "  --log-level L        err, warn, notice, info, debug (default notice)\n"
           "  --help, --version\n"
           "durations: a bare number is seconds (1); or 200ms, 2s, 1.5m, 1h\n");
  fprintf (f,
           "limits (a request over one is refused with MUSTER_EQUOTA):\n"
           "  --kv-max-bytes SIZE  KV keys + values + barrier names one job\n"
           "                       holds per epoch; K, M, G suffixes (%s)\n"
           "  --kv-max-keys N      KV keys + barrier names per job (%llu)\n"
           "  --job-log-bytes SIZE output kept per job for `muster logs`\n"
           "                       (ctl.logs); K, M, G suffixes (1M)\n"
           "  --events-keep N      events the event log holds (16384;\n"
           "                       docs/events.md)\n"
           "  --quota TENANT=SLOTS a tenant's jobs hold at most SLOTS agents\n"
           "                       (repeatable; 0 = unlimited; docs/scheduler.md)\n"
           "  waiting kv.get/barrier requests per node: %u x slots + %u;\n"
           "  keys and barrier names: at most %u bytes\n",
           mu_kv_fmt_limit (MU_KV_MAX_BYTES_DEFAULT, kvb, sizeof kvb),
           (unsigned long long)MU_KV_MAX_KEYS_DEFAULT, MU_KV_WAITING_PER_SLOT,
           MU_KV_WAITING_BASE, MU_KV_MAX_KEY);
}

static int
apply (daemon_cfg_t *cfg, const char *key, const char *val, char *err,
       size_t errlen)
{
  int rc = 0;
  if (strcmp (key, "agent-bind") == 0)
    rc = mu_strlcpy (cfg->agent_bind, val, sizeof cfg->agent_bind);
  else if (strcmp (key, "ctl-bind") == 0)
    rc = mu_strlcpy (cfg->ctl_bind, val, sizeof cfg->ctl_bind);
  else if (strcmp (key, "endpoints-file") == 0)
    rc = mu_strlcpy (cfg->endpoints_file, val, sizeof cfg->endpoints_file);
  else if (strcmp (key, "heartbeat") == 0)
    {
      if (mu_parse_duration_ms (val, &cfg->heartbeat_ms) != 0)
        return mu_duration_error (err, errlen, key, val);
      if (cfg->heartbeat_ms == 0)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "miss-limit") == 0)
    {
      rc = mu_parse_u64 (val, &cfg->miss_limit);
      if (rc == 0 && cfg->miss_limit == 0)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "log-level") == 0)
    rc = mu_log_parse_level (val, &cfg->level);
  else if (strcmp (key, "state-dir") == 0)
    rc = val[0] == '/' ? mu_strlcpy (cfg->state_dir, val, sizeof cfg->state_dir)
                       : MUSTER_EINVAL;
  else if (strcmp (key, "ctl-socket") == 0)
    rc = mu_strlcpy (cfg->ctl_socket, val, sizeof cfg->ctl_socket);
  else if (strcmp (key, "standby-of") == 0)
    rc = mu_strlcpy (cfg->standby_of, val, sizeof cfg->standby_of);
  else if (strcmp (key, "metrics-bind") == 0)
    rc = mu_strlcpy (cfg->metrics_bind, val, sizeof cfg->metrics_bind);
  else if (strcmp (key, "metrics-token-file") == 0)
    rc = mu_strlcpy (cfg->metrics_token_file, val,
                     sizeof cfg->metrics_token_file);
  else if (strcmp (key, "standby-bind") == 0)
    rc = mu_strlcpy (cfg->standby_bind, val, sizeof cfg->standby_bind);
  else if (strcmp (key, "standby-lease") == 0)
    {
      if (mu_parse_duration_ms (val, &cfg->standby_lease_ms) != 0)
        return mu_duration_error (err, errlen, key, val);
      if (cfg->standby_lease_ms == 0)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "restore-window") == 0)
    {
      if (mu_parse_duration_ms (val, &cfg->restore_window_ms) != 0)
        return mu_duration_error (err, errlen, key, val);
      if (cfg->restore_window_ms == 0)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "journal-sync") == 0)
    {
      if (strcmp (val, "record") == 0)
        cfg->journal_group = 0;
      else if (strcmp (val, "group") == 0)
        cfg->journal_group = 1;
      else
        {
          snprintf (err, errlen, "bad value '%s' for journal-sync (expected "
                    "record or group)", val);
          return MUSTER_EINVAL;
        }
    }
  else if (strcmp (key, "agent-transport") == 0) /* zsrv */
    {
      if (strcmp (val, "native") == 0)
        cfg->agent_zmq = 0;
      else if (strcmp (val, "zmq") == 0)
        cfg->agent_zmq = 1;
      else
        {
          snprintf (err, errlen, "bad value '%s' for agent-transport "
                    "(expected native or zmq)", val);
          return MUSTER_EINVAL;
        }
    }
  else if (strcmp (key, "insecure") == 0)
    {
      if (strcmp (val, "true") == 0 || strcmp (val, "yes") == 0
          || strcmp (val, "1") == 0)
        cfg->insecure = 1;
      else if (strcmp (val, "false") == 0 || strcmp (val, "no") == 0
               || strcmp (val, "0") == 0)
        cfg->insecure = 0;
      else
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "full-members-max") == 0)
    {
      rc = mu_parse_u64 (val, &cfg->full_members_max);
      if (rc == 0 && cfg->full_members_max == 0)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "kv-max-bytes") == 0)
    {
      rc = mu_parse_size (val, &cfg->kv_max_bytes);
      if (rc == 0 && cfg->kv_max_bytes == 0)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "job-log-bytes") == 0)
    {
      rc = mu_parse_size (val, &cfg->job_log_bytes);
      if (rc == 0 && cfg->job_log_bytes < 4096)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "events-keep") == 0)
    {
      rc = mu_parse_u64 (val, &cfg->events_keep);
      if (rc == 0 && cfg->events_keep == 0)
        rc = MUSTER_EINVAL;
    }
  else if (strcmp (key, "quota") == 0)
    {
      char tenant[MU_SCHED_NAME_MAX];
      uint32_t slots;
      if (cfg->nquotas >= 64)
        {
          snprintf (err, errlen, "--quota: at most 64 tenants");
          return MUSTER_EINVAL;
        }
      rc = mu_sg_parse_quota (val, tenant, sizeof tenant, &slots, err, errlen);
      if (rc != 0)
        return rc;
      mu_strlcpy (cfg->quota_buf[cfg->nquotas], val,
                  sizeof cfg->quota_buf[0]);
      cfg->quotas[cfg->nquotas] = cfg->quota_buf[cfg->nquotas];
      cfg->nquotas++;
    }
  else if (strcmp (key, "kv-max-keys") == 0)
    {
      rc = mu_parse_u64 (val, &cfg->kv_max_keys);
      if (rc == 0 && cfg->kv_max_keys == 0)
        rc = MUSTER_EINVAL;
    }
  else
    {
      snprintf (err, errlen, "unknown option '%s'", key);
      return MUSTER_EINVAL;
    }
  if (rc != 0)
    snprintf (err, errlen, "bad value '%s' for %s", val, key);
  return rc;
}

static int
read_config (daemon_cfg_t *cfg, const char *path, char *err, size_t errlen)
{
  FILE *f = fopen (path, "r");
  if (f == NULL)
    {
      snprintf (err, errlen, "cannot read config %s: %s", path, strerror (errno));
      return -errno;
    }
  char line[2048];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets (line, sizeof line, f) != NULL)
    {
      lineno++;
      char *s = line + strspn (line, " \t");
      s[strcspn (s, "\r\n")] = '\0';
      if (*s == '\0' || *s == '#')
        continue;
      char *eq = strchr (s, '=');
      if (eq == NULL)
        {
          snprintf (err, errlen, "%s:%d: expected 'key = value'", path, lineno);
          rc = MUSTER_EINVAL;
          break;
        }
      char *kend = eq;
      while (kend > s && (kend[-1] == ' ' || kend[-1] == '\t'))
        kend--;
      *kend = '\0';
      char *val = eq + 1 + strspn (eq + 1, " \t");
      char *vend = val + strlen (val);
      while (vend > val && (vend[-1] == ' ' || vend[-1] == '\t'))
        *--vend = '\0';
      char e2[256];
      rc = apply (cfg, s, val, e2, sizeof e2);
      if (rc != 0)
        snprintf (err, errlen, "%s:%d: %s", path, lineno, e2);
    }
  fclose (f);
  return rc;
}

static int
known_key (const char *key)
{
  static const char *const keys[]
      = { "agent-bind", "ctl-bind", "endpoints-file", "heartbeat",
          "miss-limit", "log-level", "full-members-max", "config",
          "kv-max-bytes", "kv-max-keys", "state-dir", "ctl-socket",
          "journal-sync", "restore-window", "standby-of", "standby-bind",
          "standby-lease", "metrics-bind", "metrics-token-file",
          "job-log-bytes", "events-keep", "quota",
          "agent-transport" /* zsrv */, NULL };
  for (int i = 0; keys[i]; i++)
    if (strcmp (keys[i], key) == 0)
      return 1;
  return 0;
}

static int
parse_args (daemon_cfg_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          usage (stdout);
          exit (0);
        }
      if (strcmp (a, "--version") == 0)
        {
          printf ("musterd 0.1.0 (protocol %d)\n", MU_PROTO_VERSION);
          exit (0);
        }
      if (strncmp (a, "--", 2) != 0)
        {
          snprintf (err, errlen, "unexpected argument '%s'", a);
          return MUSTER_EINVAL;
        }
      if (strcmp (a, "--insecure") == 0)
        {
          cfg->insecure = 1;
          continue;
        }
      if (strcmp (a, "--dump-state") == 0)
        {
          cfg->dump_state = 1;
          continue;
        }
      char key[64];
      const char *val;
      const char *eq = strchr (a, '=');
      if (eq != NULL)
        {
          size_t kl = (size_t)(eq - a - 2);
          if (kl >= sizeof key)
            kl = sizeof key - 1;
          memcpy (key, a + 2, kl);
          key[kl] = '\0';
          val = eq + 1;
        }
      else
        {
          mu_strlcpy (key, a + 2, sizeof key);
          if (!known_key (key))
            {
              snprintf (err, errlen, "unknown option '%s'", a);
              return MUSTER_EINVAL;
            }
          if (i + 1 >= argc)
            {
              snprintf (err, errlen, "option --%s needs a value", key);
              return MUSTER_EINVAL;
            }
          val = argv[++i];
        }
      int rc = strcmp (key, "config") == 0
                   ? read_config (cfg, val, err, errlen)
                   : apply (cfg, key, val, err, errlen);
      if (rc != 0)
        return rc;
    }
  return 0;
}

/* An explicit bind address must be this machine's (netaddr.c): ZeroMQ
 * would only say "Cannot assign requested address".  Rewrites `ep` into
 * the checked tcp:// form; 0, or non-zero after a one-line error. */
static int
check_bind (const char *what, const char *flag, char *ep, size_t eplen)
{
  mu_endpoint_t e;
  char why[1024], out[300];
  if (mu_endpoint_parse (ep, MU_EP_ANY_PORT | MU_EP_OTHER_TRANSPORT, &e, why,
                         sizeof why) != 0)
    {
      fprintf (stderr, "musterd: %s %s\n", flag, why);
      return MUSTER_EINVAL;
    }
  if (mu_netaddr_bind (&e, out, sizeof out, NULL, why, sizeof why) != 0
      || mu_strlcpy (ep, out, eplen) != 0)
    {
      fprintf (stderr, "musterd: cannot bind the %s at %s: %s\n", what, ep, why);
      return MUSTER_EINVAL;
    }
  return 0;
}

static void
log_binds (const mu_log_t *log, mu_coord_t *c)
{
  const char *ep = mu_coord_agent_endpoint (c);
  mu_log_notice (log, "BIND", "agent port %s %s", ep,
                 mu_bind_scope_text (mu_netaddr_endpoint_scope (ep)));
  if ((ep = mu_coord_ctl_endpoint (c)) != NULL)
    mu_log_notice (log, "BIND", "control port %s %s", ep,
                   mu_bind_scope_text (mu_netaddr_endpoint_scope (ep)));
  if ((ep = mu_coord_ctl_local_endpoint (c)) != NULL)
    mu_log_notice (log, "BIND", "local control socket %s (every local user, "
                   "known by uid)", ep);
}

typedef struct daemon {
  mu_coord_t *coord;
  mu_metrics_http_t *metrics;
  struct mu_fence *fence;
  uv_signal_t sigterm, sigint;
  mu_log_t log;
} daemon_t;

static void
on_signal (uv_signal_t *s, int signum)
{
  daemon_t *d = s->data;
  mu_log_notice (&d->log, "SHUTDOWN", "signal %d: stopping", signum);
  mu_coord_stop (d->coord);
  mu_metrics_http_stop (&d->metrics);
  mu_fence_stop (&d->fence);
  uv_close ((uv_handle_t *)&d->sigterm, NULL);
  uv_close ((uv_handle_t *)&d->sigint, NULL);
}

/* Raise RLIMIT_NOFILE's soft limit to the hard one and say what it is. */
static void
raise_fd_limit (mu_log_t *log)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return;
  rlim_t was = rl.rlim_cur;
  if (rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      if (setrlimit (RLIMIT_NOFILE, &rl) != 0)
        rl.rlim_cur = was;
    }
  if (rl.rlim_cur == RLIM_INFINITY)
    mu_log_notice (log, "FD-LIMIT", "descriptors: unlimited");
  else
    mu_log_notice (log, "FD-LIMIT",
                   "descriptors: %llu (soft limit was %llu); each TCP "
                   "connection holds one, %d are kept for musterd itself",
                   (unsigned long long)rl.rlim_cur,
                   (unsigned long long)was, MU_CONN_FD_RESERVE);
}

static int
write_endpoints (const char *path, mu_coord_t *c, const char *metrics_url)
{
  char tmp[1100];
  snprintf (tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen (tmp, "w");
  if (f == NULL)
    return -errno;
  fprintf (f, "agent %s\nctl %s\n", mu_coord_agent_endpoint (c),
           mu_coord_ctl_endpoint (c) ? mu_coord_ctl_endpoint (c) : "none");
  if (mu_coord_ctl_local_endpoint (c) != NULL)
    fprintf (f, "ctl-local %s\n", mu_coord_ctl_local_endpoint (c));
  if (mu_coord_server_key (c)[0] != '\0')
    fprintf (f, "server-key %s\n", mu_coord_server_key (c));
  if (mu_coord_standby_endpoint (c) != NULL)
    fprintf (f, "standby %s\n", mu_coord_standby_endpoint (c));
  if (metrics_url != NULL)
    fprintf (f, "metrics %s\n", metrics_url);
  if (fclose (f) != 0 || rename (tmp, path) != 0)
    return -errno;
  return 0;
}

int
main (int argc, char **argv)
{
  daemon_cfg_t cfg;
  memset (&cfg, 0, sizeof cfg);
  strcpy (cfg.agent_bind, "tcp://0.0.0.0:29400");
  strcpy (cfg.ctl_bind, "tcp://127.0.0.1:29401");
  cfg.level = MU_LOG_NOTICE;
  char err[1024];
  if (parse_args (&cfg, argc, argv, err, sizeof err) != 0)
    {
      fprintf (stderr, "musterd: %s\n", err);
      usage (stderr);
      return 2;
    }
  if (cfg.state_dir[0] == '\0'
      && mu_state_dir_default (cfg.state_dir, sizeof cfg.state_dir) != 0)
    {
      fprintf (stderr, "musterd: no home directory for a state directory: "
               "give --state-dir DIR\n");
      return 2;
    }
  if (cfg.dump_state)
    {
      err[0] = '\0';
      int drc = mu_journal_dump_state (cfg.state_dir, stdout, err, sizeof err);
      if (drc != 0)
        fprintf (stderr, "musterd: --dump-state: %s\n",
                 err[0] ? err : muster_strerror (drc));
      return drc == 0 ? 0 : 1;
    }
  if (strlen (cfg.state_dir) + sizeof "/ctl.sock" > 100 && cfg.ctl_socket[0] == '\0')
    {
      fprintf (stderr, "musterd: --state-dir %s is too long for its control "
               "socket (Unix sockets allow about 100 bytes): give a shorter "
               "one, or --ctl-socket PATH\n", cfg.state_dir);
      return 2;
    }
  {
    /* The parents as for any directory; the state directory itself is
     * made (or tightened to) 0711 by the coordinator. */
    char parent[2048];
    mu_strlcpy (parent, cfg.state_dir, sizeof parent);
    char *slash = strrchr (parent, '/');
    if (slash != NULL && slash != parent)
      {
        *slash = '\0';
        int mrc = mu_mkdir_p (parent, 0755);
        if (mrc == 0)
          mrc = mu_mkdir_p (cfg.state_dir, 0711);
        if (mrc != 0)
          {
            fprintf (stderr, "musterd: cannot create %s: %s\n",
                     cfg.state_dir, muster_strerror (mrc));
            return 1;
          }
      }
  }
  if (check_bind ("agent port", "--agent-bind", cfg.agent_bind, sizeof cfg.agent_bind) != 0
      || (strcmp (cfg.ctl_bind, "none") != 0
          && check_bind ("control port", "--ctl-bind", cfg.ctl_bind, sizeof cfg.ctl_bind) != 0)
      || (cfg.standby_bind[0] != '\0'
          && check_bind ("standby port", "--standby-bind", cfg.standby_bind,
                         sizeof cfg.standby_bind) != 0))
    return 2;
  if (cfg.standby_of[0] != '\0')
    {
      mu_endpoint_t e;
      char why[1024], out[300];
      if (mu_endpoint_parse (cfg.standby_of, 0, &e, why, sizeof why) != 0)
        {
          fprintf (stderr, "musterd: --standby-of %s\n", why);
          return 2;
        }
      snprintf (out, sizeof out, "tcp://%s", cfg.standby_of
                + (strncmp (cfg.standby_of, "tcp://", 6) == 0 ? 6 : 0));
      mu_strlcpy (cfg.standby_of, out, sizeof cfg.standby_of);
    }
  daemon_t d;
  memset (&d, 0, sizeof d);
  mu_log_init (&d.log, "musterd");
  d.log.level = cfg.level;
  raise_fd_limit (&d.log);
  /* The fencing term (standby.h): a standby follows its primary until it
   * takes over under the next term; a primary serves under the stored
   * one (1 on a new state directory). */
  uint64_t term = 0;
  mu_standby_opts_t so = { .primary = cfg.standby_of,
                           .state_dir = cfg.state_dir,
                           .lease_ms = cfg.standby_lease_ms,
                           .insecure = cfg.insecure,
                           .log = &d.log };
  err[0] = '\0';
  int trc = cfg.standby_of[0] != '\0'
                ? mu_standby_follow (&so, &term, err, sizeof err)
                : mu_term_load (cfg.state_dir, &term, err, sizeof err);
  if (trc == 0 && term == 0)
    {
      term = 1;
      trc = mu_term_store (cfg.state_dir, term);
      if (trc != 0)
        snprintf (err, sizeof err, "cannot store the term in %.900s/term: %s",
                  cfg.state_dir, muster_strerror (trc));
    }
  if (trc != 0)
    {
      fprintf (stderr, "musterd: %s\n", err[0] ? err : muster_strerror (trc));
      return 1;
    }
  mu_coord_opts_t o = { .agent_bind = cfg.agent_bind,
                        .ctl_bind = strcmp (cfg.ctl_bind, "none") == 0
                                        ? NULL
                                        : cfg.ctl_bind,
                        .heartbeat_ms = cfg.heartbeat_ms,
                        .miss_limit = cfg.miss_limit,
                        .full_members_max = cfg.full_members_max,
                        .kv_max_bytes = cfg.kv_max_bytes,
                        .kv_max_keys = cfg.kv_max_keys,
                        .job_log_bytes = cfg.job_log_bytes,
                        .events_keep = cfg.events_keep,
                        .quotas = cfg.quotas,
                        .nquotas = cfg.nquotas,
                        .state_dir = cfg.state_dir,
                        .ctl_local = cfg.ctl_socket[0] ? cfg.ctl_socket : NULL,
                        .insecure = cfg.insecure,
                        .agent_zmq = cfg.agent_zmq,
                        .journal_group_commit = cfg.journal_group,
                        .restore_window_ms = cfg.restore_window_ms,
                        .term = term,
                        .standby_bind = cfg.standby_bind[0] ? cfg.standby_bind
                                                            : NULL,
                        .log = &d.log };
  uv_loop_t loop;
  uv_loop_init (&loop);
  int rc = mu_coord_new (&o, &d.coord);
  if (rc == 0 && cfg.metrics_bind[0] != '\0')
    {
      /* Before the ports: a metrics bind that breaks the rules (not
       * loopback, no token) stops musterd before it serves anything. */
      mu_metrics_http_opts_t mo
          = { .bind = cfg.metrics_bind,
              .token_file = cfg.metrics_token_file[0] ? cfg.metrics_token_file
                                                      : NULL,
              .render = mu_coord_metrics_render,
              .arg = d.coord };
      err[0] = '\0';
      rc = mu_metrics_http_start (&loop, &mo, &d.metrics, err, sizeof err);
      if (rc != 0)
        {
          fprintf (stderr, "musterd: --metrics-bind: %s\n", err);
          mu_coord_destroy (&d.coord);
          uv_run (&loop, UV_RUN_DEFAULT);
          uv_loop_close (&loop);
          return 2;
        }
    }
  if (rc == 0)
    rc = mu_coord_start (d.coord, &loop);
  if (rc != 0)
    {
      fprintf (stderr, "musterd: cannot start: %s\n", muster_strerror (rc));
      mu_metrics_http_stop (&d.metrics);
      uv_run (&loop, UV_RUN_DEFAULT);
      mu_coord_destroy (&d.coord);
      uv_loop_close (&loop);
      return 1;
    }
  if (cfg.endpoints_file[0] != '\0'
      && (rc = write_endpoints (cfg.endpoints_file, d.coord,
                                d.metrics ? mu_metrics_http_url (d.metrics)
                                          : NULL)) != 0)
    {
      fprintf (stderr, "musterd: cannot write %s: %s\n", cfg.endpoints_file,
               muster_strerror (rc));
      mu_coord_stop (d.coord);
      mu_metrics_http_stop (&d.metrics);
      uv_run (&loop, UV_RUN_DEFAULT);
      mu_coord_destroy (&d.coord);
      uv_loop_close (&loop);
      return 1;
    }
  log_binds (&d.log, d.coord);
  if (d.metrics != NULL)
    mu_log_notice (&d.log, "METRICS", "serving %s %s%s",
                   mu_metrics_http_url (d.metrics),
                   mu_metrics_http_scope (d.metrics),
                   mu_metrics_http_needs_token (d.metrics)
                       ? " (bearer token required)" : "");
  mu_log_notice (&d.log, "SERVING", "agent port %s, control port %s, term %llu",
                 mu_coord_agent_endpoint (d.coord),
                 mu_coord_ctl_endpoint (d.coord) ? mu_coord_ctl_endpoint (d.coord)
                                                 : "none",
                 (unsigned long long)term);
  mu_fence_t *fence = NULL;
  if (cfg.standby_of[0] != '\0'
      && (rc = mu_fence_start (&loop, &so, term, &fence)) != 0)
    mu_log_warn (&d.log, "FENCE", "cannot tell the old primary at %s that "
                 "term %llu rules: %s", cfg.standby_of,
                 (unsigned long long)term, muster_strerror (rc));
  d.fence = fence;
  uv_signal_init (&loop, &d.sigterm);
  uv_signal_init (&loop, &d.sigint);
  d.sigterm.data = d.sigint.data = &d;
  uv_signal_start (&d.sigterm, on_signal, SIGTERM);
  uv_signal_start (&d.sigint, on_signal, SIGINT);
  uv_run (&loop, UV_RUN_DEFAULT);
  mu_metrics_http_stop (&d.metrics);
  uv_run (&loop, UV_RUN_DEFAULT);
  mu_coord_destroy (&d.coord);
  uv_loop_close (&loop);
  return 0;
}
