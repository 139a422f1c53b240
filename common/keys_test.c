/*
 * keys_test.c — tests of keys.c: key pairs, certificate files (czmq's
 * layout, modes, atomic writes, every malformed case named) and join
 * tokens (round trip, whitespace, every malformed form refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/keys.h"

static char dir[64];

static int
setup (void **state)
{
  (void)state;
  strcpy (dir, "/tmp/mu_keys_test.XXXXXX");
  return mkdtemp (dir) ? 0 : -1;
}

static int
teardown (void **state)
{
  (void)state;
  char cmd[128];
  snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
  return system (cmd) == 0 ? 0 : -1;
}

static void
path_of (char *buf, size_t cap, const char *name)
{
  snprintf (buf, cap, "%s/%s", dir, name);
}

static void
write_text (const char *name, const char *text)
{
  char p[256];
  path_of (p, sizeof p, name);
  FILE *f = fopen (p, "w");
  assert_non_null (f);
  fputs (text, f);
  fclose (f);
}

static void
test_keypair (void **state)
{
  (void)state;
  mu_keypair_t a, b;
  assert_int_equal (mu_keypair_new (&a), 0);
  assert_int_equal (mu_keypair_new (&b), 0);
  assert_int_equal (strlen (a.pub), 40);
  assert_true (mu_key_valid (a.pub));
  assert_true (mu_key_valid (a.sec));
  assert_string_not_equal (a.pub, b.pub);
  char pub[41];
  assert_int_equal (mu_key_public_of (a.sec, pub), 0);
  assert_string_equal (pub, a.pub);
  assert_false (mu_key_valid ("short"));
  assert_false (mu_key_valid (NULL));
  assert_false (mu_key_valid ("                                        "));
  unsigned char raw[32];
  char back[41];
  assert_int_equal (mu_key_decode (a.pub, raw), 0);
  mu_key_encode (raw, back);
  assert_string_equal (back, a.pub);
}

static void
test_cert_round_trip_and_modes (void **state)
{
  (void)state;
  mode_t old = umask (0);
  mu_cert_t c;
  memset (&c, 0, sizeof c);
  assert_int_equal (mu_keypair_new (&c.kp), 0);
  assert_int_equal (mu_cert_set_meta (&c, "user", "alice"), 0);
  assert_int_equal (mu_cert_set_meta (&c, "admin", "true"), 0);
  assert_int_equal (mu_cert_set_meta (&c, "user", "bob"), 0); /* replaces */
  assert_int_equal (mu_cert_set_meta (&c, "bad", "has \" quote"), MUSTER_EINVAL);
  char p[256], sp[256];
  path_of (p, sizeof p, "client.key");
  path_of (sp, sizeof sp, "client.key_secret");
  assert_int_equal (mu_cert_save (p, &c), 0);
  umask (old);
  struct stat st;
  assert_int_equal (stat (p, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0644);
  assert_int_equal (stat (sp, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600); /* even with umask 0 */
  mu_cert_t pub, sec;
  char err[256];
  assert_int_equal (mu_cert_load (p, 0, &pub, err, sizeof err), 0);
  assert_string_equal (pub.kp.pub, c.kp.pub);
  assert_string_equal (pub.kp.sec, "");
  assert_string_equal (mu_cert_meta (&pub, "user"), "bob");
  assert_string_equal (mu_cert_meta (&pub, "admin"), "true");
  assert_null (mu_cert_meta (&pub, "nope"));
  /* want_secret finds FILE_secret beside FILE */
  assert_int_equal (mu_cert_load (p, 1, &sec, err, sizeof err), 0);
  assert_string_equal (sec.kp.sec, c.kp.sec);
  assert_int_equal (mu_cert_load (sp, 1, &sec, err, sizeof err), 0);
  assert_string_equal (sec.kp.pub, c.kp.pub);
  /* no temporary file left behind */
  char tp[300];
  snprintf (tp, sizeof tp, "%s.tmp", sp);
  assert_int_not_equal (access (tp, F_OK), 0);
}

static void
test_cert_czmq_layout (void **state)
{
  (void)state;
  /* What czmq's zcert_save_secret writes (comments, sections, quotes). */
  mu_keypair_t k;
  mu_keypair_new (&k);
  char text[1024];
  snprintf (text, sizeof text,
            "#   ****  Generated on 2026-01-01 by CZMQ  ****\n"
            "#   ZeroMQ CURVE **Secret** Certificate\n"
            "\n"
            "metadata\n"
            "    name = \"node7\"\n"
            "curve\n"
            "    public-key = \"%s\"\n"
            "    secret-key = \"%s\"\n",
            k.pub, k.sec);
  write_text ("czmq_secret", text);
  char p[256], err[256];
  path_of (p, sizeof p, "czmq_secret");
  mu_cert_t c;
  assert_int_equal (mu_cert_load (p, 1, &c, err, sizeof err), 0);
  assert_string_equal (c.kp.pub, k.pub);
  assert_string_equal (c.kp.sec, k.sec);
  assert_string_equal (mu_cert_meta (&c, "name"), "node7");
}

static void
test_cert_errors (void **state)
{
  (void)state;
  char p[256], err[256];
  mu_cert_t c;
  path_of (p, sizeof p, "missing");
  assert_true (mu_cert_load (p, 0, &c, err, sizeof err) < 0);
  assert_non_null (strstr (err, "missing"));
  write_text ("nokey", "metadata\n    user = \"x\"\n");
  path_of (p, sizeof p, "nokey");
  assert_int_equal (mu_cert_load (p, 0, &c, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "no public-key"));
  write_text ("badkey", "curve\n    public-key = \"not a key\"\n");
  path_of (p, sizeof p, "badkey");
  assert_int_equal (mu_cert_load (p, 0, &c, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "badkey:2"));
  write_text ("noeq", "curve\n    public-key\n");
  path_of (p, sizeof p, "noeq");
  assert_int_equal (mu_cert_load (p, 0, &c, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "expected name"));
  /* a public and a secret key that do not belong together */
  mu_keypair_t a, b;
  mu_keypair_new (&a);
  mu_keypair_new (&b);
  char text[512];
  snprintf (text, sizeof text, "curve\n    public-key = \"%s\"\n"
            "    secret-key = \"%s\"\n", a.pub, b.sec);
  write_text ("mismatch", text);
  path_of (p, sizeof p, "mismatch");
  assert_int_equal (mu_cert_load (p, 1, &c, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "does not belong"));
  /* want_secret on a public-only certificate without a _secret file */
  snprintf (text, sizeof text, "curve\n    public-key = \"%s\"\n", a.pub);
  write_text ("pubonly", text);
  path_of (p, sizeof p, "pubonly");
  assert_true (mu_cert_load (p, 1, &c, err, sizeof err) != 0);
}

static void
test_load_or_create (void **state)
{
  (void)state;
  char p[256], err[256];
  path_of (p, sizeof p, "server.key");
  mu_cert_t a, b;
  int created = 0;
  assert_int_equal (mu_cert_load_or_create (p, &a, &created, err, sizeof err), 0);
  assert_int_equal (created, 1);
  assert_int_equal (mu_cert_load_or_create (p, &b, &created, err, sizeof err), 0);
  assert_int_equal (created, 0);
  assert_string_equal (a.kp.pub, b.kp.pub);
  assert_string_equal (a.kp.sec, b.kp.sec);
}

static void
test_token (void **state)
{
  (void)state;
  mu_keypair_t server;
  mu_keypair_new (&server);
  mu_token_t t, u;
  assert_int_equal (mu_token_new (server.pub, &t), 0);
  char s[MU_TOKEN_LEN + 1];
  mu_token_format (&t, s, sizeof s);
  assert_int_equal (strlen (s), MU_TOKEN_LEN);
  assert_memory_equal (s, "mj1_", 4);
  for (size_t i = 4; i < MU_TOKEN_LEN; i++)
    assert_non_null (strchr ("0123456789abcdef", s[i]));
  char err[256];
  char padded[MU_TOKEN_LEN + 8];
  snprintf (padded, sizeof padded, "  %s\n", s);
  assert_int_equal (mu_token_parse (padded, &u, err, sizeof err), 0);
  assert_string_equal (u.server_pub, server.pub);
  assert_string_equal (u.enroll.sec, t.enroll.sec);
  assert_string_equal (u.enroll.pub, t.enroll.pub);
  /* malformed forms */
  assert_int_equal (mu_token_parse ("", &u, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "join token"));
  assert_int_equal (mu_token_parse (NULL, &u, err, sizeof err), MUSTER_EINVAL);
  char bad[MU_TOKEN_LEN + 1];
  memcpy (bad, s, sizeof bad);
  bad[0] = 'x';
  assert_int_equal (mu_token_parse (bad, &u, err, sizeof err), MUSTER_EINVAL);
  memcpy (bad, s, sizeof bad);
  bad[100] = 'g';
  assert_int_equal (mu_token_parse (bad, &u, err, sizeof err), MUSTER_EINVAL);
  memcpy (bad, s, sizeof bad);
  bad[MU_TOKEN_LEN - 1] = '\0';
  assert_int_equal (mu_token_parse (bad, &u, err, sizeof err), MUSTER_EINVAL);
  assert_int_equal (mu_token_new ("not a key", &u), MUSTER_EINVAL);
  /* files: 0600, first line */
  char p[256];
  path_of (p, sizeof p, "join-token");
  mode_t old = umask (0);
  assert_int_equal (mu_token_save (p, &t), 0);
  umask (old);
  struct stat st;
  assert_int_equal (stat (p, &st), 0);
  assert_int_equal (st.st_mode & 0777, 0600);
  assert_int_equal (mu_token_load (p, &u, err, sizeof err), 0);
  assert_string_equal (u.enroll.sec, t.enroll.sec);
  write_text ("empty-token", "");
  path_of (p, sizeof p, "empty-token");
  assert_int_equal (mu_token_load (p, &u, err, sizeof err), MUSTER_EINVAL);
  assert_non_null (strstr (err, "empty"));
  path_of (p, sizeof p, "no-such-token");
  assert_true (mu_token_load (p, &u, err, sizeof err) < 0);
  assert_non_null (strstr (err, "no-such-token"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_keypair),
    cmocka_unit_test (test_cert_round_trip_and_modes),
    cmocka_unit_test (test_cert_czmq_layout),
    cmocka_unit_test (test_cert_errors),
    cmocka_unit_test (test_load_or_create),
    cmocka_unit_test (test_token),
  };
  return cmocka_run_group_tests (tests, setup, teardown);
}
