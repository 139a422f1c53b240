/*
 * crc32c_test.c — CRC-32C: published test vectors, the tables recomputed
 * from the polynomial, chaining, and the hardware and software paths
 * cross-checked on random buffers of every small length and alignment.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/crc32c.h"

/* Bit-at-a-time reference: the definition, with nothing to get wrong. */
static uint32_t
ref_crc (uint32_t crc, const void *buf, size_t len)
{
  const unsigned char *p = buf;
  uint32_t c = ~crc;
  for (size_t i = 0; i < len; i++)
    {
      c ^= p[i];
      for (int k = 0; k < 8; k++)
        c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
  return ~c;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t
rng (void)
{
  /* xorshift64*: deterministic, so a failure reproduces. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

static void
fill (unsigned char *p, size_t n)
{
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)rng ();
}

/* Run one check against both paths (the hardware one only if present). */
static void
check_all (const void *buf, size_t len, uint32_t want)
{
  assert_int_equal (mu_crc32c_sw (0, buf, len), want);
  assert_int_equal (mu_crc32c (0, buf, len), want);
  if (mu_crc32c_hw_available ())
    assert_int_equal (mu_crc32c_hw (0, buf, len), want);
}

static void
test_vectors (void **state)
{
  (void)state;
  check_all ("", 0, 0x00000000u);
  check_all ("a", 1, 0xC1D04330u);
  check_all ("abc", 3, 0x364B3FB7u);
  check_all ("123456789", 9, 0xE3069283u);
  check_all ("The quick brown fox jumps over the lazy dog", 43, 0x22620404u);

  /* RFC 3720 (iSCSI) appendix B.4. */
  unsigned char b[48];
  memset (b, 0, 32);
  check_all (b, 32, 0x8A9136AAu);
  memset (b, 0xff, 32);
  check_all (b, 32, 0x62A8AB43u);
  for (int i = 0; i < 32; i++)
    b[i] = (unsigned char)i;
  check_all (b, 32, 0x46DD794Eu);
  for (int i = 0; i < 32; i++)
    b[i] = (unsigned char)(31 - i);
  check_all (b, 32, 0x113FDB5Cu);
  static const unsigned char scsi[48] = {
    0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
    0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  };
  check_all (scsi, sizeof scsi, 0xD9963A56u);
}

/* The slice-by-8 tables agree with the bitwise definition: a one-byte CRC
 * of byte i shifted k bytes further is exactly what table k holds.  Checked
 * indirectly but completely: every byte value at every offset 0..15 (so
 * every table slot is used by the slicing loop) against the reference. */
static void
test_tables (void **state)
{
  (void)state;
  unsigned char buf[24];
  for (int off = 0; off < 16; off++)
    for (int v = 0; v < 256; v++)
      {
        memset (buf, 0x5a, sizeof buf);
        buf[off] = (unsigned char)v;
        assert_int_equal (mu_crc32c_sw (0, buf, sizeof buf),
                          ref_crc (0, buf, sizeof buf));
      }
}

static void
test_chaining (void **state)
{
  (void)state;
  unsigned char buf[4096];
  fill (buf, sizeof buf);
  uint32_t whole = ref_crc (0, buf, sizeof buf);
  for (int trial = 0; trial < 200; trial++)
    {
      size_t cut1 = rng () % sizeof buf;
      size_t cut2 = cut1 + rng () % (sizeof buf - cut1 + 1);
      uint32_t c = mu_crc32c (0, buf, cut1);
      c = mu_crc32c (c, buf + cut1, cut2 - cut1);
      c = mu_crc32c (c, buf + cut2, sizeof buf - cut2);
      assert_int_equal (c, whole);
      c = mu_crc32c_sw (0, buf, cut1);
      c = mu_crc32c_sw (c, buf + cut1, sizeof buf - cut1);
      assert_int_equal (c, whole);
    }
}

/* Every length 0..300 at every alignment 0..15, then random big buffers:
 * software, hardware and the reference agree. */
static void
test_cross_check (void **state)
{
  (void)state;
  if (!mu_crc32c_hw_available ())
    print_message ("note: no SSE4.2 here; only the software path runs\n");
  size_t cap = (1u << 20) + 64;
  unsigned char *buf = malloc (cap);
  assert_non_null (buf);
  fill (buf, cap);
  for (size_t align = 0; align < 16; align++)
    for (size_t len = 0; len <= 300; len++)
      {
        uint32_t seed = (uint32_t)rng ();
        uint32_t want = ref_crc (seed, buf + align, len);
        assert_int_equal (mu_crc32c_sw (seed, buf + align, len), want);
        assert_int_equal (mu_crc32c (seed, buf + align, len), want);
        if (mu_crc32c_hw_available ())
          assert_int_equal (mu_crc32c_hw (seed, buf + align, len), want);
      }
  for (int trial = 0; trial < 40; trial++)
    {
      size_t off = rng () % 64;
      size_t len = rng () % (cap - off);
      fill (buf + off, len < 4096 ? len : 4096);
      uint32_t sw = mu_crc32c_sw (0, buf + off, len);
      assert_int_equal (mu_crc32c (0, buf + off, len), sw);
      if (mu_crc32c_hw_available ())
        assert_int_equal (mu_crc32c_hw (0, buf + off, len), sw);
      if (trial < 4)
        assert_int_equal (ref_crc (0, buf + off, len), sw);
    }
  free (buf);
}

/* A single flipped bit anywhere changes the CRC (CRCs detect every
 * single-bit error). */
static void
test_detects_flip (void **state)
{
  (void)state;
  unsigned char buf[1024];
  fill (buf, sizeof buf);
  uint32_t good = mu_crc32c (0, buf, sizeof buf);
  for (size_t bit = 0; bit < sizeof buf * 8; bit += 7)
    {
      buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
      assert_int_not_equal (mu_crc32c (0, buf, sizeof buf), good);
      buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
  assert_int_equal (mu_crc32c (0, buf, sizeof buf), good);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_vectors),      cmocka_unit_test (test_tables),
    cmocka_unit_test (test_chaining),     cmocka_unit_test (test_cross_check),
    cmocka_unit_test (test_detects_flip),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
