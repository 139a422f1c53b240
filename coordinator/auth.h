/*
 * auth.h — who is talking to the coordinator, and what they may do.
 *
 * Every TCP port of musterd speaks ZeroMQ CURVE; the handshake proves that
 * the peer holds the secret half of a public key, and this module's ZAP
 * handler (libzmq's authentication protocol, served on the coordinator's
 * own libuv loop) decides whether that key may connect at all and tags
 * every message of the connection with a User-Id naming it.  A key the
 * handler does not know gets no connection: no reply, no state changed.
 *
 * The keys it knows are principals:
 *   - NODE: an agent's own key.  A cluster node (enrolled with musterd's
 *     join token, or listed in the authorized/ directory) may serve any
 *     job; a node enrolled with a job's token may only join that job.
 *   - ENROLL: the key inside a join token.  A connection made with it may
 *     send exactly one kind of message, auth.enroll, which authorizes the
 *     node's own key (the node then reconnects with it), so a token is
 *     exchanged for a key and node identities stay bound to keys.
 *   - USER: a control client over TCP, from a certificate in users/ with
 *     `user = "NAME"` (or `uid = "N"`) and optionally `admin = "true"`.
 * Local users reach the control socket (ipc, in the state directory) with
 * no key at all: the ZAP handler reads their uid and gid from the kernel
 * (SO_PEERCRED, which libzmq hands to ZAP as the peer address).
 *
 * Why libzmq's ZAP directly and not czmq's zauth: decisions need the
 * coordinator's live state (job tokens are made and dropped while it
 * runs), zauth runs its own thread with its own copy of the certificate
 * store (so every new token would travel through the filesystem), and
 * czmq's zsys layer installs signal handlers that would fight libuv's.
 * The key files keep czmq's format, so zcert tools read them.
 */
#ifndef MU_AUTH_H
#define MU_AUTH_H

#include <stdint.h>
#include <uv.h>

#include "common/keys.h"
#include "common/log.h"

typedef enum mu_prin_kind {
  MU_PRIN_NONE = 0,
  MU_PRIN_NODE,   /* an agent's own key */
  MU_PRIN_ENROLL, /* a join token's key: may only enrol a node key */
  MU_PRIN_USER    /* a control client (key or local uid) */
} mu_prin_kind_t;

typedef struct mu_principal {
  mu_prin_kind_t kind;
  const char *job; /* NODE/ENROLL: the only job it may join; NULL = any */
  uint32_t uid;    /* USER: who; NODE/ENROLL of a job: the job's owner */
  uint32_t gid;
  int admin;       /* USER: may see and act on every job */
  int local;       /* USER: came through the local socket */
  const char *pub; /* its key (Z85), "" for local users */
} mu_principal_t;

/* The sockets the coordinator secures. */
typedef enum mu_auth_port {
  MU_AUTH_AGENT_PORT, /* TCP, CURVE: NODE and ENROLL keys */
  MU_AUTH_CTL_PORT,   /* TCP, CURVE: USER keys */
  MU_AUTH_CTL_LOCAL,  /* ipc, no key: the peer's uid */
  MU_AUTH_STANDBY_PORT /* TCP, CURVE: the server's own key only (a standby
                          holding a copy of it, standby.h) */
} mu_auth_port_t;

typedef struct mu_auth mu_auth_t;

typedef struct mu_auth_opts {
  const char *state_dir; /* NULL: keys in memory only (embedded) */
  int insecure;          /* 1: no CURVE on TCP (benchmarks, old setups) */
  uint32_t self_uid;     /* the coordinator's uid: local admin besides root */
  const char *server_secret; /* no state dir: use this key pair (a job
                                secret's) instead of a fresh one */
  struct mu_conn_limit *conns; /* connections open (conn_limit.c): a
                                  handshake past its max is refused; NULL =
                                  no limit */
  mu_log_t *log;
} mu_auth_opts_t;

/* Allocate; with a state directory, load (or create on first start) the
 * server key (server.key), the cluster join token (join-token), the
 * enrolled nodes (authorized/) and control users (users/).  0 or a
 * negative code with `err` naming the file. */
int mu_auth_new (const mu_auth_opts_t *o, mu_auth_t **out, char *err,
                 size_t errlen);
/* Serve ZAP on `zctx` from `loop`; must run before any secured bind. */
int mu_auth_start (mu_auth_t *a, void *zctx, uv_loop_t *loop);
/* Make `sock` a CURVE server (or, for the local socket, a uid-checked
 * one) for `port`, before it binds.  0 or -errno. */
int mu_auth_secure (mu_auth_t *a, void *sock, mu_auth_port_t port);
void mu_auth_stop (mu_auth_t *a);
void mu_auth_destroy (mu_auth_t **a_p);

int mu_auth_insecure (const mu_auth_t *a);
/* The server's public key (Z85); "" when insecure. */
const char *mu_auth_server_public (const mu_auth_t *a);
/* Path of the cluster join token file, or NULL (no state directory). */
const char *mu_auth_cluster_token_path (const mu_auth_t *a);

/* zsrv: the one decision both the ZAP handler (control ports, libzmq's
 * agent port) and the native agent port (zmtp_server.c) ask: may a
 * handshake on `domain` ("muster-agent", "muster-ctl", "muster-standby",
 * "muster-local") with `mechanism` ("CURVE" with the client's long-term
 * key[32], or "NULL") from `address` proceed?  First the connection cap
 * (mu_conn_admit), then the key table.  0 with `user` (the route's User-Id,
 * "k:KEY", "u:UID:GID" or "" when insecure), or MUSTER_EQUOTA /
 * MUSTER_EAUTH with `reason` for the peer; a refusal is counted and logged
 * (AUTH-DENIED, rate-limited). */
int mu_auth_decide (mu_auth_t *a, const char *domain, const char *mechanism,
                    const unsigned char *key, const char *address, char *user,
                    size_t ulen, char *reason, size_t rlen);

/* Who sent a message, from the User-Id its connection was given (the
 * route's `user`).  0 with *out filled (valid until the next call that
 * changes the key table), or MUSTER_EAUTH.  Insecure: every peer is a
 * cluster node (agent port) or an admin (control port). */
int mu_auth_who (mu_auth_t *a, const char *user_id, mu_auth_port_t port,
                 mu_principal_t *out);

/* Authorize `pub` as an agent key: for one job (job != NULL, owned by
 * owner_uid) or for any job (a cluster node; persisted in authorized/
 * when there is a state directory).  0, MUSTER_EINVAL (not a key),
 * MUSTER_EQUOTA (too many keys) or -ENOMEM. */
int mu_auth_add_node (mu_auth_t *a, const char *pub, const char *job,
                      uint32_t owner_uid, uint32_t owner_gid,
                      const char *node_id);
/* A new join token for `job` (NULL: another cluster token, not saved),
 * written to `buf` (MU_TOKEN_LEN + 1).  Its key is an ENROLL principal
 * until mu_auth_forget_job.  0 or a negative code. */
int mu_auth_job_token (mu_auth_t *a, const char *job, uint32_t owner_uid,
                       uint32_t owner_gid, char *buf, size_t cap);
/* Accept an existing enrolment key (a job secret's) for `job`, owned by
 * owner_uid, as mu_auth_job_token does for a key it makes.  0 or a code. */
int mu_auth_add_enroll (mu_auth_t *a, const char *pub, const char *job,
                        uint32_t owner_uid, uint32_t owner_gid);
/* The job is gone: its token and the node keys enrolled with it stop
 * working. */
void mu_auth_forget_job (mu_auth_t *a, const char *job);

/* The secret key of the server, for an embedding process that must also
 * hand it to nothing else: used by tests.  NULL when insecure. */
const char *mu_auth_server_secret (const mu_auth_t *a);

#endif
