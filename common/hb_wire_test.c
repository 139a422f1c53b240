/*
 * hb_wire_test.c — the heartbeat datagram: SipHash-2-4 against the
 * reference vectors, a round trip, a forged tag, a flipped byte, a ping
 * passed off as a pong, a wrong length, magic or version, the replay
 * window, and the key's hex form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "common/hb_wire.h"

static const uint8_t key[MU_HB_KEY_LEN] = { 0, 1, 2,  3,  4,  5,  6,  7,
                                            8, 9, 10, 11, 12, 13, 14, 15 };

static void
test_siphash_vectors (void **state)
{
  (void)state;
  uint8_t msg[64];
  for (int i = 0; i < 64; i++)
    msg[i] = (uint8_t)i;
  /* From the reference implementation's vectors.h (vectors_sip64). */
  assert_true (mu_siphash24 (key, msg, 0) == 0x726fdb47dd0e0e31ULL);
  assert_true (mu_siphash24 (key, msg, 1) == 0x74f839c593dc67fdULL);
  assert_true (mu_siphash24 (key, msg, 8) == 0x93f5f5799a932462ULL);
  assert_true (mu_siphash24 (key, msg, 15) == 0xa129ca6149be45e5ULL);
  assert_true (mu_siphash24 (key, msg, 63) == 0x958a324ceb064572ULL);
}

static void
test_round_trip (void **state)
{
  (void)state;
  mu_hb_dgram_t d = { .kind = MU_HB_PING, .slot = 9999, .seq = 42,
                      .term = 3, .value = 1234567 };
  uint8_t buf[MU_HB_SIZE];
  mu_hb_encode (&d, key, buf);
  mu_hb_dgram_t got;
  assert_int_equal (mu_hb_peek (buf, sizeof buf, &got), 0);
  assert_int_equal (got.kind, MU_HB_PING);
  assert_int_equal (got.slot, 9999);
  assert_int_equal (got.seq, 42);
  assert_int_equal (got.term, 3);
  assert_int_equal (got.value, 1234567);
  assert_int_equal (mu_hb_verify (buf, key), 0);
}

static void
test_forged (void **state)
{
  (void)state;
  mu_hb_dgram_t d = { .kind = MU_HB_PING, .slot = 1, .seq = 2 };
  uint8_t buf[MU_HB_SIZE];
  mu_hb_encode (&d, key, buf);
  /* Another key (a node that guesses, or an old secret of the slot). */
  uint8_t other[MU_HB_KEY_LEN];
  memcpy (other, key, sizeof other);
  other[15] ^= 1;
  assert_int_equal (mu_hb_verify (buf, other), MUSTER_EAUTH);
  /* Any changed byte before the tag: another slot, a later seq. */
  for (int i = 0; i < 32; i++)
    {
      uint8_t copy[MU_HB_SIZE];
      memcpy (copy, buf, sizeof copy);
      copy[i] ^= 0x10;
      assert_int_equal (mu_hb_verify (copy, key), MUSTER_EAUTH);
    }
  /* A ping reflected as a pong: the kind is under the tag. */
  uint8_t refl[MU_HB_SIZE];
  memcpy (refl, buf, sizeof refl);
  refl[3] = MU_HB_PONG;
  mu_hb_dgram_t got;
  assert_int_equal (mu_hb_peek (refl, sizeof refl, &got), 0);
  assert_int_equal (mu_hb_verify (refl, key), MUSTER_EAUTH);
}

static void
test_malformed (void **state)
{
  (void)state;
  mu_hb_dgram_t d = { .kind = MU_HB_PONG, .slot = 1, .seq = 2 };
  uint8_t buf[MU_HB_SIZE + 1];
  mu_hb_encode (&d, key, buf);
  mu_hb_dgram_t got;
  assert_int_equal (mu_hb_peek (buf, MU_HB_SIZE - 1, &got), MUSTER_EPROTO);
  assert_int_equal (mu_hb_peek (buf, MU_HB_SIZE + 1, &got), MUSTER_EPROTO);
  buf[0] = 'X';
  assert_int_equal (mu_hb_peek (buf, MU_HB_SIZE, &got), MUSTER_EPROTO);
  buf[0] = 'M';
  buf[2] = MU_HB_VERSION + 1;
  assert_int_equal (mu_hb_peek (buf, MU_HB_SIZE, &got), MUSTER_EPROTO);
  buf[2] = MU_HB_VERSION;
  buf[3] = 7;
  assert_int_equal (mu_hb_peek (buf, MU_HB_SIZE, &got), MUSTER_EPROTO);
  buf[3] = MU_HB_PONG;
  assert_int_equal (mu_hb_peek (buf, MU_HB_SIZE, &got), 0);
}

static void
test_replay (void **state)
{
  (void)state;
  uint64_t last = 0;
  assert_int_equal (mu_hb_seq_fresh (&last, 1), 1);
  assert_int_equal (mu_hb_seq_fresh (&last, 1), 0); /* replayed */
  assert_int_equal (mu_hb_seq_fresh (&last, 5), 1); /* some lost: fine */
  assert_int_equal (mu_hb_seq_fresh (&last, 3), 0); /* older */
  assert_int_equal (last, 5);
  assert_int_equal (mu_hb_seq_fresh (&last, 0), 0);
}

static void
test_key_hex (void **state)
{
  (void)state;
  char hex[33];
  mu_hb_key_hex (key, hex);
  assert_string_equal (hex, "000102030405060708090a0b0c0d0e0f");
  uint8_t back[MU_HB_KEY_LEN];
  assert_int_equal (mu_hb_key_parse (hex, back), 0);
  assert_memory_equal (back, key, sizeof back);
  assert_int_equal (mu_hb_key_parse ("00", back), MUSTER_EINVAL);
  assert_int_equal (mu_hb_key_parse (NULL, back), MUSTER_EINVAL);
  assert_int_equal (mu_hb_key_parse ("g00102030405060708090a0b0c0d0e0f",
                                     back), MUSTER_EINVAL);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_siphash_vectors), cmocka_unit_test (test_round_trip),
    cmocka_unit_test (test_forged),          cmocka_unit_test (test_malformed),
    cmocka_unit_test (test_replay),          cmocka_unit_test (test_key_hex),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
