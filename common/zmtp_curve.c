/*
 * zmtp_curve.c — CurveZMQ server handshake and MESSAGE boxes (see
 * zmtp_curve.h), with libsodium as libzmq 4.3.4 uses it.  Byte offsets
 * follow RFC 26 and libzmq's curve_server.cpp, so real libzmq clients
 * interoperate (zmtp_server_test.c connects them).
 */
#include "common/zmtp_curve.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include <muster/error.h>

#include "common/zmtp_wire.h"

int
mu_zcurve_init (mu_zcurve_t *z)
{
  memset (z, 0, sizeof *z);
  if (sodium_init () < 0)
    return -EIO;
  z->state = MU_ZCURVE_EXPECT_HELLO;
  z->nonce = 1;
  z->peer_nonce = 1;
  return 0;
}

void
mu_zcurve_clear (mu_zcurve_t *z)
{
  sodium_memzero (z, sizeof *z);
}

static int
fail (mu_zcurve_t *z, int rc)
{
  z->state = MU_ZCURVE_FAILED;
  sodium_memzero (z->cn_secret, sizeof z->cn_secret);
  sodium_memzero (z->cookie_key, sizeof z->cookie_key);
  return rc;
}

int
mu_zcurve_hello (mu_zcurve_t *z, const unsigned char server_secret[32],
                 const unsigned char *body, size_t len,
                 unsigned char welcome[MU_ZCURVE_WELCOME_LEN])
{
  if (z->state != MU_ZCURVE_EXPECT_HELLO || len != 200
      || memcmp (body, "\x05HELLO", 6) != 0 || body[6] != 1 || body[7] != 0)
    return fail (z, MUSTER_EPROTO);
  memcpy (z->cn_client, body + 80, 32);
  unsigned char nonce[24];
  memcpy (nonce, "CurveZMQHELLO---", 16);
  memcpy (nonce + 16, body + 112, 8);
  unsigned char zeros[64];
  if (crypto_box_open_easy (zeros, body + 120, 80, nonce, z->cn_client,
                            server_secret) != 0)
    return fail (z, MUSTER_EAUTH);
  z->peer_nonce = mu_zmtp_get_u64 (body + 112);

  /* s', S', the cookie key t, and cookie = secretbox[C' + s'](t). */
  unsigned char cn_public[32];
  crypto_box_keypair (cn_public, z->cn_secret);
  randombytes_buf (z->cookie_key, sizeof z->cookie_key);
  unsigned char cookie_nonce[24], plain[64];
  memcpy (cookie_nonce, "COOKIE--", 8);
  randombytes_buf (cookie_nonce + 8, 16);
  memcpy (plain, z->cn_client, 32);
  memcpy (plain + 32, z->cn_secret, 32);
  unsigned char wplain[128]; /* S' + cookie nonce + cookie box */
  memcpy (wplain, cn_public, 32);
  memcpy (wplain + 32, cookie_nonce + 8, 16);
  crypto_secretbox_easy (wplain + 48, plain, 64, cookie_nonce, z->cookie_key);
  sodium_memzero (plain, sizeof plain);

  unsigned char wnonce[24];
  memcpy (wnonce, "WELCOME-", 8);
  randombytes_buf (wnonce + 8, 16);
  memcpy (welcome, "\x07WELCOME", 8);
  memcpy (welcome + 8, wnonce + 8, 16);
  if (crypto_box_easy (welcome + 24, wplain, 128, wnonce, z->cn_client,
                       server_secret) != 0)
    return fail (z, MUSTER_EPROTO);
  sodium_memzero (wplain, sizeof wplain);
  z->state = MU_ZCURVE_EXPECT_INITIATE;
  return 0;
}

int
mu_zcurve_initiate (mu_zcurve_t *z, const unsigned char server_public[32],
                    unsigned char *body, size_t len,
                    const unsigned char **meta, size_t *meta_len)
{
  if (z->state != MU_ZCURVE_EXPECT_INITIATE || len < 257
      || memcmp (body, "\x08INITIATE", 9) != 0)
    return fail (z, MUSTER_EPROTO);
  /* The cookie: ours, for this C' and s'. */
  unsigned char cnonce[24], cplain[64];
  memcpy (cnonce, "COOKIE--", 8);
  memcpy (cnonce + 8, body + 9, 16);
  if (crypto_secretbox_open_easy (cplain, body + 25, 80, cnonce,
                                  z->cookie_key) != 0
      || sodium_memcmp (cplain, z->cn_client, 32) != 0
      || sodium_memcmp (cplain + 32, z->cn_secret, 32) != 0)
    {
      sodium_memzero (cplain, sizeof cplain);
      return fail (z, MUSTER_EAUTH);
    }
  sodium_memzero (cplain, sizeof cplain);
  uint64_t n = mu_zmtp_get_u64 (body + 105);
  if (n <= z->peer_nonce)
    return fail (z, MUSTER_EPROTO);
  unsigned char inonce[24];
  memcpy (inonce, "CurveZMQINITIATE", 16);
  memcpy (inonce + 16, body + 105, 8);
  /* box[C + vouch nonce + vouch + metadata](C'->S'), opened in place. */
  unsigned char *plain = body + 113 + crypto_box_MACBYTES;
  size_t clen = len - 113;
  if (crypto_box_open_easy (plain, body + 113, clen, inonce, z->cn_client,
                            z->cn_secret) != 0)
    return fail (z, MUSTER_EAUTH);
  z->peer_nonce = n;
  size_t plen = clen - crypto_box_MACBYTES; /* >= 128 since len >= 257 */
  unsigned char vnonce[24], vplain[64];
  memcpy (vnonce, "VOUCH---", 8);
  memcpy (vnonce + 8, plain + 32, 16);
  if (crypto_box_open_easy (vplain, plain + 48, 80, vnonce, plain,
                            z->cn_secret) != 0
      || sodium_memcmp (vplain, z->cn_client, 32) != 0
      || sodium_memcmp (vplain + 32, server_public, 32) != 0)
    return fail (z, MUSTER_EAUTH);
  memcpy (z->client_key, plain, 32);
  if (crypto_box_beforenm (z->precom, z->cn_client, z->cn_secret) != 0)
    return fail (z, MUSTER_EAUTH);
  sodium_memzero (z->cn_secret, sizeof z->cn_secret);
  sodium_memzero (z->cookie_key, sizeof z->cookie_key);
  *meta = plain + 128;
  *meta_len = plen - 128;
  z->state = MU_ZCURVE_READY;
  return 0;
}

int
mu_zcurve_ready (mu_zcurve_t *z, const unsigned char *meta, size_t mlen,
                 unsigned char *out, size_t cap)
{
  if (cap < 14 + crypto_box_MACBYTES + mlen)
    return -ENOSPC;
  unsigned char nonce[24];
  memcpy (nonce, "CurveZMQREADY---", 16);
  mu_zmtp_put_u64 (nonce + 16, z->nonce);
  memcpy (out, "\x05READY", 6);
  memcpy (out + 6, nonce + 16, 8);
  crypto_box_easy_afternm (out + 14, meta, mlen, nonce, z->precom);
  z->nonce++;
  return (int)(14 + crypto_box_MACBYTES + mlen);
}

int64_t
mu_zcurve_encode (mu_zcurve_t *z, int flags, const void *payload, size_t len,
                  unsigned char *out, size_t cap)
{
  if (cap < MU_ZCURVE_MSG_OVERHEAD + len)
    return -ENOSPC;
  unsigned char nonce[24];
  memcpy (nonce, "CurveZMQMESSAGES", 16);
  mu_zmtp_put_u64 (nonce + 16, z->nonce++);
  memcpy (out, "\x07MESSAGE", 8);
  memcpy (out + 8, nonce + 16, 8);
  /* The plaintext (flags + payload) is built where the box goes: the
   * easy API boxes in place. */
  unsigned char *m = out + 16 + crypto_box_MACBYTES;
  m[0] = (unsigned char)(flags & 3);
  if (len > 0)
    memmove (m + 1, payload, len);
  crypto_box_easy_afternm (out + 16, m, len + 1, nonce, z->precom);
  return (int64_t)(MU_ZCURVE_MSG_OVERHEAD + len);
}

int
mu_zcurve_decode (mu_zcurve_t *z, unsigned char *body, size_t len,
                  int *flags, unsigned char **payload, size_t *plen)
{
  if (z->state != MU_ZCURVE_READY || len < MU_ZCURVE_MSG_OVERHEAD
      || memcmp (body, "\x07MESSAGE", 8) != 0)
    return MUSTER_EPROTO;
  uint64_t n = mu_zmtp_get_u64 (body + 8);
  if (n <= z->peer_nonce)
    return MUSTER_EPROTO;
  unsigned char nonce[24];
  memcpy (nonce, "CurveZMQMESSAGEC", 16);
  memcpy (nonce + 16, body + 8, 8);
  unsigned char *m = body + 16 + crypto_box_MACBYTES;
  if (crypto_box_open_easy_afternm (m, body + 16, len - 16, nonce, z->precom)
      != 0)
    return MUSTER_EAUTH;
  z->peer_nonce = n;
  *flags = m[0] & 3;
  *payload = m + 1;
  *plen = len - MU_ZCURVE_MSG_OVERHEAD;
  return 0;
}
