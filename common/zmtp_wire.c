/*
 * zmtp_wire.c — ZMTP 3.x greeting, frames, commands and metadata (see
 * zmtp_wire.h).  No allocation, no I/O: the server feeds it bytes.
 */
#include "common/zmtp_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <muster/error.h>

void
mu_zmtp_put_u64 (unsigned char *p, uint64_t v)
{
  for (int i = 7; i >= 0; i--, v >>= 8)
    p[i] = (unsigned char)(v & 0xff);
}

uint64_t
mu_zmtp_get_u64 (const unsigned char *p)
{
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v = (v << 8) | p[i];
  return v;
}

void
mu_zmtp_greeting (unsigned char out[MU_ZMTP_GREETING_LEN],
                  const char *mechanism, int as_server)
{
  memset (out, 0, MU_ZMTP_GREETING_LEN);
  out[0] = 0xff;
  out[8] = 0x01; /* padding as libzmq writes it (a 1-byte ZMTP 1.0 id) */
  out[9] = 0x7f;
  out[10] = 3;   /* version 3.1 */
  out[11] = 1;
  size_t n = strlen (mechanism);
  memcpy (out + 12, mechanism, n < 20 ? n : 20);
  out[32] = as_server ? 1 : 0;
}

int
mu_zmtp_greeting_check (const unsigned char *g, size_t len,
                        const char *mechanism, char *err, size_t errlen)
{
  if (len < MU_ZMTP_GREETING_LEN || g[0] != 0xff || (g[9] & 1) == 0)
    {
      snprintf (err, errlen, "not a ZMTP 3 greeting");
      return MUSTER_EPROTO;
    }
  if (g[10] < 3)
    {
      snprintf (err, errlen, "ZMTP version %u.%u (3.0 or later required)",
                g[10], g[11]);
      return MUSTER_EPROTO;
    }
  char mech[21];
  memcpy (mech, g + 12, 20);
  mech[20] = '\0';
  if (strcmp (mech, mechanism) != 0)
    {
      /* Printable only: the name goes to a log line. */
      for (char *p = mech; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
          *p = '?';
      snprintf (err, errlen, "security mechanism %s (this port wants %s)",
                mech[0] ? mech : "(none)", mechanism);
      return MUSTER_EPROTO;
    }
  return 0;
}

int64_t
mu_zmtp_frame_need (const unsigned char *buf, size_t len, uint64_t max_body,
                    size_t *hdr_len, uint64_t *body_len, int *flags)
{
  if (len < 1)
    return 2;
  int f = buf[0];
  if (f & ~(MU_ZMTP_FLAG_MORE | MU_ZMTP_FLAG_LONG | MU_ZMTP_FLAG_COMMAND))
    return MUSTER_EPROTO;
  if ((f & MU_ZMTP_FLAG_COMMAND) && (f & MU_ZMTP_FLAG_MORE))
    return MUSTER_EPROTO;
  size_t hl = (f & MU_ZMTP_FLAG_LONG) ? 9 : 2;
  if (len < hl)
    return (int64_t)hl;
  uint64_t bl = (f & MU_ZMTP_FLAG_LONG) ? mu_zmtp_get_u64 (buf + 1) : buf[1];
  if (bl > max_body)
    return MUSTER_ETOOBIG;
  *hdr_len = hl;
  *body_len = bl;
  *flags = f;
  return (int64_t)(hl + bl);
}

size_t
mu_zmtp_frame_header (unsigned char *hdr, int flags, uint64_t len)
{
  flags &= MU_ZMTP_FLAG_MORE | MU_ZMTP_FLAG_COMMAND;
  if (len > 255)
    {
      hdr[0] = (unsigned char)(flags | MU_ZMTP_FLAG_LONG);
      mu_zmtp_put_u64 (hdr + 1, len);
      return 9;
    }
  hdr[0] = (unsigned char)flags;
  hdr[1] = (unsigned char)len;
  return 2;
}

int
mu_zmtp_command_parse (const unsigned char *body, size_t len,
                       const unsigned char **name, size_t *name_len,
                       const unsigned char **data, size_t *data_len)
{
  if (len < 1 || body[0] == 0 || (size_t)body[0] + 1 > len)
    return MUSTER_EPROTO;
  *name = body + 1;
  *name_len = body[0];
  *data = body + 1 + body[0];
  *data_len = len - 1 - body[0];
  return 0;
}

int
mu_zmtp_command_is (const unsigned char *name, size_t name_len,
                    const char *want)
{
  return strlen (want) == name_len && memcmp (name, want, name_len) == 0;
}

int
mu_zmtp_meta_put (unsigned char *out, size_t cap, size_t *pos,
                  const char *name, const void *value, size_t vlen)
{
  size_t nl = strlen (name);
  if (nl == 0 || nl > 255 || vlen > UINT32_MAX
      || cap - *pos < 1 + nl + 4 + vlen || *pos > cap)
    return -ENOSPC;
  unsigned char *p = out + *pos;
  *p++ = (unsigned char)nl;
  memcpy (p, name, nl);
  p += nl;
  *p++ = (unsigned char)(vlen >> 24);
  *p++ = (unsigned char)(vlen >> 16);
  *p++ = (unsigned char)(vlen >> 8);
  *p++ = (unsigned char)vlen;
  if (vlen > 0)
    memcpy (p, value, vlen);
  *pos += 1 + nl + 4 + vlen;
  return 0;
}

int
mu_zmtp_meta_parse (const unsigned char *data, size_t len,
                    int (*cb) (const char *name, size_t name_len,
                               const unsigned char *value, size_t vlen,
                               void *arg),
                    void *arg)
{
  size_t i = 0;
  while (i < len)
    {
      size_t nl = data[i];
      if (nl == 0 || len - i < 1 + nl + 4)
        return MUSTER_EPROTO;
      const char *name = (const char *)data + i + 1;
      const unsigned char *p = data + i + 1 + nl;
      size_t vl = ((size_t)p[0] << 24) | ((size_t)p[1] << 16)
                  | ((size_t)p[2] << 8) | p[3];
      if (len - i - 1 - nl - 4 < vl)
        return MUSTER_EPROTO;
      int rc = cb (name, nl, p + 4, vl, arg);
      if (rc != 0)
        return rc;
      i += 1 + nl + 4 + vl;
    }
  return 0;
}

struct meta_find {
  const char *name;
  const unsigned char *value;
  size_t vlen;
  int found;
};

static int
meta_find_cb (const char *name, size_t nl, const unsigned char *value,
              size_t vlen, void *arg)
{
  struct meta_find *f = arg;
  if (!f->found && strlen (f->name) == nl && strncasecmp (name, f->name, nl) == 0)
    {
      f->value = value;
      f->vlen = vlen;
      f->found = 1;
    }
  return 0;
}

int
mu_zmtp_meta_get (const unsigned char *data, size_t len, const char *name,
                  const unsigned char **value, size_t *vlen)
{
  struct meta_find f = { .name = name };
  int rc = mu_zmtp_meta_parse (data, len, meta_find_cb, &f);
  if (rc != 0)
    return rc;
  if (!f.found)
    return MUSTER_ENOTFOUND;
  *value = f.value;
  *vlen = f.vlen;
  return 0;
}

int
mu_zmtp_command_frame (unsigned char *out, size_t cap, const char *name,
                       const void *data, size_t dlen)
{
  size_t nl = strlen (name);
  size_t body = 1 + nl + dlen;
  if (nl == 0 || nl > 255 || cap < MU_ZMTP_HDR_MAX + body)
    return -ENOSPC;
  size_t h = mu_zmtp_frame_header (out, MU_ZMTP_FLAG_COMMAND, body);
  out[h] = (unsigned char)nl;
  memcpy (out + h + 1, name, nl);
  if (dlen > 0)
    memcpy (out + h + 1 + nl, data, dlen);
  return (int)(h + body);
}
