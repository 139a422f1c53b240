/*
 * auth.c — the coordinator's key table, its state directory, and the ZAP
 * handler that admits connections.
 *
 * The table maps a Z85 public key to a principal (auth.h).  The ZAP
 * handler answers every handshake from the table on the coordinator's
 * loop: a known key of the right kind for the port gets "200" and the
 * User-Id "k:KEY"; a local (ipc) peer gets "u:UID:GID" from the address
 * libzmq fills in from SO_PEERCRED; anything else gets "400" and its
 * connection is closed before a single message is read.  Decisions are
 * O(1) (a hash lookup), so a flood of handshakes costs little.
 *
 * State directory layout (created 0711, so local users reach ctl.sock;
 * every secret in it is 0600):
 *   server.key, server.key_secret  the coordinator's key pair
 *   join-token                     the cluster join token (0600)
 *   authorized/                    public certificates of enrolled nodes
 *   users/                         public certificates of control users
 */
#include "coordinator/auth.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/smap.h"
#include "common/util.h"
#include "common/zwatch.h"
#include "coordinator/conn_limit.h"

#define MAX_KEYS 1000000 /* bounds the table against enrolment floods */

typedef struct entry {
  mu_prin_kind_t kind;
  char *job;
  uint32_t uid, gid;
  int admin;
  char pub[MU_KEY_Z85_LEN + 1];
} entry_t;

struct mu_auth {
  mu_auth_opts_t o;
  mu_log_t *log;
  char *state_dir;
  char token_path[4096];
  mu_cert_t server;
  mu_smap_t *keys; /* Z85 -> entry_t* */
  void *zap;
  mu_zwatch_t *zap_watch;
  uint64_t denied;       /* handshakes refused */
  uint64_t denied_logged_ms;
  uint64_t denied_since_log;
};

static void
entry_free (entry_t *e)
{
  if (e == NULL)
    return;
  free (e->job);
  free (e);
}

static int
add_entry (mu_auth_t *a, const char *pub, mu_prin_kind_t kind,
           const char *job, uint32_t uid, uint32_t gid, int admin)
{
  if (!mu_key_valid (pub))
    return MUSTER_EINVAL;
  entry_t *old = mu_smap_get (a->keys, pub);
  if (old == NULL && mu_smap_size (a->keys) >= MAX_KEYS)
    return MUSTER_EQUOTA;
  entry_t *e = calloc (1, sizeof *e);
  if (e == NULL || (job != NULL && (e->job = strdup (job)) == NULL))
    {
      entry_free (e);
      return -ENOMEM;
    }
  e->kind = kind;
  e->uid = uid;
  e->gid = gid;
  e->admin = admin;
  memcpy (e->pub, pub, sizeof e->pub);
  void *prev = NULL;
  if (mu_smap_put (a->keys, e->pub, e, &prev) != 0)
    {
      entry_free (e);
      return -ENOMEM;
    }
  entry_free (prev);
  return 0;
}

/* ------------------------------------------------------ state directory */

static int
ensure_dir (const char *path, mode_t mode, char *err, size_t errlen)
{
  if (mkdir (path, mode) != 0 && errno != EEXIST)
    {
      int e = errno;
      snprintf (err, errlen, "cannot create %s: %s", path, strerror (e));
      return -e;
    }
  struct stat st;
  if (stat (path, &st) != 0 || !S_ISDIR (st.st_mode))
    {
      snprintf (err, errlen, "%s is not a directory", path);
      return -ENOTDIR;
    }
  if (st.st_uid != geteuid ())
    {
      snprintf (err, errlen, "%s belongs to uid %u, not to this musterd's "
                             "uid %u", path, (unsigned)st.st_uid,
                (unsigned)geteuid ());
      return MUSTER_EPERM;
    }
  /* Never wider than asked: a state directory made by hand with 0777
   * would let anyone swap the keys. */
  if ((st.st_mode & 07777) != mode && chmod (path, mode) != 0)
    {
      int e = errno;
      snprintf (err, errlen, "cannot chmod %s: %s", path, strerror (e));
      return -e;
    }
  return 0;
}

/* Load every certificate of dir as `kind` principals. */
static void
load_cert_dir (mu_auth_t *a, const char *dir, mu_prin_kind_t kind)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return;
  struct dirent *de;
  size_t loaded = 0;
  while ((de = readdir (d)) != NULL)
    {
      size_t l = strlen (de->d_name);
      if (de->d_name[0] == '.' || (l > 7 && strcmp (de->d_name + l - 7, "_secret") == 0)
          || (l > 4 && strcmp (de->d_name + l - 4, ".tmp") == 0))
        continue;
      char path[4096], err[512];
      if ((size_t)snprintf (path, sizeof path, "%s/%s", dir, de->d_name)
          >= sizeof path)
        continue;
      mu_cert_t cert;
      if (mu_cert_load (path, 0, &cert, err, sizeof err) != 0)
        {
          mu_log_warn (a->log, "CERT-SKIPPED", "%s", err);
          continue;
        }
      uint32_t uid = 0, gid = 0;
      int admin = 0;
      if (kind == MU_PRIN_USER)
        {
          const char *user = mu_cert_meta (&cert, "user");
          const char *suid = mu_cert_meta (&cert, "uid");
          const char *adm = mu_cert_meta (&cert, "admin");
          uint64_t v;
          struct passwd *pw = user ? getpwnam (user) : NULL;
          if (pw != NULL)
            {
              uid = pw->pw_uid;
              gid = pw->pw_gid;
            }
          else if (suid != NULL && mu_parse_u64 (suid, &v) == 0 && v < UINT32_MAX)
            {
              uid = (uint32_t)v;
              pw = getpwuid (uid);
              gid = pw ? pw->pw_gid : uid;
            }
          else
            {
              mu_log_warn (a->log, "CERT-SKIPPED",
                           "%s: names no known user (metadata user = \"NAME\" "
                           "or uid = \"N\")", path);
              continue;
            }
          admin = adm != NULL && (strcmp (adm, "true") == 0 || strcmp (adm, "yes") == 0
                                  || strcmp (adm, "1") == 0);
        }
      if (add_entry (a, cert.kp.pub, kind, NULL, uid, gid, admin) == 0)
        loaded++;
    }
  closedir (d);
  if (loaded > 0)
    mu_log_info (a->log, "KEYS-LOADED", "%zu %s from %s", loaded,
                 kind == MU_PRIN_USER ? "control users" : "node keys", dir);
}

static int
load_state (mu_auth_t *a, char *err, size_t errlen)
{
  char path[4096];
  int rc = ensure_dir (a->state_dir, 0711, err, errlen);
  if (rc != 0)
    return rc;
  snprintf (path, sizeof path, "%s/server.key", a->state_dir);
  int created = 0;
  rc = mu_cert_load_or_create (path, &a->server, &created, err, errlen);
  if (rc != 0)
    return rc;
  if (created)
    mu_log_notice (a->log, "KEY-CREATED", "server key %s", path);
  snprintf (a->token_path, sizeof a->token_path, "%s/join-token",
            a->state_dir);
  mu_token_t tok;
  if (access (a->token_path, F_OK) == 0)
    {
      rc = mu_token_load (a->token_path, &tok, err, errlen);
      if (rc == 0 && strcmp (tok.server_pub, a->server.kp.pub) != 0)
        {
          snprintf (err, errlen, "%s was made for another server key (%s was "
                    "replaced?): remove it to make a new one", a->token_path,
                    path);
          rc = MUSTER_EINVAL;
        }
    }
  else
    {
      rc = mu_token_new (a->server.kp.pub, &tok);
      if (rc == 0)
        rc = mu_token_save (a->token_path, &tok);
      if (rc == 0)
        mu_log_notice (a->log, "TOKEN-CREATED", "cluster join token %s",
                       a->token_path);
      else
        snprintf (err, errlen, "cannot write %s: %s", a->token_path,
                  muster_strerror (rc));
    }
  if (rc == 0)
    rc = add_entry (a, tok.enroll.pub, MU_PRIN_ENROLL, NULL, 0, 0, 0);
  memset (&tok, 0, sizeof tok);
  if (rc != 0)
    return rc;
  const char *subdirs[] = { "authorized", "users" };
  for (int i = 0; i < 2; i++)
    {
      snprintf (path, sizeof path, "%s/%s", a->state_dir, subdirs[i]);
      rc = ensure_dir (path, 0700, err, errlen);
      if (rc != 0)
        return rc;
      load_cert_dir (a, path, i == 0 ? MU_PRIN_NODE : MU_PRIN_USER);
    }
  return 0;
}

int
mu_auth_new (const mu_auth_opts_t *o, mu_auth_t **out, char *err,
             size_t errlen)
{
  mu_auth_t *a = calloc (1, sizeof *a);
  if (a == NULL)
    return -ENOMEM;
  a->o = *o;
  a->log = o->log;
  a->keys = mu_smap_new ();
  if (a->keys == NULL
      || (o->state_dir != NULL && (a->state_dir = strdup (o->state_dir)) == NULL))
    {
      mu_auth_destroy (&a);
      return -ENOMEM;
    }
  int rc = 0;
  if (!o->insecure)
    {
      if (a->state_dir != NULL)
        rc = load_state (a, err, errlen);
      else if (o->server_secret != NULL)
        {
          rc = mu_key_public_of (o->server_secret, a->server.kp.pub);
          if (rc == 0)
            mu_strlcpy (a->server.kp.sec, o->server_secret,
                        sizeof a->server.kp.sec);
          else
            snprintf (err, errlen, "the server key given is not a CURVE key");
        }
      else
        {
          rc = mu_keypair_new (&a->server.kp);
          if (rc != 0)
            snprintf (err, errlen, "cannot make a CURVE key pair: %s",
                      muster_strerror (rc));
        }
    }
  if (rc != 0)
    {
      mu_auth_destroy (&a);
      return rc;
    }
  *out = a;
  return 0;
}

/* ------------------------------------------------------------- ZAP */

static int
recv_frames (void *sock, zmq_msg_t *f, int max)
{
  int n = 0, more = 1;
  while (more)
    {
      zmq_msg_t m;
      zmq_msg_init (&m);
      if (zmq_msg_recv (&m, sock, ZMQ_DONTWAIT) < 0)
        {
          zmq_msg_close (&m);
          return n == 0 ? -1 : n;
        }
      more = zmq_msg_more (&m);
      if (n < max)
        f[n++] = m;
      else
        zmq_msg_close (&m);
    }
  return n;
}

static int
frame_is (zmq_msg_t *f, const char *s)
{
  size_t l = strlen (s);
  return zmq_msg_size (f) == l && memcmp (zmq_msg_data (f), s, l) == 0;
}

/* A reply the inproc ZAP socket cannot take (only while the context
 * terminates) leaves the handshake unanswered: libzmq drops that
 * connection and the handshake timeout (conn_limit.c) counts it, so no
 * peer waits forever; nothing else to do here. */
static void
zap_reply (void *sock, zmq_msg_t *reqid, const char *status,
           const char *text, const char *user)
{
  zmq_send (sock, "1.0", 3, ZMQ_SNDMORE);
  zmq_send (sock, zmq_msg_data (reqid), zmq_msg_size (reqid), ZMQ_SNDMORE);
  zmq_send (sock, status, strlen (status), ZMQ_SNDMORE);
  zmq_send (sock, text, strlen (text), ZMQ_SNDMORE);
  zmq_send (sock, user, strlen (user), ZMQ_SNDMORE);
  zmq_send (sock, "", 0, 0);
}

static void
note_denied (mu_auth_t *a, const char *domain, const char *why,
             const char *address)
{
  a->denied++;
  a->denied_since_log++;
  uint64_t now = mu_now_ms ();
  /* A flood of bad handshakes must not flood the log: one line a second. */
  if (now - a->denied_logged_ms >= 1000)
    {
      mu_log_warn (a->log, "AUTH-DENIED",
                   "%s: %s from %s (%llu refused in the last second)", domain,
                   why, address,
                   (unsigned long long)a->denied_since_log);
      a->denied_logged_ms = now;
      a->denied_since_log = 0;
    }
}

/* Decide one request: frames are version, request id, domain, address,
 * routing id, mechanism, credentials... */
int
mu_auth_decide (mu_auth_t *a, const char *domain, const char *mechanism,
                const unsigned char *key, const char *address, char *user,
                size_t ulen, char *reason, size_t rlen)
{
  user[0] = '\0';
  if (a->o.conns != NULL && mu_conn_admit (a->o.conns) != 0)
    {
      note_denied (a, domain, "connection limit reached", address);
      snprintf (reason, rlen, "connection limit");
      return MUSTER_EQUOTA;
    }
  if (strcmp (domain, "muster-local") == 0 && strcmp (mechanism, "NULL") == 0)
    {
      /* "localhost:UID:GID:PID", from SO_PEERCRED. */
      unsigned uid, gid, pid;
      if (sscanf (address, "localhost:%u:%u:%u", &uid, &gid, &pid) == 3)
        {
          snprintf (user, ulen, "u:%u:%u", uid, gid);
          return 0;
        }
      note_denied (a, domain, "no peer credentials", address);
      snprintf (reason, rlen, "no peer credentials");
      return MUSTER_EAUTH;
    }
  if (a->o.insecure && strcmp (mechanism, "NULL") == 0)
    return 0; /* --insecure: anyone, as no ZAP domain on the port means */
  if (strcmp (mechanism, "CURVE") != 0 || key == NULL)
    {
      note_denied (a, domain, "not a CURVE handshake", address);
      snprintf (reason, rlen, "CURVE required");
      return MUSTER_EAUTH;
    }
  char pub[MU_KEY_Z85_LEN + 1];
  mu_key_encode (key, pub);
  entry_t *e = mu_smap_get (a->keys, pub);
  int ok = 0;
  if (e != NULL && strcmp (domain, "muster-agent") == 0)
    ok = e->kind == MU_PRIN_NODE || e->kind == MU_PRIN_ENROLL;
  else if (e != NULL && strcmp (domain, "muster-ctl") == 0)
    ok = e->kind == MU_PRIN_USER;
  else if (strcmp (domain, "muster-standby") == 0)
    ok = strcmp (pub, a->server.kp.pub) == 0; /* holds the server's secret */
  if (!ok)
    {
      note_denied (a, domain, e || strcmp (domain, "muster-standby") == 0
                                  ? "key not valid on this port" : "unknown key",
                   address);
      snprintf (reason, rlen, "unknown key");
      return MUSTER_EAUTH;
    }
  snprintf (user, ulen, "k:%s", pub);
  return 0;
}

/* One ZAP request (RFC 27): frames version, request id, domain, address,
 * identity, mechanism, credentials; the answer is mu_auth_decide's. */
static void
zap_decide (mu_auth_t *a, void *sock, zmq_msg_t *f, int n)
{
  char domain[32] = "?", address[128] = "?", mech[16] = "?";
  if (n >= 6)
    {
      size_t l = zmq_msg_size (&f[2]) < sizeof domain - 1 ? zmq_msg_size (&f[2])
                                                          : sizeof domain - 1;
      memcpy (domain, zmq_msg_data (&f[2]), l);
      domain[l] = '\0';
      l = zmq_msg_size (&f[3]) < sizeof address - 1 ? zmq_msg_size (&f[3])
                                                    : sizeof address - 1;
      memcpy (address, zmq_msg_data (&f[3]), l);
      address[l] = '\0';
      l = zmq_msg_size (&f[5]) < sizeof mech - 1 ? zmq_msg_size (&f[5])
                                                 : sizeof mech - 1;
      memcpy (mech, zmq_msg_data (&f[5]), l);
      mech[l] = '\0';
    }
  if (n < 6 || !frame_is (&f[0], "1.0"))
    {
      if (n >= 2)
        zap_reply (sock, &f[1], "500", "malformed ZAP request", "");
      return;
    }
  const unsigned char *key = NULL;
  if (strcmp (mech, "CURVE") == 0 && n >= 7 && zmq_msg_size (&f[6]) == 32)
    key = zmq_msg_data (&f[6]);
  else if (strcmp (mech, "CURVE") == 0)
    mech[0] = '\0'; /* CURVE without a 32-byte key: not a CURVE handshake */
  char user[64], reason[64];
  /* The ZAP path never runs for --insecure ports: NULL there is refused
   * unless it is the local socket, as before. */
  if (a->o.insecure && strcmp (mech, "NULL") == 0
      && strcmp (domain, "muster-local") != 0)
    mech[0] = '\0';
  if (mu_auth_decide (a, domain, mech, key, address, user, sizeof user,
                      reason, sizeof reason)
      == 0)
    zap_reply (sock, &f[1], "200", "OK", user);
  else
    zap_reply (sock, &f[1], "400", reason, "");
}

static int
on_zap (void *sock, void *arg)
{
  mu_auth_t *a = arg;
  zmq_msg_t f[8];
  int n = recv_frames (sock, f, 8);
  if (n < 0)
    return -EAGAIN;
  zap_decide (a, sock, f, n);
  for (int i = 0; i < n; i++)
    zmq_msg_close (&f[i]);
  return 0;
}

int
mu_auth_start (mu_auth_t *a, void *zctx, uv_loop_t *loop)
{
  a->zap = zmq_socket (zctx, ZMQ_REP);
  if (a->zap == NULL)
    return -errno;
  int zero = 0;
  zmq_setsockopt (a->zap, ZMQ_LINGER, &zero, sizeof zero);
  if (zmq_bind (a->zap, "inproc://zeromq.zap.01") != 0)
    {
      int rc = -errno;
      zmq_close (a->zap);
      a->zap = NULL;
      return rc;
    }
  int rc = mu_zwatch_start (loop, a->zap, on_zap, a, &a->zap_watch);
  if (rc != 0)
    {
      zmq_close (a->zap);
      a->zap = NULL;
    }
  return rc;
}

int
mu_auth_secure (mu_auth_t *a, void *sock, mu_auth_port_t port)
{
  const char *domain = port == MU_AUTH_AGENT_PORT     ? "muster-agent"
                       : port == MU_AUTH_CTL_PORT     ? "muster-ctl"
                       : port == MU_AUTH_STANDBY_PORT ? "muster-standby"
                                                      : "muster-local";
  if (port != MU_AUTH_CTL_LOCAL && a->o.insecure)
    return 0;
  if (zmq_setsockopt (sock, ZMQ_ZAP_DOMAIN, domain, strlen (domain)) != 0)
    return -errno;
  if (port == MU_AUTH_CTL_LOCAL)
    return 0;
  int one = 1;
  if (zmq_setsockopt (sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0
      || zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, a->server.kp.sec,
                         MU_KEY_Z85_LEN) != 0)
    return -errno;
  return 0;
}

void
mu_auth_stop (mu_auth_t *a)
{
  if (a == NULL)
    return;
  mu_zwatch_stop (&a->zap_watch);
  if (a->zap != NULL)
    zmq_close (a->zap);
  a->zap = NULL;
}

void
mu_auth_destroy (mu_auth_t **a_p)
{
  if (a_p == NULL || *a_p == NULL)
    return;
  mu_auth_t *a = *a_p;
  mu_auth_stop (a);
  if (a->keys != NULL)
    {
      size_t pos = 0;
      void *v;
      while (mu_smap_next (a->keys, &pos, NULL, &v))
        entry_free (v);
      mu_smap_destroy (&a->keys);
    }
  free (a->state_dir);
  memset (&a->server, 0, sizeof a->server);
  free (a);
  *a_p = NULL;
}

/* ----------------------------------------------------------- queries */

int
mu_auth_insecure (const mu_auth_t *a)
{
  return a->o.insecure;
}

const char *
mu_auth_server_public (const mu_auth_t *a)
{
  return a->o.insecure ? "" : a->server.kp.pub;
}

const char *
mu_auth_cluster_token_path (const mu_auth_t *a)
{
  return a->token_path[0] ? a->token_path : NULL;
}

int
mu_auth_who (mu_auth_t *a, const char *user_id, mu_auth_port_t port,
             mu_principal_t *out)
{
  memset (out, 0, sizeof *out);
  out->pub = "";
  unsigned uid, gid;
  if (user_id != NULL && sscanf (user_id, "u:%u:%u", &uid, &gid) == 2)
    {
      out->kind = MU_PRIN_USER;
      out->uid = uid;
      out->gid = gid;
      out->local = 1;
      out->admin = uid == 0 || uid == a->o.self_uid;
      return 0;
    }
  if (user_id != NULL && strncmp (user_id, "k:", 2) == 0)
    {
      entry_t *e = mu_smap_get (a->keys, user_id + 2);
      if (e == NULL)
        return MUSTER_EAUTH; /* enrolled with a job token that is gone */
      out->kind = e->kind;
      out->job = e->job;
      out->uid = e->uid;
      out->gid = e->gid;
      out->admin = e->admin;
      out->pub = e->pub;
      return 0;
    }
  if (a->o.insecure && port != MU_AUTH_CTL_LOCAL)
    {
      /* No authentication: every peer is trusted, as before. */
      out->kind = port == MU_AUTH_AGENT_PORT ? MU_PRIN_NODE : MU_PRIN_USER;
      out->uid = a->o.self_uid;
      out->admin = 1;
      return 0;
    }
  return MUSTER_EAUTH;
}

static void
key_file_name (const char *pub, char *buf, size_t cap)
{
  /* Z85 holds '/', '.', '*'...: name the file by the key's hex instead. */
  unsigned char raw[32];
  mu_key_decode (pub, raw);
  size_t n = 0;
  for (int i = 0; i < 16 && n + 2 < cap; i++)
    n += (size_t)snprintf (buf + n, cap - n, "%02x", raw[i]);
}

int
mu_auth_add_node (mu_auth_t *a, const char *pub, const char *job,
                  uint32_t owner_uid, uint32_t owner_gid, const char *node_id)
{
  entry_t *old = mu_smap_get (a->keys, pub);
  if (old != NULL && old->kind == MU_PRIN_NODE
      && (old->job == NULL || (job != NULL && strcmp (old->job, job) == 0)))
    return 0; /* already as good or better */
  if (old != NULL && old->kind != MU_PRIN_NODE)
    return MUSTER_EINVAL; /* a token's or a user's key is not a node's */
  int rc = add_entry (a, pub, MU_PRIN_NODE, job, owner_uid, owner_gid, 0);
  if (rc != 0 || job != NULL || a->state_dir == NULL)
    return rc;
  /* A cluster node's key survives a restart of musterd. */
  mu_cert_t cert;
  memset (&cert, 0, sizeof cert);
  memcpy (cert.kp.pub, pub, MU_KEY_Z85_LEN + 1);
  if (node_id != NULL)
    mu_cert_set_meta (&cert, "node-id", node_id);
  char name[40], path[4096];
  key_file_name (pub, name, sizeof name);
  snprintf (path, sizeof path, "%s/authorized/%s", a->state_dir, name);
  int src = mu_cert_save (path, &cert);
  if (src != 0)
    mu_log_warn (a->log, "KEY-NOT-SAVED",
                 "node key of %s stays authorized until musterd restarts: %s: %s",
                 node_id ? node_id : "?", path, muster_strerror (src));
  return 0;
}

int
mu_auth_job_token (mu_auth_t *a, const char *job, uint32_t owner_uid,
                   uint32_t owner_gid, char *buf, size_t cap)
{
  if (a->o.insecure)
    return MUSTER_EINVAL;
  mu_token_t t;
  int rc = mu_token_new (a->server.kp.pub, &t);
  if (rc == 0)
    rc = add_entry (a, t.enroll.pub, MU_PRIN_ENROLL, job, owner_uid,
                    owner_gid, 0);
  if (rc == 0)
    mu_token_format (&t, buf, cap);
  memset (&t, 0, sizeof t);
  return rc;
}

int
mu_auth_add_enroll (mu_auth_t *a, const char *pub, const char *job,
                    uint32_t owner_uid, uint32_t owner_gid)
{
  if (a->o.insecure)
    return MUSTER_EINVAL;
  return add_entry (a, pub, MU_PRIN_ENROLL, job, owner_uid, owner_gid, 0);
}

void
mu_auth_forget_job (mu_auth_t *a, const char *job)
{
  if (a == NULL || job == NULL)
    return;
  /* O(keys); runs once per finished job. */
  char **dead = NULL;
  size_t ndead = 0, cap = 0;
  size_t pos = 0;
  const char *k;
  void *v;
  while (mu_smap_next (a->keys, &pos, &k, &v))
    {
      entry_t *e = v;
      if (e->job == NULL || strcmp (e->job, job) != 0)
        continue;
      if (ndead == cap)
        {
          size_t ncap = cap ? cap * 2 : 8;
          char **nd = realloc (dead, ncap * sizeof *nd);
          if (nd == NULL)
            break;
          dead = nd;
          cap = ncap;
        }
      dead[ndead++] = e->pub;
    }
  for (size_t i = 0; i < ndead; i++)
    entry_free (mu_smap_del (a->keys, dead[i]));
  free (dead);
}

const char *
mu_auth_server_secret (const mu_auth_t *a)
{
  return a->o.insecure ? NULL : a->server.kp.sec;
}
