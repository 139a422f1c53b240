/*
 * zmtp_wire_test.c — ZMTP framing and the CurveZMQ server machine as pure
 * functions: greeting, frame header, command and metadata round trips and
 * every malformed case the parsers must refuse; and a CURVE handshake
 * driven by a client written here from RFC 26 with libsodium (so a wrong
 * server key, a forged vouch, a replayed or reordered MESSAGE nonce and a
 * tampered box are each refused; zmtp_server_test.c covers real libzmq
 * clients).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include <muster/error.h>

#include "common/zmtp_curve.h"
#include "common/zmtp_wire.h"

static void
test_greeting (void **state)
{
  (void)state;
  unsigned char g[64];
  char err[160];
  mu_zmtp_greeting (g, "CURVE", 1);
  assert_int_equal (g[0], 0xff);
  assert_int_equal (g[9], 0x7f);
  assert_int_equal (g[10], 3);
  assert_int_equal (g[32], 1);
  assert_int_equal (mu_zmtp_greeting_check (g, 64, "CURVE", err, sizeof err), 0);
  assert_int_equal (mu_zmtp_greeting_check (g, 64, "NULL", err, sizeof err),
                    MUSTER_EPROTO);
  assert_non_null (strstr (err, "CURVE"));
  assert_int_equal (mu_zmtp_greeting_check (g, 63, "CURVE", err, sizeof err),
                    MUSTER_EPROTO);
  unsigned char bad[64];
  memcpy (bad, g, 64);
  bad[10] = 2; /* ZMTP 2.0 */
  assert_int_equal (mu_zmtp_greeting_check (bad, 64, "CURVE", err, sizeof err),
                    MUSTER_EPROTO);
  assert_non_null (strstr (err, "version"));
  memcpy (bad, g, 64);
  bad[0] = 'G'; /* "GET / HTTP..." */
  assert_int_equal (mu_zmtp_greeting_check (bad, 64, "CURVE", err, sizeof err),
                    MUSTER_EPROTO);
  memcpy (bad, g, 64);
  memcpy (bad + 12, "PLAIN\x01\x02", 7); /* unprintable bytes: not logged raw */
  assert_int_equal (mu_zmtp_greeting_check (bad, 64, "CURVE", err, sizeof err),
                    MUSTER_EPROTO);
  assert_null (strchr (err, '\x01'));
}

static void
test_frames (void **state)
{
  (void)state;
  unsigned char h[9];
  size_t hl;
  uint64_t bl;
  int fl;
  /* short */
  assert_int_equal (mu_zmtp_frame_header (h, MU_ZMTP_FLAG_MORE, 5), 2);
  assert_int_equal (mu_zmtp_frame_need (h, 0, 100, &hl, &bl, &fl), 2);
  assert_int_equal (mu_zmtp_frame_need (h, 1, 100, &hl, &bl, &fl), 2);
  assert_int_equal (mu_zmtp_frame_need (h, 2, 100, &hl, &bl, &fl), 7);
  assert_int_equal (hl, 2);
  assert_int_equal (bl, 5);
  assert_int_equal (fl, MU_ZMTP_FLAG_MORE);
  /* long */
  assert_int_equal (mu_zmtp_frame_header (h, 0, 70000), 9);
  assert_int_equal (mu_zmtp_frame_need (h, 3, 1 << 20, &hl, &bl, &fl), 9);
  assert_int_equal (mu_zmtp_frame_need (h, 9, 1 << 20, &hl, &bl, &fl), 70009);
  assert_int_equal (bl, 70000);
  /* above the bound */
  assert_int_equal (mu_zmtp_frame_need (h, 9, 69999, &hl, &bl, &fl),
                    MUSTER_ETOOBIG);
  /* a 2^64-1 size is refused, not wrapped */
  memset (h + 1, 0xff, 8);
  assert_int_equal (mu_zmtp_frame_need (h, 9, UINT64_MAX - 100, &hl, &bl, &fl),
                    MUSTER_ETOOBIG);
  /* reserved flag bits; a command with MORE */
  unsigned char r[2] = { 0x08, 0 };
  assert_int_equal (mu_zmtp_frame_need (r, 2, 100, &hl, &bl, &fl),
                    MUSTER_EPROTO);
  r[0] = MU_ZMTP_FLAG_COMMAND | MU_ZMTP_FLAG_MORE;
  assert_int_equal (mu_zmtp_frame_need (r, 2, 100, &hl, &bl, &fl),
                    MUSTER_EPROTO);
}

static void
test_commands_and_metadata (void **state)
{
  (void)state;
  unsigned char meta[128];
  size_t pos = 0;
  assert_int_equal (mu_zmtp_meta_put (meta, sizeof meta, &pos, "Socket-Type",
                                      "DEALER", 6), 0);
  assert_int_equal (mu_zmtp_meta_put (meta, sizeof meta, &pos, "Identity",
                                      "", 0), 0);
  assert_int_equal (mu_zmtp_meta_put (meta, 10, &pos, "X", "y", 1), -ENOSPC);
  unsigned char f[256];
  int n = mu_zmtp_command_frame (f, sizeof f, "READY", meta, pos);
  assert_true (n > 0);
  size_t hl;
  uint64_t bl;
  int fl;
  assert_int_equal (mu_zmtp_frame_need (f, (size_t)n, 255, &hl, &bl, &fl), n);
  assert_int_equal (fl, MU_ZMTP_FLAG_COMMAND);
  const unsigned char *name, *data, *v;
  size_t nl, dl, vl;
  assert_int_equal (mu_zmtp_command_parse (f + hl, bl, &name, &nl, &data, &dl),
                    0);
  assert_true (mu_zmtp_command_is (name, nl, "READY"));
  assert_false (mu_zmtp_command_is (name, nl, "READ"));
  assert_int_equal (mu_zmtp_meta_get (data, dl, "socket-type", &v, &vl), 0);
  assert_int_equal (vl, 6);
  assert_memory_equal (v, "DEALER", 6);
  assert_int_equal (mu_zmtp_meta_get (data, dl, "Identity", &v, &vl), 0);
  assert_int_equal (vl, 0);
  assert_int_equal (mu_zmtp_meta_get (data, dl, "User-Id", &v, &vl),
                    MUSTER_ENOTFOUND);
  /* every truncation of the metadata is refused, never over-read */
  for (size_t cut = 1; cut < dl; cut++)
    if (cut != 1 + 11 + 4 + 6) /* the boundary between the two is whole */
      assert_int_equal (mu_zmtp_meta_get (data, cut, "Identity", &v, &vl),
                        MUSTER_EPROTO);
  /* a value length past the end */
  unsigned char big[] = { 1, 'A', 0x7f, 0xff, 0xff, 0xff, 'x' };
  assert_int_equal (mu_zmtp_meta_get (big, sizeof big, "A", &v, &vl),
                    MUSTER_EPROTO);
  unsigned char zero[] = { 0, 0, 0, 0, 0 };
  assert_int_equal (mu_zmtp_meta_get (zero, sizeof zero, "A", &v, &vl),
                    MUSTER_EPROTO);
  /* commands: empty, zero-length name, name longer than the body */
  unsigned char c1[] = { 9, 'R', 'E' };
  assert_int_equal (mu_zmtp_command_parse (c1, 0, &name, &nl, &data, &dl),
                    MUSTER_EPROTO);
  assert_int_equal (mu_zmtp_command_parse (c1, sizeof c1, &name, &nl, &data,
                                           &dl), MUSTER_EPROTO);
  c1[0] = 0;
  assert_int_equal (mu_zmtp_command_parse (c1, sizeof c1, &name, &nl, &data,
                                           &dl), MUSTER_EPROTO);
}

/* --------------------------------------------- a CURVE client (RFC 26) */

typedef struct client {
  unsigned char pub[32], sec[32];       /* C, c */
  unsigned char cn_pub[32], cn_sec[32]; /* C', c' */
  unsigned char server[32];             /* S as the client believes it */
  unsigned char cn_server[32];          /* S' */
  unsigned char precom[32];
  uint64_t nonce;
} client_t;

static void
client_hello (client_t *c, unsigned char out[200])
{
  crypto_box_keypair (c->cn_pub, c->cn_sec);
  c->nonce = 1;
  memset (out, 0, 200);
  memcpy (out, "\x05HELLO\x01\x00", 8);
  memcpy (out + 80, c->cn_pub, 32);
  unsigned char nonce[24], zeros[64] = { 0 };
  memcpy (nonce, "CurveZMQHELLO---", 16);
  mu_zmtp_put_u64 (nonce + 16, c->nonce);
  memcpy (out + 112, nonce + 16, 8);
  assert_int_equal (crypto_box_easy (out + 120, zeros, 64, nonce, c->server, c->cn_sec), 0);
  c->nonce++;
}

/* WELCOME -> INITIATE (returns its length); -1 if WELCOME does not open. */
static int
client_initiate (client_t *c, const unsigned char *welcome, unsigned char *out,
                 const unsigned char *vouch_for_server)
{
  unsigned char nonce[24], plain[128];
  memcpy (nonce, "WELCOME-", 8);
  memcpy (nonce + 8, welcome + 8, 16);
  if (crypto_box_open_easy (plain, welcome + 24, 144, nonce, c->server,
                            c->cn_sec) != 0)
    return -1;
  memcpy (c->cn_server, plain, 32);
  assert_int_equal (crypto_box_beforenm (c->precom, c->cn_server, c->cn_sec), 0);
  memcpy (out, "\x08INITIATE", 9);
  memcpy (out + 9, plain + 32, 96); /* the cookie, as given */
  unsigned char meta[64];
  size_t ml = 0;
  mu_zmtp_meta_put (meta, sizeof meta, &ml, "Socket-Type", "DEALER", 6);
  unsigned char ip[128 + 64];
  memcpy (ip, c->pub, 32);
  unsigned char vnonce[24], vplain[64];
  memcpy (vnonce, "VOUCH---", 8);
  randombytes_buf (vnonce + 8, 16);
  memcpy (ip + 32, vnonce + 8, 16);
  memcpy (vplain, c->cn_pub, 32);
  memcpy (vplain + 32, vouch_for_server, 32);
  assert_int_equal (crypto_box_easy (ip + 48, vplain, 64, vnonce, c->cn_server, c->sec), 0);
  memcpy (ip + 128, meta, ml);
  unsigned char inonce[24];
  memcpy (inonce, "CurveZMQINITIATE", 16);
  mu_zmtp_put_u64 (inonce + 16, c->nonce++);
  memcpy (out + 105, inonce + 16, 8);
  assert_int_equal (crypto_box_easy (out + 113, ip, 128 + ml, inonce, c->cn_server, c->cn_sec), 0);
  return (int)(113 + 16 + 128 + ml);
}

static size_t
client_message (client_t *c, uint64_t n, int flags, const char *text,
                unsigned char *out)
{
  size_t len = strlen (text);
  unsigned char nonce[24], plain[256];
  memcpy (nonce, "CurveZMQMESSAGEC", 16);
  mu_zmtp_put_u64 (nonce + 16, n);
  memcpy (out, "\x07MESSAGE", 8);
  memcpy (out + 8, nonce + 16, 8);
  plain[0] = (unsigned char)flags;
  memcpy (plain + 1, text, len);
  crypto_box_easy_afternm (out + 16, plain, len + 1, nonce, c->precom);
  return 33 + len;
}

typedef struct keys {
  unsigned char spub[32], ssec[32];
  client_t c;
} keys_t;

static void
keys_make (keys_t *k)
{
  assert_true (sodium_init () >= 0);
  crypto_box_keypair (k->spub, k->ssec);
  memset (&k->c, 0, sizeof k->c);
  crypto_box_keypair (k->c.pub, k->c.sec);
  memcpy (k->c.server, k->spub, 32);
}

static void
test_curve_handshake_and_messages (void **state)
{
  (void)state;
  keys_t k;
  keys_make (&k);
  mu_zcurve_t z;
  assert_int_equal (mu_zcurve_init (&z), 0);
  unsigned char hello[200], welcome[168], init[400];
  client_hello (&k.c, hello);
  assert_int_equal (mu_zcurve_hello (&z, k.ssec, hello, 200, welcome), 0);
  int il = client_initiate (&k.c, welcome, init, k.spub);
  assert_true (il > 0);
  const unsigned char *meta;
  size_t ml;
  assert_int_equal (mu_zcurve_initiate (&z, k.spub, init, (size_t)il, &meta,
                                        &ml), 0);
  assert_memory_equal (z.client_key, k.c.pub, 32);
  const unsigned char *v;
  size_t vl;
  assert_int_equal (mu_zmtp_meta_get (meta, ml, "Socket-Type", &v, &vl), 0);
  assert_memory_equal (v, "DEALER", 6);

  /* READY opens with the short-term keys */
  unsigned char rmeta[32], ready[128];
  size_t rml = 0;
  mu_zmtp_meta_put (rmeta, sizeof rmeta, &rml, "Socket-Type", "ROUTER", 6);
  int rl = mu_zcurve_ready (&z, rmeta, rml, ready, sizeof ready);
  assert_true (rl > 0);
  unsigned char rnonce[24], rplain[64];
  memcpy (rnonce, "CurveZMQREADY---", 16);
  memcpy (rnonce + 16, ready + 6, 8);
  assert_int_equal (crypto_box_open_easy_afternm (rplain, ready + 14,
                                                  (size_t)rl - 14, rnonce,
                                                  k.c.precom), 0);
  assert_memory_equal (rplain, rmeta, rml);

  /* client -> server, with MORE inside the box */
  unsigned char m[300], *p;
  size_t pl;
  int flags;
  size_t n = client_message (&k.c, 3, 1, "first", m);
  assert_int_equal (mu_zcurve_decode (&z, m, n, &flags, &p, &pl), 0);
  assert_int_equal (flags, 1);
  assert_int_equal (pl, 5);
  assert_memory_equal (p, "first", 5);
  /* the same nonce again (a replay), then an older one: refused */
  n = client_message (&k.c, 3, 0, "again", m);
  assert_int_equal (mu_zcurve_decode (&z, m, n, &flags, &p, &pl),
                    MUSTER_EPROTO);
  n = client_message (&k.c, 2, 0, "older", m);
  assert_int_equal (mu_zcurve_decode (&z, m, n, &flags, &p, &pl),
                    MUSTER_EPROTO);
  /* a tampered box */
  n = client_message (&k.c, 9, 0, "tampered", m);
  m[n - 1] ^= 1;
  assert_int_equal (mu_zcurve_decode (&z, m, n, &flags, &p, &pl),
                    MUSTER_EAUTH);
  /* a later nonce still works (a tampered box did not move the nonce) */
  n = client_message (&k.c, 9, 0, "later", m);
  assert_int_equal (mu_zcurve_decode (&z, m, n, &flags, &p, &pl), 0);
  assert_memory_equal (p, "later", 5);
  /* short or not a MESSAGE */
  assert_int_equal (mu_zcurve_decode (&z, m, 32, &flags, &p, &pl),
                    MUSTER_EPROTO);
  memcpy (m, "\x07MASSAGE", 8);
  assert_int_equal (mu_zcurve_decode (&z, m, n, &flags, &p, &pl),
                    MUSTER_EPROTO);

  /* server -> client: nonces increase, the client opens it */
  unsigned char out[128];
  int64_t ol = mu_zcurve_encode (&z, 0, "reply", 5, out, sizeof out);
  assert_int_equal (ol, 33 + 5);
  unsigned char snonce[24], splain[64];
  memcpy (snonce, "CurveZMQMESSAGES", 16);
  memcpy (snonce + 16, out + 8, 8);
  assert_true (mu_zmtp_get_u64 (out + 8) > mu_zmtp_get_u64 (ready + 6));
  assert_int_equal (crypto_box_open_easy_afternm (splain, out + 16,
                                                  (size_t)ol - 16, snonce,
                                                  k.c.precom), 0);
  assert_int_equal (splain[0], 0);
  assert_memory_equal (splain + 1, "reply", 5);
  assert_int_equal (mu_zcurve_encode (&z, 0, "reply", 5, out, 20), -ENOSPC);
  mu_zcurve_clear (&z);
}

static void
test_curve_refusals (void **state)
{
  (void)state;
  keys_t k;
  keys_make (&k);
  mu_zcurve_t z;
  unsigned char hello[200], welcome[168], init[400];
  const unsigned char *meta;
  size_t ml;

  /* the client believes in another server key: HELLO does not open */
  client_t wrong = k.c;
  unsigned char other_sec[32];
  crypto_box_keypair (wrong.server, other_sec);
  mu_zcurve_init (&z);
  client_hello (&wrong, hello);
  assert_int_equal (mu_zcurve_hello (&z, k.ssec, hello, 200, welcome),
                    MUSTER_EAUTH);
  assert_int_equal (z.state, MU_ZCURVE_FAILED);

  /* truncated, wrong version, and INITIATE before HELLO */
  mu_zcurve_init (&z);
  client_hello (&k.c, hello);
  assert_int_equal (mu_zcurve_hello (&z, k.ssec, hello, 199, welcome),
                    MUSTER_EPROTO);
  mu_zcurve_init (&z);
  hello[6] = 2;
  assert_int_equal (mu_zcurve_hello (&z, k.ssec, hello, 200, welcome),
                    MUSTER_EPROTO);
  mu_zcurve_init (&z);
  memset (init, 0, sizeof init);
  memcpy (init, "\x08INITIATE", 9);
  assert_int_equal (mu_zcurve_initiate (&z, k.spub, init, 300, &meta, &ml),
                    MUSTER_EPROTO);

  /* a vouch for another server (a man in the middle relaying) */
  mu_zcurve_init (&z);
  client_hello (&k.c, hello);
  assert_int_equal (mu_zcurve_hello (&z, k.ssec, hello, 200, welcome), 0);
  unsigned char other_pub[32];
  crypto_box_keypair (other_pub, other_sec);
  int il = client_initiate (&k.c, welcome, init, other_pub);
  assert_int_equal (mu_zcurve_initiate (&z, k.spub, init, (size_t)il, &meta,
                                        &ml), MUSTER_EAUTH);

  /* a cookie not ours (tampered) */
  mu_zcurve_init (&z);
  client_hello (&k.c, hello);
  assert_int_equal (mu_zcurve_hello (&z, k.ssec, hello, 200, welcome), 0);
  il = client_initiate (&k.c, welcome, init, k.spub);
  init[30] ^= 1;
  assert_int_equal (mu_zcurve_initiate (&z, k.spub, init, (size_t)il, &meta,
                                        &ml), MUSTER_EAUTH);
  /* MESSAGE before READY */
  unsigned char m[64], *p;
  size_t pl;
  int flags;
  size_t n = client_message (&k.c, 5, 0, "x", m);
  assert_int_equal (mu_zcurve_decode (&z, m, n, &flags, &p, &pl),
                    MUSTER_EPROTO);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_greeting),
    cmocka_unit_test (test_frames),
    cmocka_unit_test (test_commands_and_metadata),
    cmocka_unit_test (test_curve_handshake_and_messages),
    cmocka_unit_test (test_curve_refusals),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
