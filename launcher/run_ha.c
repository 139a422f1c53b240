/*
 * run_ha.c — the musterd children of `muster run --standby` (run_ha.h):
 * their private state directories, their start, their claim on the
 * standby address, and their end.
 *
 * A real musterd rather than the embedded coordinator, because the
 * journal, its stream, the takeover and the fencing term all live in
 * musterd (coordinator/standby_*.c) and are tested there: the launcher
 * only sets up what an operator would (keys copied, flags) and watches
 * the child.
 */
#define _GNU_SOURCE
#include "launcher/run_ha.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/netaddr.h"
#include "common/proto.h"
#include "common/wire.h"
#include "common/state_dir.h"
#include "common/util.h"

#define SERVE_WAIT_MS 15000 /* a primary that does not serve by then failed */

void
mu_run_ha_init (mu_run_ha_t *h)
{
  memset (h, 0, sizeof *h);
  h->lock_fd = -1;
}

static void
sleep_ms (long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep (&ts, NULL);
}

static int rm_entry (const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw);

/* The directories of launchers that were killed (a lost hosting node
 * cannot clean up after itself): JOB-PID.primary or .standby whose PID
 * is gone. */
static void
sweep_stale (const char *base)
{
  DIR *d = opendir (base);
  if (d == NULL)
    return;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      const char *dot = strrchr (e->d_name, '.');
      const char *dash = strrchr (e->d_name, '-');
      if (dot == NULL || dash == NULL || dash > dot
          || (strcmp (dot, ".primary") != 0 && strcmp (dot, ".standby") != 0))
        continue;
      char *end;
      long pid = strtol (dash + 1, &end, 10);
      if (end != dot || pid <= 0 || kill ((pid_t)pid, 0) == 0 || errno != ESRCH)
        continue;
      char path[800];
      snprintf (path, sizeof path, "%s/%s", base, e->d_name);
      nftw (path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
  closedir (d);
}

/* STATE_DIR/run/JOB-PID.WHAT, 0700, holding the job secret's server key
 * pair and a join token of its enrolment key (none with --insecure). */
static int
make_dir (mu_run_ha_t *h, const mu_run_ha_opts_t *o, const char *what,
          char *err, size_t errlen)
{
  char base[256];
  int rc = mu_state_dir_default (base, sizeof base);
  if (rc == 0 && strlen (base) + sizeof "/run" < sizeof base)
    strcat (base, "/run");
  if (rc == 0)
    rc = mu_mkdir_p (base, 0700);
  if (rc != 0)
    {
      snprintf (err, errlen, "cannot make the directory of the job's %s "
                "coordinator under the state directory: %s", what,
                muster_strerror (rc));
      return rc;
    }
  sweep_stale (base);
  int n = snprintf (h->dir, sizeof h->dir, "%s/%s-%d.%s", base, o->job_id,
                    (int)getpid (), what);
  if (n < 0 || (size_t)n >= sizeof h->dir)
    {
      snprintf (err, errlen, "the state directory path %s is too long", base);
      h->dir[0] = '\0';
      return MUSTER_ETOOBIG;
    }
  if (mkdir (h->dir, 0700) != 0 && errno != EEXIST)
    {
      rc = -errno;
      snprintf (err, errlen, "cannot make %s: %s", h->dir, muster_strerror (rc));
      h->dir[0] = '\0';
      return rc;
    }
  if (o->secret == NULL)
    return 0;
  char path[600];
  mu_cert_t cert;
  memset (&cert, 0, sizeof cert);
  mu_strlcpy (cert.kp.pub, o->secret->server_pub, sizeof cert.kp.pub);
  mu_strlcpy (cert.kp.sec, o->secret->server_sec, sizeof cert.kp.sec);
  snprintf (path, sizeof path, "%s/server.key", h->dir);
  rc = mu_cert_save (path, &cert);
  memset (&cert, 0, sizeof cert);
  if (rc == 0)
    {
      mu_token_t tok = *o->secret;
      tok.server_sec[0] = '\0'; /* a join token, not the secret */
      snprintf (path, sizeof path, "%s/join-token", h->dir);
      rc = mu_token_save (path, &tok);
      memset (&tok, 0, sizeof tok);
    }
  if (rc != 0)
    snprintf (err, errlen, "cannot write %s: %s", path, muster_strerror (rc));
  return rc;
}

static int
spawn (mu_run_ha_t *h, char **argv, const char *err_path, char *err,
       size_t errlen)
{
  pid_t parent = getpid ();
  pid_t pid = fork ();
  if (pid < 0)
    {
      int rc = -errno;
      snprintf (err, errlen, "cannot start musterd: %s", muster_strerror (rc));
      return rc;
    }
  if (pid == 0)
    {
      /* Dies with the launcher (a killed launcher is a lost node, its
       * coordinator included); out of the terminal's process group, so
       * that Ctrl-C reaches the launcher, which checkpoints through it. */
      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (getppid () != parent)
        _exit (1);
      setpgid (0, 0);
      int null = open ("/dev/null", O_RDWR);
      if (null >= 0)
        {
          dup2 (null, 0);
          dup2 (null, 1);
          if (null > 2)
            close (null);
        }
      if (err_path != NULL)
        {
          int fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
          if (fd >= 0)
            {
              dup2 (fd, 2);
              if (fd > 2)
                close (fd);
            }
        }
      execv (argv[0], argv);
      fprintf (stderr, "muster: cannot run %s: %s\n", argv[0], strerror (errno));
      _exit (127);
    }
  h->pid = pid;
  return 0;
}

static void
musterd_path (char *buf, size_t cap)
{
  char dir[4096];
  if (mu_self_dir (dir, sizeof dir) == 0)
    snprintf (buf, cap, "%s/musterd", dir);
  else
    mu_strlcpy (buf, "musterd", cap);
}

/* 1 when the file at `path` contains `what`. */
static int
file_says (const char *path, const char *what)
{
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return 0;
  char line[1024];
  int found = 0;
  while (!found && fgets (line, sizeof line, f) != NULL)
    found = strstr (line, what) != NULL;
  fclose (f);
  return found;
}

/* Copy what musterd wrote to its stderr file to ours. */
static void
show_errors (mu_run_ha_t *h)
{
  if (h->err_path[0] == '\0')
    return;
  FILE *f = fopen (h->err_path, "r");
  h->err_path[0] = '\0';
  if (f == NULL)
    return;
  char line[2048];
  while (fgets (line, sizeof line, f) != NULL)
    fputs (line, stderr);
  fclose (f);
}

int
mu_run_ha_running (mu_run_ha_t *h)
{
  if (h->pid <= 0)
    return 0;
  int st;
  pid_t w = waitpid (h->pid, &st, WNOHANG);
  if (w == h->pid || (w < 0 && errno == ECHILD))
    {
      h->pid = 0;
      return 0;
    }
  return 1;
}

/* An endpoint ("agent", "ctl-local") from musterd's --endpoints-file,
 * once written. */
static int
read_ep (const char *path, const char *which, char *out, size_t cap)
{
  FILE *f = fopen (path, "r");
  if (f == NULL)
    return -1;
  char line[700];
  int found = -1;
  while (fgets (line, sizeof line, f) != NULL)
    {
      char key[32], val[600];
      if (sscanf (line, "%31s %599s", key, val) == 2 && strcmp (key, which) == 0)
        {
          mu_strlcpy (out, val, cap);
          found = 0;
        }
    }
  fclose (f);
  return found;
}

/* What both children's command lines share. */
typedef struct musterd_argv {
  char exe[4200], eps[600], log[200];
  char *argv[24];
} musterd_argv_t;

/* Fill m with musterd's path and the options both children take; the
 * index of the next free argv slot (room for 8 more and the NULL). */
static int
musterd_argv (musterd_argv_t *m, const mu_run_ha_t *h,
              const mu_run_ha_opts_t *o, const char *level)
{
  musterd_path (m->exe, sizeof m->exe);
  snprintf (m->eps, sizeof m->eps, "%s/endpoints", h->dir);
  snprintf (m->log, sizeof m->log, "%s", o->log_level ? o->log_level : level);
  int k = 0;
  m->argv[k++] = m->exe;
  m->argv[k++] = (char *)"--state-dir";
  m->argv[k++] = (char *)h->dir;
  m->argv[k++] = (char *)"--agent-bind";
  m->argv[k++] = (char *)o->agent_bind;
  m->argv[k++] = (char *)"--ctl-bind";
  m->argv[k++] = (char *)"none";
  m->argv[k++] = (char *)"--endpoints-file";
  m->argv[k++] = m->eps;
  m->argv[k++] = (char *)"--log-level";
  m->argv[k++] = m->log;
  if (o->secret == NULL)
    m->argv[k++] = (char *)"--insecure";
  return k;
}

/* Is the TCP port of `ep` ("tcp://ADDR:PORT") free here?  -EADDRINUSE
 * when another node of the job (on this machine) already serves it. */
static int
port_free (const char *ep)
{
  mu_endpoint_t e;
  char why[300];
  if (mu_endpoint_parse (ep, 0, &e, why, sizeof why) != 0)
    return 0; /* musterd will say what is wrong */
  struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                            .ai_socktype = SOCK_STREAM };
  struct addrinfo *ai = NULL;
  if (getaddrinfo (e.host, e.port, &hints, &ai) != 0 || ai == NULL)
    return 0;
  int rc = 0;
  int fd = socket (ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0)
    {
      int one = 1;
      setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind (fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno == EADDRINUSE)
        rc = -EADDRINUSE;
      close (fd);
    }
  freeaddrinfo (ai);
  return rc;
}

int
mu_run_ha_primary (mu_run_ha_t *h, const mu_run_ha_opts_t *o, char *err,
                   size_t errlen)
{
  if (port_free (o->agent_bind) == -EADDRINUSE)
    return -EADDRINUSE;
  int rc = make_dir (h, o, "primary", err, errlen);
  if (rc != 0)
    return rc;
  musterd_argv_t m;
  /* As quiet as the embedded coordinator: the launcher reports. */
  int k = musterd_argv (&m, h, o, "err");
  m.argv[k++] = (char *)"--standby-bind";
  m.argv[k++] = (char *)o->stream_bind;
  if (o->ctl_socket != NULL)
    {
      m.argv[k++] = (char *)"--ctl-socket";
      m.argv[k++] = (char *)o->ctl_socket;
    }
  m.argv[k] = NULL;
  const char *eps = m.eps;
  const char *exe = m.exe;
  /* Its stderr goes to a file, shown when the launcher ends (run_ha.h):
   * a start that loses the race for the port to another node of the job
   * is not worth a word; with --log-level the user asked to see it. */
  if (o->log_level == NULL)
    snprintf (h->err_path, sizeof h->err_path, "%s/musterd.err", h->dir);
  rc = spawn (h, m.argv, h->err_path[0] ? h->err_path : NULL, err, errlen);
  if (rc != 0)
    return rc;
  for (int waited = 0; waited < SERVE_WAIT_MS; waited += 10)
    {
      if (read_ep (eps, "agent", h->agent_ep, sizeof h->agent_ep) == 0)
        return 0;
      int st;
      pid_t w = waitpid (h->pid, &st, WNOHANG);
      if (w == h->pid)
        {
          h->pid = 0;
          /* Another node of the job bound the port first. */
          if (WIFEXITED (st) && WEXITSTATUS (st) == 1 && h->err_path[0]
              && file_says (h->err_path, "Address already in use"))
            {
              h->err_path[0] = '\0';
              return -EADDRINUSE;
            }
          snprintf (err, errlen, "the job's musterd (%s) exited at start "
                    "(status %d)", exe, WIFEXITED (st) ? WEXITSTATUS (st) : -1);
          return MUSTER_EINTERNAL;
        }
      sleep_ms (10);
    }
  snprintf (err, errlen, "the job's musterd did not serve within %d s",
            SERVE_WAIT_MS / 1000);
  return MUSTER_ETIMEDOUT;
}

int
mu_run_ha_claim_standby (mu_run_ha_t *h, const char *hostport, char *err,
                         size_t errlen)
{
  mu_endpoint_t ep;
  mu_bind_scope_t scope;
  char bind[300], why[600];
  if (mu_endpoint_parse (hostport, 0, &ep, why, sizeof why) != 0)
    {
      snprintf (err, errlen, "--standby %s", why);
      return MUSTER_EINVAL;
    }
  if (mu_netaddr_bind (&ep, bind, sizeof bind, &scope, why, sizeof why) != 0)
    return 0; /* not an address of this machine */
  /* Several nodes on one machine (tests, one big box): the first launcher
   * to lock the address runs the standby; it holds the lock to the end. */
  char base[256], path[700];
  if (mu_state_dir_default (base, sizeof base) != 0)
    return 0;
  snprintf (path, sizeof path, "%s/run", base);
  if (mu_mkdir_p (path, 0700) != 0)
    return 0;
  snprintf (path, sizeof path, "%s/run/standby-%s.lock", base, hostport);
  for (char *p = path + strlen (base) + 5; *p; p++)
    if (*p == '/' || *p == ':' || *p == '[' || *p == ']')
      *p = '_';
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return 0;
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      close (fd);
      return 0;
    }
  h->lock_fd = fd;
  mu_strlcpy (h->lock_path, path, sizeof h->lock_path);
  return 1;
}

int
mu_run_ha_standby (mu_run_ha_t *h, const mu_run_ha_opts_t *o, char *err,
                   size_t errlen)
{
  int rc = make_dir (h, o, "standby", err, errlen);
  if (rc != 0)
    return rc;
  musterd_argv_t m;
  int k = musterd_argv (&m, h, o, "warn");
  m.argv[k++] = (char *)"--standby-of";
  m.argv[k++] = (char *)o->standby_of;
  /* After a takeover the hosting node is gone for good (its launcher
   * was the one lost): the others come back within the agents' rotation
   * and the lease, so its ranks are declared lost after 5 s, not the
   * default 30 s of a restarted standalone musterd. */
  m.argv[k++] = (char *)"--restore-window";
  m.argv[k++] = (char *)"5s";
  m.argv[k] = NULL;
  return spawn (h, m.argv, NULL, err, errlen);
}

int
mu_run_ha_serving (mu_run_ha_t *h)
{
  char eps[600], ep[600];
  if (!mu_run_ha_running (h) || h->dir[0] == '\0')
    return 0;
  snprintf (eps, sizeof eps, "%s/endpoints", h->dir);
  return read_ep (eps, "agent", ep, sizeof ep) == 0;
}

int
mu_run_ha_linger (mu_run_ha_t *h, unsigned max_ms)
{
  if (h->pid <= 0 || h->dir[0] == '\0')
    return 0;
  char eps[600], ctl[600];
  snprintf (eps, sizeof eps, "%s/endpoints", h->dir);
  if (read_ep (eps, "ctl-local", ctl, sizeof ctl) != 0)
    return 0; /* a standby that never took over serves nobody */
  void *ctx = zmq_ctx_new ();
  void *s = ctx ? zmq_socket (ctx, ZMQ_DEALER) : NULL;
  int zero = 0;
  if (s == NULL || zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero) != 0
      || zmq_connect (s, ctl) != 0)
    {
      if (s)
        zmq_close (s);
      if (ctx)
        zmq_ctx_term (ctx);
      return 0;
    }
  int left = -1;
  for (unsigned waited = 0; waited < max_ms && mu_run_ha_running (h);
       waited += 50)
    {
      mu_msg_t m, rep;
      memset (&m, 0, sizeof m);
      m.type = MU_MSG_CTL_STATUS;
      char why[200];
      zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
      if (mu_wire_send (s, NULL, &m) == 0 && zmq_poll (&it, 1, 200) > 0
          && mu_wire_recv (s, NULL, &rep, why, sizeof why) == 0)
        {
          if (rep.type == MU_MSG_CTL_STATUS_REPLY)
            left = (int)rep.u.ctl_status_reply.nodes;
          mu_msg_clear (&rep);
        }
      if (left == 0)
        break;
      sleep_ms (50);
    }
  zmq_close (s);
  zmq_ctx_term (ctx);
  return left > 0 ? left : 0;
}

static int
rm_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  remove (path);
  return 0;
}

void
mu_run_ha_stop (mu_run_ha_t *h)
{
  if (h->pid > 0)
    {
      kill (h->pid, SIGTERM);
      for (int waited = 0; waited < 2000 && mu_run_ha_running (h); waited += 10)
        sleep_ms (10);
      if (h->pid > 0)
        {
          kill (h->pid, SIGKILL);
          waitpid (h->pid, NULL, 0);
          h->pid = 0;
        }
    }
  show_errors (h);
  if (h->dir[0] != '\0')
    {
      nftw (h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
      h->dir[0] = '\0';
    }
  if (h->lock_fd >= 0)
    {
      /* Unlinked while still held: a launcher that opened it meanwhile
       * fails its non-blocking lock and simply does not run a standby. */
      if (h->lock_path[0] != '\0')
        unlink (h->lock_path);
      close (h->lock_fd);
    }
  h->lock_fd = -1;
}
