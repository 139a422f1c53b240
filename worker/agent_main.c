/*
 * agent_main.c — `muster-agent`: a standalone per-node agent that offers its
 * slots to a coordinator and runs whatever jobs it is given.
 *
 * (`muster run --rdzv-endpoint` embeds the same agent with a job of its
 * own; this program is the cluster form, for jobs sent with `muster
 * submit` or the control port.)  SIGTERM or SIGINT stops the workers with a
 * grace period and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <muster/error.h>

#include "common/job_defaults.h"
#include "common/metrics_http.h"
#include "common/netaddr.h"
#include "common/node_label.h"
#include "common/state_dir.h"
#include "common/util.h"
#include "worker/agent.h"
#include "worker/fd_limit.h"

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: muster-agent --coordinator [tcp://]HOST:PORT [options]\n"
           "  --coordinator EP     the coordinator's agent port (required):\n"
           "                       A,B,...: a primary and its standbys, tried\n"
           "                       in turn when the coordinator is lost\n"
           "                       HOST:PORT or tcp://HOST:PORT\n"
           "  --slots N            worker processes this node runs (default 1)\n"
           "  --node-id ID         node id (default hostname-pid-random)\n"
           "  --host ADDR          address other nodes reach this one at\n"
           "  --role NAME          role to serve as (default: a job's first)\n"
           "  --label KEY=VALUE    a node label the scheduler's role selectors\n"
           "                       match (repeatable, at most 16; e.g. zone=a)\n"
           "  --connect-timeout D  give up if the coordinator never answers\n"
           "                       (default 0 = keep trying)\n"
           "  --grace D            SIGTERM-to-SIGKILL grace on shutdown (5s)\n"
           "  --join-token-file F  the cluster's join token (musterd writes it\n"
           "                       to STATE_DIR/join-token; default: that file\n"
           "                       of a musterd of this user on this machine)\n"
           "  --join-token T       the same, given inline ($MUSTER_JOIN_TOKEN too)\n"
           "  --state-dir DIR      keeps this agent's key (agent.key) so it stays\n"
           "                       the same node across restarts (default\n"
           "                       /var/lib/muster for root, else\n"
           "                       ~/.local/state/muster)\n"
           "  --insecure           plain TCP, for a musterd started --insecure\n"
           "  --metrics-bind EP    serve Prometheus metrics at http://EP/metrics\n"
           "                       (default: off); a bind other than loopback\n"
           "                       needs --metrics-token-file\n"
           "  --metrics-token-file F  scrapes must send 'Authorization: Bearer\n"
           "                       TOKEN', TOKEN the first line of F (mode 0600)\n"
           "  --log-level L        err, warn, notice, info, debug\n"
           "durations: a bare number is seconds (30); or 500ms, 2s, 1.5m, 1h\n");
}

typedef struct agent_main {
  mu_agent_t *agent;
  mu_metrics_http_t *metrics;
  uv_signal_t sigterm, sigint;
  uint64_t grace_ms;
  mu_log_t log;
} agent_main_t;

static void
on_signal (uv_signal_t *s, int signum)
{
  agent_main_t *m = s->data;
  mu_log_notice (&m->log, "SHUTDOWN", "signal %d: stopping workers", signum);
  uv_close ((uv_handle_t *)&m->sigterm, NULL);
  uv_close ((uv_handle_t *)&m->sigint, NULL);
  mu_metrics_http_stop (&m->metrics);
  mu_agent_shutdown (m->agent, m->grace_ms);
}

int
main (int argc, char **argv)
{
  agent_main_t m;
  memset (&m, 0, sizeof m);
  mu_log_init (&m.log, "muster-agent");
  mu_agent_opts_t o;
  memset (&o, 0, sizeof o);
  o.slots = 1;
  o.out_fd = 1;
  o.err_fd = 2;
  o.log = &m.log;
  m.grace_ms = mu_job_default (MU_JD_GRACE_MS)->value;
  char coord_ep[600];
  int insecure = 0;
  mu_agent_creds_opts_t co;
  memset (&co, 0, sizeof co);
  const char *metrics_bind = NULL, *metrics_token = NULL;
  const char *labels[MU_AGENT_MAX_LABELS];
  size_t nlabels = 0;
  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      if (strcmp (a, "--insecure") == 0)
        {
          insecure = 1;
          continue;
        }
      static const char *const known[]
          = { "--coordinator", "--slots", "--nproc-per-node", "--node-id",
              "--host", "--role", "--connect-timeout", "--grace",
              "--log-level", "--join-token", "--join-token-file",
              "--state-dir", "--metrics-bind", "--metrics-token-file",
              "--label", NULL };
      int k = 0;
      while (known[k] && strcmp (known[k], a) != 0)
        k++;
      if (known[k] == NULL || i + 1 >= argc)
        {
          fprintf (stderr, "muster-agent: %s '%s'\n",
                   strncmp (a, "--", 2) != 0 ? "unexpected argument"
                   : known[k] == NULL        ? "unknown option"
                                             : "missing value for",
                   a);
          usage (stderr);
          return 2;
        }
      const char *v = argv[++i];
      uint64_t n = 0;
      int rc = 0;
      if (strcmp (a, "--coordinator") == 0)
        {
          /* A list A,B,...: a primary and its standbys (each checked). */
          char why[700], one[300], item[300];
          size_t used = 0;
          coord_ep[0] = '\0';
          for (const char *p = v; *p != '\0';)
            {
              size_t l = strcspn (p, ",");
              if (l == 0 || l >= sizeof item)
                {
                  fprintf (stderr, "muster-agent: --coordinator %s: an empty "
                           "or overlong endpoint in the list\n", v);
                  return 2;
                }
              memcpy (item, p, l);
              item[l] = '\0';
              if (mu_endpoint_normalize (item, MU_EP_OTHER_TRANSPORT, one,
                                         sizeof one, why, sizeof why) != 0)
                {
                  fprintf (stderr, "muster-agent: --coordinator %s\n", why);
                  return 2;
                }
              int n = snprintf (coord_ep + used, sizeof coord_ep - used, "%s%s",
                                used ? "," : "", one);
              if (n < 0 || (size_t)n >= sizeof coord_ep - used)
                {
                  fprintf (stderr, "muster-agent: --coordinator: too many "
                           "endpoints\n");
                  return 2;
                }
              used += (size_t)n;
              p += l + (p[l] == ',');
            }
          o.coordinator = coord_ep;
        }
      else if (strcmp (a, "--slots") == 0 || strcmp (a, "--nproc-per-node") == 0)
        {
          rc = mu_parse_u64 (v, &n);
          if (rc == 0 && (n == 0 || n > 4096))
            rc = MUSTER_EINVAL;
          o.slots = (uint32_t)n;
        }
      else if (strcmp (a, "--node-id") == 0)
        o.node_id = v;
      else if (strcmp (a, "--host") == 0)
        o.host = v;
      else if (strcmp (a, "--role") == 0)
        o.role = v;
      else if (strcmp (a, "--label") == 0)
        {
          char why[256];
          if (mu_node_label_check (v, why, sizeof why) != 0)
            {
              fprintf (stderr, "muster-agent: --label: %s\n", why);
              return 2;
            }
          if (nlabels >= MU_AGENT_MAX_LABELS)
            {
              fprintf (stderr, "muster-agent: --label: at most %d labels\n",
                       MU_AGENT_MAX_LABELS);
              return 2;
            }
          labels[nlabels++] = v;
          o.labels = labels;
          o.nlabels = nlabels;
        }
      else if (strcmp (a, "--connect-timeout") == 0
               || strcmp (a, "--grace") == 0)
        {
          if (mu_parse_duration_ms (v, a[2] == 'c' ? &o.connect_timeout_ms
                                                   : &m.grace_ms) != 0)
            {
              char err[300];
              mu_duration_error (err, sizeof err, a, v);
              fprintf (stderr, "muster-agent: %s\n", err);
              return 2;
            }
        }
      else if (strcmp (a, "--log-level") == 0)
        rc = mu_log_parse_level (v, &m.log.level);
      else if (strcmp (a, "--join-token") == 0)
        co.token = v;
      else if (strcmp (a, "--join-token-file") == 0)
        co.token_file = v;
      else if (strcmp (a, "--state-dir") == 0)
        co.state_dir = v;
      else if (strcmp (a, "--metrics-bind") == 0)
        metrics_bind = v;
      else if (strcmp (a, "--metrics-token-file") == 0)
        metrics_token = v;
      else
        {
          fprintf (stderr, "muster-agent: unknown option %s\n", a);
          usage (stderr);
          return 2;
        }
      if (rc != 0)
        {
          fprintf (stderr, "muster-agent: bad value '%s' for %s\n", v, a);
          return 2;
        }
    }
  if (o.coordinator == NULL)
    {
      fprintf (stderr, "muster-agent: --coordinator is required\n");
      usage (stderr);
      return 2;
    }
  mu_token_t tok;
  mu_keypair_t key;
  char key_file[4200];
  if (!insecure)
    {
      char dir[4096], err[700];
      if (co.state_dir != NULL)
        mu_strlcpy (dir, co.state_dir, sizeof dir);
      else if (mu_state_dir_default (dir, sizeof dir) != 0)
        dir[0] = '\0';
      if (dir[0] != '\0')
        {
          snprintf (key_file, sizeof key_file, "%s/agent.key", dir);
          co.key_file = key_file;
        }
      int have_key = 0;
      if (mu_agent_creds_load (&co, &tok, &key, &have_key, err, sizeof err) != 0)
        {
          fprintf (stderr, "muster-agent: %s\n", err);
          return 2;
        }
      o.token = &tok;
      o.key = have_key ? &key : NULL;
      /* Blank an inline token in argv (readable in /proc/PID/cmdline). */
      if (co.token != NULL)
        memset ((char *)co.token, 'x', strlen (co.token));
    }
  uv_loop_t loop;
  /* A node of many workers needs many descriptors (fd_limit.h). */
  (void)mu_fd_limit_raise (NULL);
  uv_loop_init (&loop);
  int rc = mu_agent_new (&o, &m.agent);
  if (rc == 0 && metrics_bind != NULL)
    {
      /* Before registering: a bind that breaks the rules (not loopback,
       * no token) stops the agent before it offers its slots. */
      mu_metrics_http_opts_t mo = { .bind = metrics_bind,
                                    .token_file = metrics_token,
                                    .render = mu_agent_metrics_render,
                                    .arg = m.agent };
      char err[1200];
      err[0] = '\0';
      if (mu_metrics_http_start (&loop, &mo, &m.metrics, err, sizeof err) != 0)
        {
          fprintf (stderr, "muster-agent: --metrics-bind: %s\n", err);
          mu_agent_destroy (&m.agent);
          uv_run (&loop, UV_RUN_DEFAULT);
          uv_loop_close (&loop);
          return 2;
        }
      mu_log_notice (&m.log, "METRICS", "serving %s %s%s",
                     mu_metrics_http_url (m.metrics),
                     mu_metrics_http_scope (m.metrics),
                     mu_metrics_http_needs_token (m.metrics)
                         ? " (bearer token required)" : "");
    }
  if (rc == 0)
    rc = mu_agent_start (m.agent, &loop);
  if (rc != 0)
    {
      fprintf (stderr, "muster-agent: cannot start: %s\n", muster_strerror (rc));
      mu_metrics_http_stop (&m.metrics);
      uv_run (&loop, UV_RUN_DEFAULT);
      mu_agent_destroy (&m.agent);
      uv_loop_close (&loop);
      return 1;
    }
  uv_signal_init (&loop, &m.sigterm);
  uv_signal_init (&loop, &m.sigint);
  m.sigterm.data = m.sigint.data = &m;
  uv_signal_start (&m.sigterm, on_signal, SIGTERM);
  uv_signal_start (&m.sigint, on_signal, SIGINT);
  uv_run (&loop, UV_RUN_DEFAULT);
  /* The agent ended on its own (no signal): close the metrics too. */
  mu_metrics_http_stop (&m.metrics);
  uv_run (&loop, UV_RUN_DEFAULT);
  mu_agent_destroy (&m.agent);
  uv_loop_close (&loop);
  return 0;
}
