/*
 * proto_decode.c — the decoder of proto.h: untrusted bytes to a message.
 *
 * Decoding trusts nothing and runs in two passes.  mu_scan() first walks
 * the raw msgpack once without allocating: it enforces the bounds of
 * proto.h on every string and container, bounds the nesting depth and the
 * number of objects, and rejects reserved bytes, truncated input and
 * trailing bytes.  This pass exists because msgpack-c reserves room for a
 * container as soon as it reads its header: a 6-byte message declaring a
 * 2^28-entry array would otherwise make it ask for 6 GiB.  Only then does
 * msgpack_unpack_next() build its zone of objects, and the walk below
 * follows the descriptor tables (proto_desc.h), checking each object's type
 * before reading its `via` member.
 *
 * Rules: "v" must equal MU_PROTO_VERSION (else MUSTER_EVERSION; a file
 * format decoded with mu_msg_decode_v accepts 1 to its own highest
 * version instead), "t" must
 * name a message (else MUSTER_ETYPE); keys are strings; unknown keys are
 * skipped (a newer peer may add fields); a known key may appear only once;
 * an optional field may be nil, meaning absent; strings must not contain
 * NUL; a string map must not repeat a key.  Over-bound sizes are
 * MUSTER_ETOOBIG, everything else malformed MUSTER_EPROTO.  A failed decode
 * frees everything it built, leaves the message empty and writes one
 * sentence such as "job.start: field 'spec.roles[1].nproc': expected
 * unsigned integer, got str" into `err`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/proto.h"
#include "common/proto_desc.h"
#include "muster/error.h"

/* Containers nested deeper than this are refused (the schema needs 4). */
#define MU_PROTO_MAX_DEPTH 16
/* Objects per message; msgpack-c spends 24 bytes on each. */
#define MU_PROTO_MAX_OBJECTS (8u << 20)

/* ------------------------------------------------------- decode: context */

typedef struct mu_dctx
{
  char *err;
  size_t errlen;
  const char *msg; /* wire name, once known */
  uint64_t vmax;   /* highest "v" accepted (1..vmax) */
  uint64_t vfound; /* the "v" seen, 0 until read */
  int wire;        /* 1: "v" is the wire protocol's version */
  char path[160];  /* field being decoded: "spec.roles[2].name" */
  size_t plen;
} mu_dctx_t;

/* Write "<msg>: field '<path>': <what>" into err; returns code. */
static int __attribute__ ((format (printf, 3, 4)))
mu_fail (mu_dctx_t *c, int code, const char *fmt, ...)
{
  if (!c->err || c->errlen == 0)
    return code;
  char what[224];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  if (c->msg && c->plen)
    snprintf (c->err, c->errlen, "%s: field '%s': %s", c->msg, c->path, what);
  else if (c->msg)
    snprintf (c->err, c->errlen, "%s: %s", c->msg, what);
  else
    snprintf (c->err, c->errlen, "%s", what);
  return code;
}

/* Append ".name" (or "[i]" when name is NULL) to the path; returns the
 * length to restore with mu_path_pop(). */
static size_t
mu_path_push (mu_dctx_t *c, const char *name, size_t index)
{
  /* (zsim) Every field of every message decoded passes here: append by
   * hand, not through snprintf (3.6 % of musterd's CPU in a 10,000-node
   * round).  Truncated at the buffer's end, as snprintf would. */
  size_t old = c->plen, cap = sizeof c->path - 1, p = old;
  char num[24];
  const char *s = name;
  if (name == NULL)
    {
      size_t k = sizeof num;
      num[--k] = '\0';
      num[--k] = ']';
      do
        num[--k] = (char)('0' + index % 10);
      while ((index /= 10) != 0 && k > 1);
      num[--k] = '[';
      s = num + k;
    }
  else if (old > 0 && p < cap)
    c->path[p++] = '.';
  while (*s != '\0' && p < cap)
    c->path[p++] = *s++;
  c->path[p] = '\0';
  c->plen = p;
  return old;
}

static void
mu_path_pop (mu_dctx_t *c, size_t old)
{
  c->plen = old;
  c->path[old] = '\0';
}

/* A bounded, printable copy of untrusted bytes for an error message. */
static const char *
mu_printable (char *dst, size_t dstlen, const char *s, size_t n)
{
  size_t i = 0;
  for (; i < n && i + 1 < dstlen; i++)
    dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  dst[i] = '\0';
  return dst;
}

static const char *
mu_type_name (const msgpack_object *o)
{
  switch (o->type)
    {
    case MSGPACK_OBJECT_NIL:
      return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
      return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
      return "unsigned integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
      return "negative integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
      return "float";
    case MSGPACK_OBJECT_STR:
      return "str";
    case MSGPACK_OBJECT_ARRAY:
      return "array";
    case MSGPACK_OBJECT_MAP:
      return "map";
    case MSGPACK_OBJECT_BIN:
      return "bin";
    case MSGPACK_OBJECT_EXT:
      return "ext";
    }
  return "unknown object";
}

static int
mu_wrong_type (mu_dctx_t *c, const char *expected, const msgpack_object *o)
{
  return mu_fail (c, MUSTER_EPROTO, "expected %s, got %s", expected,
                  mu_type_name (o));
}

/* ----------------------------------------------------- pass 1: the bounds */

enum
{
  MU_SHAPE_SCALAR,
  MU_SHAPE_RAW,
  MU_SHAPE_ARRAY,
  MU_SHAPE_MAP
};

/* Formats 0xc4..0xdf: bytes of the length field, fixed payload bytes (ext
 * type byte, number), and what the length counts. */
static const struct mu_fmt
{
  unsigned char lenb, fixed, shape;
} mu_fmts[] = {
  { 1, 0, MU_SHAPE_RAW },     { 2, 0, MU_SHAPE_RAW },    /* bin 8, 16 */
  { 4, 0, MU_SHAPE_RAW },     { 1, 1, MU_SHAPE_RAW },    /* bin 32, ext 8 */
  { 2, 1, MU_SHAPE_RAW },     { 4, 1, MU_SHAPE_RAW },    /* ext 16, 32 */
  { 0, 4, MU_SHAPE_SCALAR },  { 0, 8, MU_SHAPE_SCALAR }, /* float 32, 64 */
  { 0, 1, MU_SHAPE_SCALAR },  { 0, 2, MU_SHAPE_SCALAR }, /* uint 8, 16 */
  { 0, 4, MU_SHAPE_SCALAR },  { 0, 8, MU_SHAPE_SCALAR }, /* uint 32, 64 */
  { 0, 1, MU_SHAPE_SCALAR },  { 0, 2, MU_SHAPE_SCALAR }, /* int 8, 16 */
  { 0, 4, MU_SHAPE_SCALAR },  { 0, 8, MU_SHAPE_SCALAR }, /* int 32, 64 */
  { 0, 2, MU_SHAPE_SCALAR },  { 0, 3, MU_SHAPE_SCALAR }, /* fixext 1, 2 */
  { 0, 5, MU_SHAPE_SCALAR },  { 0, 9, MU_SHAPE_SCALAR }, /* fixext 4, 8 */
  { 0, 17, MU_SHAPE_SCALAR },                            /* fixext 16 */
  { 1, 0, MU_SHAPE_RAW },     { 2, 0, MU_SHAPE_RAW },    /* str 8, 16 */
  { 4, 0, MU_SHAPE_RAW },                                /* str 32 */
  { 2, 0, MU_SHAPE_ARRAY },   { 4, 0, MU_SHAPE_ARRAY },  /* array 16, 32 */
  { 2, 0, MU_SHAPE_MAP },     { 4, 0, MU_SHAPE_MAP },    /* map 16, 32 */
};

_Static_assert(MU_NELEM (mu_fmts) == 0xdf - 0xc4 + 1, "one entry per format");

static int
mu_truncated (mu_dctx_t *c, size_t pos)
{
  return mu_fail (c, MUSTER_EPROTO, "message truncated at byte %zu", pos);
}

/* Check the object starting at p[0] (avail > 0 bytes left, at offset pos).
 * Sets *size to its bytes without its children and *children to the number
 * of objects it contains. */
static int
mu_scan_head (mu_dctx_t *c, const uint8_t *p, size_t avail, size_t pos,
              size_t *size, size_t *children)
{
  uint8_t b = p[0];
  size_t lenb = 0, fixed = 0;
  int shape = MU_SHAPE_SCALAR;
  uint64_t n = 0;
  if (b >= 0x80 && b <= 0x8f)
    shape = MU_SHAPE_MAP, n = b & 0x0f;
  else if (b >= 0x90 && b <= 0x9f)
    shape = MU_SHAPE_ARRAY, n = b & 0x0f;
  else if (b >= 0xa0 && b <= 0xbf)
    shape = MU_SHAPE_RAW, n = b & 0x1f;
  else if (b == 0xc1)
    return mu_fail (c, MUSTER_EPROTO, "reserved byte 0xc1 at byte %zu", pos);
  else if (b >= 0xc4 && b <= 0xdf)
    {
      const struct mu_fmt *f = &mu_fmts[b - 0xc4];
      lenb = f->lenb, fixed = f->fixed, shape = f->shape;
    }
  if (avail - 1 < lenb)
    return mu_truncated (c, pos);
  for (size_t i = 0; i < lenb; i++)
    n = n << 8 | p[1 + i];
  *children = 0;
  if (shape == MU_SHAPE_RAW && n > MU_PROTO_MAX_STR)
    return mu_fail (c, MUSTER_ETOOBIG,
                    "str, bin or ext of %" PRIu64
                    " bytes at byte %zu exceeds the "
                    "bound of %u",
                    n, pos, MU_PROTO_MAX_STR);
  if (shape != MU_SHAPE_RAW && shape != MU_SHAPE_SCALAR
      && n > MU_PROTO_MAX_LIST)
    return mu_fail (c, MUSTER_ETOOBIG,
                    "list of %" PRIu64 " entries at byte %zu exceeds the "
                    "bound of %u",
                    n, pos, MU_PROTO_MAX_LIST);
  if (shape == MU_SHAPE_RAW)
    fixed += (size_t)n;
  else if (shape != MU_SHAPE_SCALAR)
    *children = shape == MU_SHAPE_MAP ? 2 * (size_t)n : (size_t)n;
  if (avail - 1 - lenb < fixed)
    return mu_truncated (c, pos);
  *size = 1 + lenb + fixed;
  return 0;
}

/* Walk the encoding once, allocating nothing.  rem[d] counts the objects
 * still owed to the container open at depth d, pending their sum; every
 * object takes at least one byte, so pending may never exceed the bytes
 * left.  Exactly one top-level object must fill the input. */
static int
mu_scan (mu_dctx_t *c, const uint8_t *p, size_t len)
{
  size_t rem[MU_PROTO_MAX_DEPTH + 1];
  size_t pos = 0, pending = 1, objects = 0;
  int top = 0;
  rem[0] = 1;
  while (top >= 0)
    {
      if (rem[top] == 0)
        {
          top--;
          continue;
        }
      if (pos >= len)
        return mu_truncated (c, pos);
      size_t size = 0, children = 0;
      int rc = mu_scan_head (c, p + pos, len - pos, pos, &size, &children);
      if (rc)
        return rc;
      rem[top]--;
      pending--;
      pos += size;
      if (++objects > MU_PROTO_MAX_OBJECTS)
        return mu_fail (c, MUSTER_ETOOBIG, "more than %u objects",
                        MU_PROTO_MAX_OBJECTS);
      if (children == 0)
        continue;
      if (top == MU_PROTO_MAX_DEPTH)
        return mu_fail (c, MUSTER_EPROTO, "nested deeper than %d at byte %zu",
                        MU_PROTO_MAX_DEPTH, pos - size);
      rem[++top] = children;
      pending += children;
      if (pending > len - pos)
        return mu_truncated (c, len);
    }
  if (pos != len)
    return mu_fail (c, MUSTER_EPROTO, "%zu trailing bytes after the message",
                    len - pos);
  return 0;
}

/* ---------------------------------------------------- pass 2: the objects */

static int mu_dec_map (mu_dctx_t *c, const mu_rec_desc_t *d,
                       const msgpack_object *o, void *rec, bool top);

static int
mu_nomem (mu_dctx_t *c)
{
  return mu_fail (c, -ENOMEM, "out of memory");
}

static int
mu_check_count (mu_dctx_t *c, size_t n)
{
  if (n > MU_PROTO_MAX_LIST)
    return mu_fail (c, MUSTER_ETOOBIG, "%zu entries exceed the bound of %u", n,
                    MU_PROTO_MAX_LIST);
  return 0;
}

static int
mu_check_size (mu_dctx_t *c, size_t n)
{
  if (n > MU_PROTO_MAX_STR)
    return mu_fail (c, MUSTER_ETOOBIG, "%zu bytes exceed the bound of %u", n,
                    MU_PROTO_MAX_STR);
  return 0;
}

static int
mu_dec_u64 (mu_dctx_t *c, const msgpack_object *o, uint64_t *out)
{
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return mu_wrong_type (c, "unsigned integer", o);
  *out = o->via.u64;
  return 0;
}

static int
mu_dec_i64 (mu_dctx_t *c, const msgpack_object *o, int64_t *out)
{
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
    {
      *out = o->via.i64;
      return 0;
    }
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return mu_wrong_type (c, "integer", o);
  if (o->via.u64 > INT64_MAX)
    return mu_fail (c, MUSTER_EPROTO, "%" PRIu64 " exceeds INT64_MAX",
                    o->via.u64);
  *out = (int64_t)o->via.u64;
  return 0;
}

static int
mu_dec_bool (mu_dctx_t *c, const msgpack_object *o, bool *out)
{
  if (o->type != MSGPACK_OBJECT_BOOLEAN)
    return mu_wrong_type (c, "bool", o);
  *out = o->via.boolean;
  return 0;
}

static int
mu_dec_str (mu_dctx_t *c, const msgpack_object *o, char **out)
{
  if (o->type != MSGPACK_OBJECT_STR)
    return mu_wrong_type (c, "str", o);
  size_t n = o->via.str.size;
  int rc = mu_check_size (c, n);
  if (rc)
    return rc;
  if (n && memchr (o->via.str.ptr, '\0', n))
    return mu_fail (c, MUSTER_EPROTO, "string contains a NUL byte");
  if (!(*out = mu_proto_strndup (o->via.str.ptr, n)))
    return mu_nomem (c);
  return 0;
}

/* BIN: msgpack bin, or str from peers whose packers have no bin. */
static int
mu_dec_bin (mu_dctx_t *c, const msgpack_object *o, mu_bin_t *out)
{
  const char *p;
  size_t n;
  if (o->type == MSGPACK_OBJECT_BIN)
    p = o->via.bin.ptr, n = o->via.bin.size;
  else if (o->type == MSGPACK_OBJECT_STR)
    p = o->via.str.ptr, n = o->via.str.size;
  else
    return mu_wrong_type (c, "bin", o);
  int rc = mu_check_size (c, n);
  if (rc || n == 0)
    return rc;
  if (!(out->ptr = malloc (n)))
    return mu_nomem (c);
  memcpy (out->ptr, p, n);
  out->len = n;
  return 0;
}

static int
mu_dec_strlist (mu_dctx_t *c, const msgpack_object *o, mu_strlist_t *l)
{
  if (o->type != MSGPACK_OBJECT_ARRAY)
    return mu_wrong_type (c, "array of str", o);
  size_t n = o->via.array.size;
  int rc = mu_check_count (c, n);
  if (rc || n == 0)
    return rc;
  if (!(l->v = calloc (n, sizeof *l->v)))
    return mu_nomem (c);
  l->n = n;
  for (size_t i = 0; i < n; i++)
    {
      size_t mark = mu_path_push (c, NULL, i);
      if ((rc = mu_dec_str (c, &o->via.array.ptr[i], &l->v[i])))
        return rc;
      mu_path_pop (c, mark);
    }
  return 0;
}

static int
mu_dec_strmap (mu_dctx_t *c, const msgpack_object *o, mu_strmap_t *m)
{
  if (o->type != MSGPACK_OBJECT_MAP)
    return mu_wrong_type (c, "map of str to str", o);
  size_t n = o->via.map.size;
  int rc = mu_check_count (c, n);
  if (rc || n == 0)
    return rc;
  m->keys = calloc (n, sizeof *m->keys);
  m->vals = calloc (n, sizeof *m->vals);
  if (!m->keys || !m->vals)
    return mu_nomem (c); /* the caller's free releases either */
  m->n = n;
  for (size_t i = 0; i < n; i++)
    {
      size_t mark = mu_path_push (c, NULL, i);
      const msgpack_object_kv *kv = &o->via.map.ptr[i];
      if ((rc = mu_dec_str (c, &kv->key, &m->keys[i]))
          || (rc = mu_dec_str (c, &kv->val, &m->vals[i])))
        return rc;
      mu_path_pop (c, mark);
    }
  const char *dup;
  char buf[64];
  if ((rc = mu_proto_keys_dup (m->keys, n, &dup)) < 0)
    return mu_nomem (c);
  if (rc)
    return mu_fail (c, MUSTER_EPROTO, "key '%s' appears twice",
                    mu_printable (buf, sizeof buf, dup, strlen (dup)));
  return 0;
}

static int
mu_dec_rec (mu_dctx_t *c, const mu_field_desc_t *fd, const msgpack_object *o,
            void *rec)
{
  if (o->type != MSGPACK_OBJECT_MAP)
    return mu_wrong_type (c, "map", o);
  void *p = calloc (1, fd->sub->size);
  if (!p)
    return mu_nomem (c);
  mu_ptr_set (rec, fd->offset, p);
  return mu_dec_map (c, fd->sub, o, p, false);
}

static int
mu_dec_reclist (mu_dctx_t *c, const mu_field_desc_t *fd,
                const msgpack_object *o, void *rec)
{
  if (o->type != MSGPACK_OBJECT_ARRAY)
    return mu_wrong_type (c, "array of maps", o);
  size_t n = o->via.array.size;
  int rc = mu_check_count (c, n);
  if (rc || n == 0)
    return rc;
  char *v = calloc (n, fd->sub->size);
  if (!v)
    return mu_nomem (c);
  mu_ptr_set (rec, fd->offset, v);
  *MU_COUNT (rec, fd) = n;
  for (size_t i = 0; i < n; i++)
    {
      const msgpack_object *el = &o->via.array.ptr[i];
      size_t mark = mu_path_push (c, NULL, i);
      if (el->type != MSGPACK_OBJECT_MAP)
        return mu_wrong_type (c, "map", el);
      if ((rc = mu_dec_map (c, fd->sub, el, v + i * fd->sub->size, false)))
        return rc;
      mu_path_pop (c, mark);
    }
  return 0;
}

static int
mu_dec_field (mu_dctx_t *c, const mu_field_desc_t *fd, const msgpack_object *o,
              void *rec)
{
  switch (fd->kind)
    {
    case MU_KIND_U64:
      return mu_dec_u64 (c, o, MU_AT (rec, fd, uint64_t));
    case MU_KIND_I64:
      return mu_dec_i64 (c, o, MU_AT (rec, fd, int64_t));
    case MU_KIND_BOOL:
      return mu_dec_bool (c, o, MU_AT (rec, fd, bool));
    case MU_KIND_STR:
      return mu_dec_str (c, o, MU_AT (rec, fd, char *));
    case MU_KIND_BIN:
      return mu_dec_bin (c, o, MU_AT (rec, fd, mu_bin_t));
    case MU_KIND_STRLIST:
      return mu_dec_strlist (c, o, MU_AT (rec, fd, mu_strlist_t));
    case MU_KIND_STRMAP:
      return mu_dec_strmap (c, o, MU_AT (rec, fd, mu_strmap_t));
    case MU_KIND_REC:
      return mu_dec_rec (c, fd, o, rec);
    case MU_KIND_RECLIST:
      return mu_dec_reclist (c, fd, o, rec);
    }
  return mu_fail (c, MUSTER_EINTERNAL, "bad field kind");
}

static int
mu_field_find (const mu_rec_desc_t *d, const char *key, size_t n)
{
  for (size_t i = 0; i < d->nfields; i++)
    if (d->fields[i].namelen == n && memcmp (d->fields[i].name, key, n) == 0)
      return (int)i;
  return -1;
}

static bool
mu_is_key (const msgpack_object *k, const char *name)
{
  size_t n = strlen (name);
  return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n
         && memcmp (k->via.str.ptr, name, n) == 0;
}

/* Fill the zeroed record rec from the map o.  On failure rec is partly
 * built but consistent, for mu_proto_rec_free(). */
static int
mu_dec_map (mu_dctx_t *c, const mu_rec_desc_t *d, const msgpack_object *o,
            void *rec, bool top)
{
  const msgpack_object_map *m = &o->via.map;
  uint64_t seen = 0;
  int rc = mu_check_count (c, m->size);
  for (uint32_t i = 0; rc == 0 && i < m->size; i++)
    {
      const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
      if (k->type != MSGPACK_OBJECT_STR)
        return mu_fail (c, MUSTER_EPROTO, "key %" PRIu32 " is a %s, not a str",
                        i, mu_type_name (k));
      if (top && (mu_is_key (k, "v") || mu_is_key (k, "t")))
        continue; /* checked by mu_dec_header */
      int idx = mu_field_find (d, k->via.str.ptr, k->via.str.size);
      if (idx < 0)
        continue; /* a newer peer's field */
      const mu_field_desc_t *fd = &d->fields[idx];
      size_t mark = mu_path_push (c, fd->name, 0);
      if (seen & (UINT64_C (1) << idx))
        return mu_fail (c, MUSTER_EPROTO, "key appears twice");
      seen |= UINT64_C (1) << idx;
      if (v->type != MSGPACK_OBJECT_NIL || fd->required)
        rc = mu_dec_field (c, fd, v, rec);
      if (rc == 0)
        mu_path_pop (c, mark);
    }
  for (size_t i = 0; rc == 0 && i < d->nfields; i++)
    if (d->fields[i].required && !(seen & (UINT64_C (1) << i)))
      {
        mu_path_push (c, d->fields[i].name, 0);
        rc = mu_fail (c, MUSTER_EPROTO, "required field is missing");
      }
  return rc;
}

/* Check "v" and "t" of the top-level map; sets *type. */
static int
mu_dec_header (mu_dctx_t *c, const msgpack_object_map *m, mu_msg_type_t *type)
{
  const msgpack_object *v = NULL, *t = NULL;
  for (uint32_t i = 0; i < m->size; i++)
    {
      const msgpack_object *k = &m->ptr[i].key;
      const msgpack_object **slot = mu_is_key (k, "v")   ? &v
                                    : mu_is_key (k, "t") ? &t
                                                         : NULL;
      if (slot && *slot)
        return mu_fail (c, MUSTER_EPROTO, "key '%c' appears twice",
                        slot == &v ? 'v' : 't');
      if (slot)
        *slot = &m->ptr[i].val;
    }
  if (!v)
    return mu_fail (c, MUSTER_EPROTO, "protocol version 'v' is missing");
  if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return mu_fail (c, MUSTER_EPROTO,
                    "protocol version 'v' is a %s, not an unsigned integer",
                    mu_type_name (v));
  c->vfound = v->via.u64;
  if (c->wire && v->via.u64 != MU_PROTO_VERSION)
    return mu_fail (c, MUSTER_EVERSION,
                    "protocol version %" PRIu64 ", this build speaks %d",
                    v->via.u64, MU_PROTO_VERSION);
  if (v->via.u64 == 0 || v->via.u64 > c->vmax)
    return mu_fail (c, MUSTER_EVERSION,
                    "format version %" PRIu64 ", this build reads 1 to %"
                    PRIu64, v->via.u64, c->vmax);
  if (!t)
    return mu_fail (c, MUSTER_EPROTO, "message type 't' is missing");
  if (t->type != MSGPACK_OBJECT_STR)
    return mu_fail (c, MUSTER_EPROTO, "message type 't' is a %s, not a str",
                    mu_type_name (t));
  for (int i = MU_MSG_NONE + 1; i < MU_MSG__COUNT; i++)
    {
      const mu_msg_desc_t *md = mu_proto_msg_desc ((mu_msg_type_t)i);
      if (md->wirelen == t->via.str.size
          && memcmp (md->wire, t->via.str.ptr, md->wirelen) == 0)
        {
          *type = (mu_msg_type_t)i;
          return 0;
        }
    }
  char buf[64];
  return mu_fail (
      c, MUSTER_ETYPE, "unknown message type '%s'",
      mu_printable (buf, sizeof buf, t->via.str.ptr, t->via.str.size));
}

static int
mu_dec_top (mu_dctx_t *c, const msgpack_object *o, mu_msg_t *out)
{
  if (o->type != MSGPACK_OBJECT_MAP)
    return mu_fail (c, MUSTER_EPROTO, "message is a %s, not a map",
                    mu_type_name (o));
  mu_msg_type_t type = MU_MSG_NONE;
  int rc = mu_dec_header (c, &o->via.map, &type);
  if (rc)
    return rc;
  const mu_msg_desc_t *md = mu_proto_msg_desc (type);
  c->msg = md->wire;
  rc = mu_dec_map (c, md->rec, o, &out->u, true);
  if (rc)
    {
      mu_proto_rec_free (md->rec, &out->u);
      memset (out, 0, sizeof *out);
      return rc;
    }
  out->type = type;
  return 0;
}

static int mu_decode (const void *data, size_t len, uint64_t vmax, int wire,
                      uint64_t *found, mu_msg_t *out, char *err,
                      size_t errlen);

int
mu_msg_decode (const void *data, size_t len, mu_msg_t *out, char *err,
               size_t errlen)
{
  return mu_decode (data, len, MU_PROTO_VERSION, 1, NULL, out, err, errlen);
}

int
mu_msg_decode_v (const void *data, size_t len, uint64_t vmax, uint64_t *found,
                 mu_msg_t *out, char *err, size_t errlen)
{
  return mu_decode (data, len, vmax, 0, found, out, err, errlen);
}

static int
mu_decode (const void *data, size_t len, uint64_t vmax, int wire,
           uint64_t *found, mu_msg_t *out, char *err, size_t errlen)
{
  mu_dctx_t c = { .err = err, .errlen = errlen, .vmax = vmax, .wire = wire };
  if (found)
    *found = 0;
  if (err && errlen)
    err[0] = '\0';
  if (!out)
    return mu_fail (&c, MUSTER_EINVAL, "no message to decode into");
  memset (out, 0, sizeof *out);
  if (!data || len == 0)
    return mu_fail (&c, MUSTER_EPROTO, "empty message");
  if (len > MU_PROTO_MAX_MSG)
    return mu_fail (&c, MUSTER_ETOOBIG,
                    "message of %zu bytes exceeds the bound of %u", len,
                    MU_PROTO_MAX_MSG);
  int rc = mu_scan (&c, data, len);
  if (rc)
    return rc;
  msgpack_unpacked u;
  msgpack_unpacked_init (&u);
  size_t off = 0;
  msgpack_unpack_return ur = msgpack_unpack_next (&u, data, len, &off);
  if (ur == MSGPACK_UNPACK_SUCCESS && off == len)
    {
      rc = mu_dec_top (&c, &u.data, out);
      if (found)
        *found = c.vfound;
    }
  else if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
    rc = mu_nomem (&c);
  else
    rc = mu_fail (&c, MUSTER_EPROTO, "malformed msgpack (unpack %d)", (int)ur);
  msgpack_unpacked_destroy (&u);
  return rc;
}
