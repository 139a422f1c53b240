/*
 * keys.h — CURVE key material: key pairs, certificate files, join tokens.
 *
 * Every TCP port of muster speaks ZeroMQ CURVE, so every daemon, agent and
 * control client holds a key pair.  This module makes them, writes and
 * reads them as certificate files, and packs the one string a joining node
 * needs (a join token).  It uses libzmq's key functions only: czmq's zcert
 * would bring czmq's process-global zsys state into every program that
 * links common/, libmuster's callers included.
 *
 * Certificate files use czmq's ZPL layout, so zcert and zcertstore read
 * them: NAME holds the public key and metadata, NAME_secret holds both keys
 * and is written 0600 (whatever the umask) through a temporary file and a
 * rename, so a reader never sees half a key and nobody else ever sees the
 * secret.
 *
 * A join token is "mj1_" + 64 hex digits of the coordinator's public key +
 * 64 hex digits of an enrolment secret key: hex, so it survives a shell
 * and a YAML file unquoted.  Whoever holds it can reach the coordinator
 * (it names the server key) and prove the token (it holds the enrolment
 * key, whose public half the coordinator knows), nothing more: the node
 * then enrols a key of its own (see coordinator/auth.h).
 *
 * A job secret is "mjs1_" + the coordinator's *secret* key + the enrolment
 * secret key: what the nodes of one `muster run` job share when any of them
 * may host the coordinator (identical commands on every node, as torchrun
 * runs them).  It parses as a token too (the public key is derived), so a
 * joining node takes either; the node that hosts also takes the server
 * key from it.  It is the job's, like an SSH key of the user's: kept 0600.
 */
#ifndef MU_KEYS_H
#define MU_KEYS_H

#include <stddef.h>

#define MU_KEY_Z85_LEN 40      /* a CURVE key in Z85 */
#define MU_TOKEN_LEN (4 + 128) /* "mj1_" + two keys in hex */
#define MU_SECRET_LEN (5 + 128) /* "mjs1_" + two keys in hex */
#define MU_CERT_META_MAX 8

typedef struct mu_keypair {
  char pub[MU_KEY_Z85_LEN + 1];
  char sec[MU_KEY_Z85_LEN + 1]; /* "" when only the public key is known */
} mu_keypair_t;

typedef struct mu_cert {
  mu_keypair_t kp;
  size_t nmeta;
  char meta_key[MU_CERT_META_MAX][32];
  char meta_val[MU_CERT_META_MAX][128];
} mu_cert_t;

typedef struct mu_token {
  char server_pub[MU_KEY_Z85_LEN + 1]; /* the coordinator's public key */
  char server_sec[MU_KEY_Z85_LEN + 1]; /* a job secret's; "" in a token */
  mu_keypair_t enroll;                 /* the enrolment key pair */
} mu_token_t;

/* A fresh key pair.  0, or -ENOTSUP when libzmq lacks CURVE. */
int mu_keypair_new (mu_keypair_t *kp);
/* The public key of a Z85 secret key.  0 or MUSTER_EINVAL. */
int mu_key_public_of (const char *sec, char pub[MU_KEY_Z85_LEN + 1]);
/* 1 when s is a well-formed Z85 CURVE key (40 characters that decode). */
int mu_key_valid (const char *s);
/* The 32 raw bytes of a Z85 key, and back. */
int mu_key_decode (const char *z85, unsigned char raw[32]);
void mu_key_encode (const unsigned char raw[32],
                    char z85[MU_KEY_Z85_LEN + 1]);

/* Write cert->kp.pub and its metadata to `path` (mode 0644) and, when
 * cert->kp.sec is set, both keys to `path`_secret (mode 0600).  Each file
 * is written whole or not at all.  0 or a negative errno. */
int mu_cert_save (const char *path, const mu_cert_t *cert);
/* Read a certificate: `path` itself may be a public or a secret file; with
 * want_secret the secret key must be found (in `path`, or in `path`_secret).
 * 0, -ENOENT, or MUSTER_EINVAL with `err` naming the problem. */
int mu_cert_load (const char *path, int want_secret, mu_cert_t *out,
                  char *err, size_t errlen);
/* A metadata value of cert, or NULL. */
const char *mu_cert_meta (const mu_cert_t *cert, const char *key);
/* Add (or replace) a metadata value.  0 or MUSTER_ETOOBIG. */
int mu_cert_set_meta (mu_cert_t *cert, const char *key, const char *val);
/* Load `path`_secret (or `path`) when it exists, else make a key pair and
 * save it there.  *created says which.  0 or a negative code. */
int mu_cert_load_or_create (const char *path, mu_cert_t *out, int *created,
                            char *err, size_t errlen);

/* A new token for the coordinator whose public key is server_pub. */
int mu_token_new (const char *server_pub, mu_token_t *out);
/* A new job secret: a server key pair and an enrolment key pair. */
int mu_job_secret_new (mu_token_t *out);
/* Create `path` (0600) holding a new job secret unless it exists, in
 * which case read it (a join token there is MUSTER_EINVAL: a host needs
 * the secret).  Race-free between processes (link(2) of a complete
 * file).  *created says which.  0 or a negative code with `err`. */
int mu_job_secret_load_or_create (const char *path, mu_token_t *out,
                                  int *created, char *err, size_t errlen);
/* Token <-> string (buf of at least MU_SECRET_LEN + 1); a token with a
 * server secret formats as a job secret.  Parsing takes both forms. */
void mu_token_format (const mu_token_t *t, char *buf, size_t cap);
int mu_token_parse (const char *s, mu_token_t *out, char *err, size_t errlen);
/* Read a token from a file (first line; surrounding blanks ignored). */
int mu_token_load (const char *path, mu_token_t *out, char *err,
                   size_t errlen);
/* Write a token to a file, mode 0600, whole or not at all. */
int mu_token_save (const char *path, const mu_token_t *t);

/* Write `len` bytes to `path` with `mode` through `path`.tmp + rename
 * (the file never exists with wider permissions).  0 or -errno. */
int mu_write_file_atomic (const char *path, const void *data, size_t len,
                          unsigned mode);

#endif
