/*
 * zmtp_curve.h — the server side of CurveZMQ (RFC 26) over byte buffers.
 *
 * The native agent port (zmtp_server.c) speaks CURVE itself, with the same
 * primitives libzmq 4.3.4 uses (libsodium's crypto_box, Curve25519 +
 * XSalsa20-Poly1305) and the same keys (the server's long-term pair from
 * server.key, agents' keys from authorized/ and join tokens).  This file
 * is the handshake and the MESSAGE box as a small machine with no I/O:
 *
 *   HELLO    (C', box[64 zeros](C'->S), nonce "CurveZMQHELLO---" + 8)
 *            -> WELCOME (box[S' + cookie](S->C'), nonce "WELCOME-" + 16;
 *               cookie = secretbox[C' + s'](t), nonce "COOKIE--" + 16)
 *   INITIATE (cookie, box[C + vouch + metadata](C'->S'), "CurveZMQINITIATE";
 *               vouch = box[C' + S](C->S'), nonce "VOUCH---" + 16)
 *            checks: the cookie opens with t and holds this C' and s'; the
 *            box opens; the vouch opens with the long-term key C the box
 *            names and holds C' and our S.  Then the caller asks who C is.
 *   READY    (box[metadata](S'->C'), "CurveZMQREADY---" + short nonce)
 *   MESSAGE  box[flags + payload](S'<->C'), "CurveZMQMESSAGES"/"...C" +
 *            8-byte nonce; a peer's nonces must increase strictly (a
 *            replayed or reordered message closes the connection).
 *
 * Nonces are big-endian as libzmq 4.3.4 writes them.  The box key of the
 * short-term pair is precomputed once (crypto_box_beforenm); the cookie
 * key and s' are wiped as soon as INITIATE is checked.
 */
#ifndef MU_ZMTP_CURVE_H
#define MU_ZMTP_CURVE_H

#include <stddef.h>
#include <stdint.h>

#define MU_ZCURVE_WELCOME_LEN 168 /* command body */
#define MU_ZCURVE_MSG_OVERHEAD 33 /* "\x07MESSAGE" + nonce + MAC + flags */

typedef enum mu_zcurve_state {
  MU_ZCURVE_EXPECT_HELLO = 0,
  MU_ZCURVE_EXPECT_INITIATE,
  MU_ZCURVE_READY,
  MU_ZCURVE_FAILED
} mu_zcurve_state_t;

typedef struct mu_zcurve {
  uint8_t state;
  unsigned char cn_client[32]; /* C' */
  unsigned char cn_secret[32]; /* s' (wiped after INITIATE) */
  unsigned char cookie_key[32]; /* t (wiped after INITIATE) */
  unsigned char precom[32];    /* beforenm(C', s') */
  unsigned char client_key[32]; /* C, once INITIATE vouched for it */
  uint64_t nonce;      /* our next short nonce */
  uint64_t peer_nonce; /* the peer's last short nonce */
} mu_zcurve_t;

/* Start a handshake. 0, or -EIO if libsodium cannot initialise. */
int mu_zcurve_init (mu_zcurve_t *z);

/* A HELLO command body (name included, 200 bytes).  0 with the WELCOME
 * command body in welcome[MU_ZCURVE_WELCOME_LEN], or MUSTER_EPROTO (wrong
 * size, version or state) / MUSTER_EAUTH (the box does not open: the
 * client used another server key). */
int mu_zcurve_hello (mu_zcurve_t *z, const unsigned char server_secret[32],
                     const unsigned char *body, size_t len,
                     unsigned char welcome[MU_ZCURVE_WELCOME_LEN]);

/* An INITIATE command body (opened in place).  0 with z->client_key set
 * and meta and meta_len the client's metadata (inside body), or
 * MUSTER_EPROTO / MUSTER_EAUTH. */
int mu_zcurve_initiate (mu_zcurve_t *z, const unsigned char server_public[32],
                        unsigned char *body, size_t len,
                        const unsigned char **meta, size_t *meta_len);

/* The READY command body for `meta` into out[cap]; its length, or
 * -ENOSPC. */
int mu_zcurve_ready (mu_zcurve_t *z, const unsigned char *meta, size_t mlen,
                     unsigned char *out, size_t cap);

/* Box one frame: a MESSAGE command body (MU_ZCURVE_MSG_OVERHEAD + len
 * bytes) into out[cap]; flags: 1 = MORE, 2 = COMMAND (as libzmq boxes
 * them).  Its length or -ENOSPC. */
int64_t mu_zcurve_encode (mu_zcurve_t *z, int flags, const void *payload,
                          size_t len, unsigned char *out, size_t cap);

/* Open one MESSAGE command body in place: 0 with *flags, *payload (inside
 * body) and plen; MUSTER_EPROTO (not a MESSAGE, too short, a nonce not
 * above the last) or MUSTER_EAUTH (the box does not open). */
int mu_zcurve_decode (mu_zcurve_t *z, unsigned char *body, size_t len,
                      int *flags, unsigned char **payload, size_t *plen);

/* Wipe the keys. */
void mu_zcurve_clear (mu_zcurve_t *z);

#endif
