/*
 * hb_wire.c — the heartbeat datagram's codec and its MAC (hb_wire.h).
 *
 * SipHash-2-4 (Aumasson and Bernstein) is a keyed hash made for short
 * inputs: 32 bytes cost a few dozen nanoseconds, so checking every
 * heartbeat is cheap next to the system call that brought it.  The
 * implementation follows the reference one (64-bit little-endian reads,
 * two compression rounds per word and four finalisation rounds).
 */
#include "common/hb_wire.h"

#include <string.h>

#include <muster/error.h>

#define ROTL(x, b) (uint64_t) (((x) << (b)) | ((x) >> (64 - (b))))

static uint64_t
get64 (const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

static void
put64 (uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32 (const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
         | (uint32_t)p[3] << 24;
}

static void
put32 (uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

#define SIPROUND                                                              \
  do                                                                          \
    {                                                                         \
      v0 += v1;                                                               \
      v1 = ROTL (v1, 13);                                                     \
      v1 ^= v0;                                                               \
      v0 = ROTL (v0, 32);                                                     \
      v2 += v3;                                                               \
      v3 = ROTL (v3, 16);                                                     \
      v3 ^= v2;                                                               \
      v0 += v3;                                                               \
      v3 = ROTL (v3, 21);                                                     \
      v3 ^= v0;                                                               \
      v2 += v1;                                                               \
      v1 = ROTL (v1, 17);                                                     \
      v1 ^= v2;                                                               \
      v2 = ROTL (v2, 32);                                                     \
    }                                                                         \
  while (0)

uint64_t
mu_siphash24 (const uint8_t key[MU_HB_KEY_LEN], const void *data, size_t len)
{
  const uint8_t *in = data;
  uint64_t k0 = get64 (key), k1 = get64 (key + 8);
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
  uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
  uint64_t v3 = 0x7465646279746573ULL ^ k1;
  size_t whole = len - len % 8;
  for (size_t i = 0; i < whole; i += 8)
    {
      uint64_t m = get64 (in + i);
      v3 ^= m;
      SIPROUND;
      SIPROUND;
      v0 ^= m;
    }
  uint64_t b = (uint64_t)len << 56;
  for (size_t i = 0; i < len % 8; i++)
    b |= (uint64_t)in[whole + i] << (8 * i);
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

void
mu_hb_encode (const mu_hb_dgram_t *d, const uint8_t key[MU_HB_KEY_LEN],
              uint8_t out[MU_HB_SIZE])
{
  out[0] = 'M';
  out[1] = 'H';
  out[2] = MU_HB_VERSION;
  out[3] = d->kind;
  put32 (out + 4, d->slot);
  put64 (out + 8, d->seq);
  put64 (out + 16, d->term);
  put64 (out + 24, d->value);
  put64 (out + 32, mu_siphash24 (key, out, 32));
}

int
mu_hb_peek (const uint8_t *buf, size_t len, mu_hb_dgram_t *d)
{
  if (len != MU_HB_SIZE || buf[0] != 'M' || buf[1] != 'H'
      || buf[2] != MU_HB_VERSION
      || (buf[3] != MU_HB_PING && buf[3] != MU_HB_PONG))
    return MUSTER_EPROTO;
  d->kind = buf[3];
  d->slot = get32 (buf + 4);
  d->seq = get64 (buf + 8);
  d->term = get64 (buf + 16);
  d->value = get64 (buf + 24);
  return 0;
}

int
mu_hb_verify (const uint8_t buf[MU_HB_SIZE], const uint8_t key[MU_HB_KEY_LEN])
{
  uint8_t want[8];
  put64 (want, mu_siphash24 (key, buf, 32));
  uint8_t diff = 0;
  for (int i = 0; i < 8; i++)
    diff |= (uint8_t)(want[i] ^ buf[32 + i]);
  return diff == 0 ? 0 : MUSTER_EAUTH;
}

int
mu_hb_seq_fresh (uint64_t *last, uint64_t seq)
{
  if (seq <= *last)
    return 0;
  *last = seq;
  return 1;
}

void
mu_hb_key_hex (const uint8_t key[MU_HB_KEY_LEN], char out[33])
{
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < MU_HB_KEY_LEN; i++)
    {
      out[2 * i] = hex[key[i] >> 4];
      out[2 * i + 1] = hex[key[i] & 15];
    }
  out[32] = '\0';
}

static int
nibble (char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

int
mu_hb_key_parse (const char *hex, uint8_t key[MU_HB_KEY_LEN])
{
  if (hex == NULL || strlen (hex) != 2 * MU_HB_KEY_LEN)
    return MUSTER_EINVAL;
  for (int i = 0; i < MU_HB_KEY_LEN; i++)
    {
      int hi = nibble (hex[2 * i]), lo = nibble (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        return MUSTER_EINVAL;
      key[i] = (uint8_t)(hi << 4 | lo);
    }
  return 0;
}
