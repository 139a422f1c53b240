/*
 * proto_test.c — unit tests of the wire codec (proto.h).
 *
 * The test includes proto_schema.def itself to generate, for every record
 * and message, a filler that gives every field a non-trivial value and a
 * deep comparer; so each message type gets a round-trip test that does not
 * depend on the codec's own tables.  Malformed input is made by packing
 * msgpack by hand or by unpacking a valid encoding, changing one object at a
 * key path ("spec.roles.1.nproc") and packing it again.  Every failure must
 * return the expected code, leave the message empty and explain itself in
 * `err`; the byte-flip and random-input loops (fixed seeds) only require that
 * nothing crashes or leaks and that whatever decodes re-encodes to the same
 * message.  Run under ASan and valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "common/proto.h"
#include "muster/error.h"

/* ------------------------------------------------- deterministic values */

typedef struct gen
{
  uint64_t s;
} gen_t;

static uint64_t
gen_next (gen_t *g)
{
  g->s ^= g->s << 13; /* xorshift64 */
  g->s ^= g->s >> 7;
  g->s ^= g->s << 17;
  return g->s;
}

static uint64_t
gen_u64 (gen_t *g)
{
  static const uint64_t edge[]
      = { 1,         127,        128,
          255,       256,        65535,
          65536,     UINT32_MAX, (uint64_t)UINT32_MAX + 1,
          UINT64_MAX };
  uint64_t r = gen_next (g);
  return r % 3 ? edge[r % 10] : r;
}

static int64_t
gen_i64 (gen_t *g)
{
  static const int64_t edge[]
      = { INT64_MIN, -1,        -32, -33,        -129,
          -32769,    INT64_MAX, 5,   0x12345678, -0x7654321 };
  uint64_t r = gen_next (g);
  return r % 3 ? edge[r % 10] : (int64_t)r;
}

static char *
gen_str (gen_t *g)
{
  static const char *const pats[]
      = { "", "x", "h\xc3\xa9llo w\xc3\xb6rld", "tab\tnl\nquote\"",
          "0123456789abcdef"
          "0123456789abcdef"
          "0123456789" };
  char buf[64];
  uint64_t r = gen_next (g);
  if (r % 6 < 5)
    snprintf (buf, sizeof buf, "%s", pats[r % 6]);
  else
    snprintf (buf, sizeof buf, "s-%llu", (unsigned long long)r);
  return strdup (buf);
}

static void
gen_bin (gen_t *g, mu_bin_t *b)
{
  b->len = 1 + gen_next (g) % 300; /* up to bin 16 */
  b->ptr = malloc (b->len);
  for (size_t i = 0; i < b->len; i++)
    b->ptr[i] = (uint8_t)(i % 7 == 0 ? 0 : gen_next (g));
}

static void
gen_strlist (gen_t *g, mu_strlist_t *l)
{
  l->n = 1 + gen_next (g) % 4;
  l->v = calloc (l->n, sizeof *l->v);
  for (size_t i = 0; i < l->n; i++)
    l->v[i] = gen_str (g);
}

static void
gen_strmap (gen_t *g, mu_strmap_t *m)
{
  m->n = 1 + gen_next (g) % 4;
  m->keys = calloc (m->n, sizeof *m->keys);
  m->vals = calloc (m->n, sizeof *m->vals);
  for (size_t i = 0; i < m->n; i++)
    {
      char k[32];
      snprintf (k, sizeof k, "K%zu_%u", i, (unsigned)(gen_next (g) % 1000));
      m->keys[i] = strdup (k);
      m->vals[i] = gen_str (g);
    }
}

/* ------------------------------------- fillers and comparers from schema */

#define FILL_U64(p, sub) *(p) = gen_u64 (g)
#define FILL_I64(p, sub) *(p) = gen_i64 (g)
#define FILL_BOOL(p, sub) *(p) = true
#define FILL_STR(p, sub) *(p) = gen_str (g)
#define FILL_BIN(p, sub) gen_bin (g, (p))
#define FILL_STRLIST(p, sub) gen_strlist (g, (p))
#define FILL_STRMAP(p, sub) gen_strmap (g, (p))
#define FILL_REC(p, sub)                                                       \
  *(p) = calloc (1, sizeof **(p));                                             \
  fill_##sub (g, *(p), full)
#define FILL_RECLIST(p, sub)                                                   \
  (p)->n = 1 + gen_next (g) % 3;                                               \
  (p)->v = calloc ((p)->n, sizeof *(p)->v);                                    \
  for (size_t i_ = 0; i_ < (p)->n; i_++)                                       \
  fill_##sub (g, &(p)->v[i_], full)

#define MU_RECORD(name, doc)                                                   \
  static void fill_##name (gen_t *g, mu_##name##_t *r, bool full)              \
  {                                                                            \
    (void)full;
#define MU_RECORD_END(name) }
#define MU_MESSAGE(NAME, name, wire, doc) MU_RECORD (name, doc)
#define MU_MESSAGE_END(name) }
#define MU_FIELD(owner, KIND, f, sub, req, doc)                                \
  if ((req) || full)                                                           \
    {                                                                          \
      FILL_##KIND (&r->f, sub);                                                \
    }
#include "common/proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD

static void
cmp_str (const char *a, const char *b)
{
  if (!a || !b)
    assert_ptr_equal (a, b);
  else
    assert_string_equal (a, b);
}

static void
cmp_bin (const mu_bin_t *a, const mu_bin_t *b)
{
  assert_int_equal (a->len, b->len);
  if (a->len)
    assert_memory_equal (a->ptr, b->ptr, a->len);
}

static void
cmp_strlist (const mu_strlist_t *a, const mu_strlist_t *b)
{
  assert_int_equal (a->n, b->n);
  for (size_t i = 0; i < a->n; i++)
    cmp_str (a->v[i], b->v[i]);
}

static void
cmp_strmap (const mu_strmap_t *a, const mu_strmap_t *b)
{
  assert_int_equal (a->n, b->n);
  for (size_t i = 0; i < a->n; i++)
    {
      cmp_str (a->keys[i], b->keys[i]);
      cmp_str (a->vals[i], b->vals[i]);
      assert_string_equal (mu_strmap_get (b, a->keys[i]), a->vals[i]);
    }
}

#define CMP_U64(a, b, sub) assert_true (*(a) == *(b))
#define CMP_I64(a, b, sub) assert_true (*(a) == *(b))
#define CMP_BOOL(a, b, sub) assert_true (*(a) == *(b))
#define CMP_STR(a, b, sub) cmp_str (*(a), *(b))
#define CMP_BIN(a, b, sub) cmp_bin ((a), (b))
#define CMP_STRLIST(a, b, sub) cmp_strlist ((a), (b))
#define CMP_STRMAP(a, b, sub) cmp_strmap ((a), (b))
#define CMP_REC(a, b, sub)                                                     \
  if (!*(a) || !*(b))                                                          \
    assert_ptr_equal (*(a), *(b));                                             \
  else                                                                         \
    cmp_##sub (*(a), *(b))
#define CMP_RECLIST(a, b, sub)                                                 \
  assert_int_equal ((a)->n, (b)->n);                                           \
  for (size_t i_ = 0; i_ < (a)->n; i_++)                                       \
  cmp_##sub (&(a)->v[i_], &(b)->v[i_])

#define MU_RECORD(name, doc)                                                   \
  static void cmp_##name (const mu_##name##_t *a, const mu_##name##_t *b)      \
  {
#define MU_RECORD_END(name) }
#define MU_MESSAGE(NAME, name, wire, doc) MU_RECORD (name, doc)
#define MU_MESSAGE_END(name) }
#define MU_FIELD(owner, KIND, f, sub, req, doc)                                \
  {                                                                            \
    CMP_##KIND (&a->f, &b->f, sub);                                            \
  }
#include "common/proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD

/* A message of `type` with every field (full) or only required ones set;
 * everything is malloc'd, so mu_msg_clear() releases it. */
static void
fill_msg (mu_msg_t *m, mu_msg_type_t type, bool full, uint64_t seed)
{
  gen_t gs = { seed * 0x9E3779B97F4A7C15ull + 1 }, *g = &gs;
  memset (m, 0, sizeof *m);
  m->type = type;
  switch (type)
    {
#define MU_RECORD(name, doc)
#define MU_RECORD_END(name)
#define MU_MESSAGE(NAME, name, wire, doc)                                      \
  case MU_MSG_##NAME:                                                          \
    fill_##name (g, &m->u.name, full);                                         \
    break;
#define MU_MESSAGE_END(name)
#define MU_FIELD(owner, KIND, f, sub, req, doc)
#include "common/proto_schema.def"
    default:
      fail ();
    }
#undef MU_MESSAGE
}

static void
cmp_msg (const mu_msg_t *a, const mu_msg_t *b)
{
  assert_int_equal (a->type, b->type);
  switch (a->type)
    {
#define MU_MESSAGE(NAME, name, wire, doc)                                      \
  case MU_MSG_##NAME:                                                          \
    cmp_##name (&a->u.name, &b->u.name);                                       \
    break;
#include "common/proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD
    default:
      fail ();
    }
}

/* --------------------------------------------------------------- helpers */

static void
encode_ok (const mu_msg_t *m, char **buf, size_t *len)
{
  assert_int_equal (mu_msg_encode (m, buf, len), 0);
  assert_non_null (*buf);
  assert_true (*len > 0);
}

/* Decoding must fail with `code`, leave *out empty and explain itself;
 * `errsub` (if any) must appear in the explanation. */
static void
expect_fail (const void *buf, size_t len, int code, const char *errsub)
{
  mu_msg_t m;
  char err[256];
  memset (err, 'X', sizeof err);
  int rc = mu_msg_decode (buf, len, &m, err, sizeof err);
  if (rc != code)
    fail_msg ("decode returned %s (%s), expected %s", muster_err_name (rc), err,
              muster_err_name (code));
  assert_int_equal (m.type, MU_MSG_NONE);
  assert_true (strlen (err) > 0);
  if (errsub && !strstr (err, errsub))
    fail_msg ("error \"%s\" does not mention \"%s\"", err, errsub);
}

static void
expect_fail_sb (msgpack_sbuffer *sb, int code, const char *errsub)
{
  expect_fail (sb->data, sb->size, code, errsub);
  msgpack_sbuffer_destroy (sb);
}

/* Round-trip one type; then every proper prefix must fail cleanly. */
static void
roundtrip (mu_msg_type_t type, bool full)
{
  mu_msg_t a, b;
  char *buf, *buf2, err[256];
  size_t len, len2;
  fill_msg (&a, type, full, (uint64_t)type * 2 + full);
  encode_ok (&a, &buf, &len);
  assert_int_equal (mu_msg_decode (buf, len, &b, err, sizeof err), 0);
  assert_string_equal (err, "");
  cmp_msg (&a, &b);
  encode_ok (&b, &buf2, &len2); /* the encoding is canonical */
  assert_int_equal (len, len2);
  assert_memory_equal (buf, buf2, len);
  for (size_t n = 0; n < len; n++)
    expect_fail (buf, n, MUSTER_EPROTO, n ? "truncated" : "empty");
  free (buf);
  free (buf2);
  mu_msg_clear (&a);
  mu_msg_clear (&b);
  assert_int_equal (a.type, MU_MSG_NONE);
}

#define MU_RECORD(name, doc)
#define MU_RECORD_END(name)
#define MU_MESSAGE(NAME, name, wire, doc)                                      \
  static void test_rt_##name (void **state)                                    \
  {                                                                            \
    (void)state;                                                               \
    assert_string_equal (mu_msg_name (MU_MSG_##NAME), wire);                   \
    roundtrip (MU_MSG_##NAME, true);                                           \
    roundtrip (MU_MSG_##NAME, false);                                          \
  }
#define MU_MESSAGE_END(name)
#define MU_FIELD(owner, KIND, f, sub, req, doc)
#include "common/proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD

/* ------------------------------------------ mutating a valid encoding */

typedef enum
{
  M_SET,
  M_DROP,
  M_DUP,
  M_ADD
} mop_t;

static msgpack_object *
step (msgpack_object *o, const char *seg, size_t *idx)
{
  if (o->type == MSGPACK_OBJECT_ARRAY)
    {
      *idx = strtoul (seg, NULL, 10);
      assert_true (*idx < o->via.array.size);
      return &o->via.array.ptr[*idx];
    }
  assert_int_equal (o->type, MSGPACK_OBJECT_MAP);
  for (uint32_t i = 0; i < o->via.map.size; i++)
    {
      msgpack_object *k = &o->via.map.ptr[i].key;
      if ((seg[0] == '#' && i == strtoul (seg + 1, NULL, 10))
          || (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen (seg)
              && memcmp (k->via.str.ptr, seg, k->via.str.size) == 0))
        {
          *idx = i;
          return &o->via.map.ptr[i].val;
        }
    }
  fail_msg ("no key %s", seg);
  return NULL;
}

/* Grow container o by one slot at the end, in the unpacked zone. */
static void *
grow (msgpack_zone *z, msgpack_object *o)
{
  bool map = o->type == MSGPACK_OBJECT_MAP;
  size_t esz = map ? sizeof (msgpack_object_kv) : sizeof (msgpack_object);
  uint32_t n = map ? o->via.map.size : o->via.array.size;
  char *p = msgpack_zone_malloc (z, esz * (n + 1));
  memcpy (p, map ? (void *)o->via.map.ptr : (void *)o->via.array.ptr, esz * n);
  if (map)
    o->via.map.ptr = (msgpack_object_kv *)p, o->via.map.size++;
  else
    o->via.array.ptr = (msgpack_object *)p, o->via.array.size++;
  return p + esz * n;
}

/* Re-pack a valid encoding with one change: M_SET replaces the value at
 * path, M_DROP removes the entry, M_DUP repeats it, M_ADD adds (key, val)
 * to the map at path ("" for the top).  A map step is a key or "#i" (the
 * i-th entry), an array step an index. */
static void
mutate (const char *in, size_t inlen, const char *path, mop_t op,
        const msgpack_object *key, const msgpack_object *val,
        msgpack_sbuffer *out)
{
  msgpack_unpacked u;
  msgpack_unpacked_init (&u);
  size_t off = 0, idx = 0;
  assert_int_equal (msgpack_unpack_next (&u, in, inlen, &off),
                    MSGPACK_UNPACK_SUCCESS);
  char buf[128], *segs[16], *save = NULL;
  int nseg = 0;
  snprintf (buf, sizeof buf, "%s", path);
  for (char *s = strtok_r (buf, ".", &save); s; s = strtok_r (NULL, ".", &save))
    segs[nseg++] = s;
  msgpack_object *cur = &u.data, *parent = NULL;
  for (int i = 0; i < nseg; i++)
    parent = cur, cur = step (cur, segs[i], &idx);
  bool in_map = parent && parent->type == MSGPACK_OBJECT_MAP;
  if (op == M_ADD)
    *(msgpack_object_kv *)grow (u.zone, cur)
        = (msgpack_object_kv){ .key = *key, .val = *val };
  else if (op == M_SET)
    *cur = *val;
  else if (op == M_DUP && in_map)
    {
      msgpack_object_kv kv = parent->via.map.ptr[idx];
      *(msgpack_object_kv *)grow (u.zone, parent) = kv;
    }
  else if (op == M_DROP && in_map)
    {
      msgpack_object_kv *p = parent->via.map.ptr;
      memmove (p + idx, p + idx + 1,
               (--parent->via.map.size - idx) * sizeof *p);
    }
  else
    fail_msg ("unsupported mutation at %s", path);
  msgpack_sbuffer_init (out);
  msgpack_packer pk;
  msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
  assert_int_equal (msgpack_pack_object (&pk, u.data), 0);
  msgpack_unpacked_destroy (&u);
}

/* clang-format off */
#define O_STR(s) { .type = MSGPACK_OBJECT_STR, .via.str = { sizeof (s) - 1, s } }
#define O_U64(x) { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = (x) }
#define O_NEG(x) { .type = MSGPACK_OBJECT_NEGATIVE_INTEGER, .via.i64 = (x) }
#define O_OF(t) { .type = MSGPACK_OBJECT_##t }

/* Replacement values for mutate(). */
static const msgpack_object o_str_x = O_STR ("x");
static const msgpack_object o_str_nul = O_STR ("a\0b");
static const msgpack_object o_str_1 = O_STR ("1");
static const msgpack_object o_str_nope = O_STR ("no.such");
static const msgpack_object o_str_empty = O_STR ("");
static const msgpack_object o_key_zzz = O_STR ("zzz");
static const msgpack_object o_u2 = O_U64 (2);
static const msgpack_object o_u3 = O_U64 (3);
static const msgpack_object o_big = O_U64 (UINT64_C (1) << 63);
static const msgpack_object o_neg = O_NEG (-1);
static const msgpack_object o_nil = O_OF (NIL);
static const msgpack_object o_arr = O_OF (ARRAY);
static const msgpack_object o_map = O_OF (MAP);
static const msgpack_object o_true
    = { .type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = true };
static const msgpack_object o_float
    = { .type = MSGPACK_OBJECT_FLOAT64, .via.f64 = 1.5 };
static const msgpack_object o_bin
    = { .type = MSGPACK_OBJECT_BIN, .via.bin = { 2, "ab" } };
/* {"A": "1", "A": "2"} */
static msgpack_object_kv dup_kv[2]
    = { { O_STR ("A"), O_STR ("1") }, { O_STR ("A"), O_STR ("2") } };
static const msgpack_object o_dupmap
    = { .type = MSGPACK_OBJECT_MAP, .via.map = { 2, dup_kv } };
/* {"A\0B": "1"} */
static msgpack_object_kv nulkey_kv[1] = { { O_STR ("A\0B"), O_STR ("1") } };
static const msgpack_object o_nulkeymap
    = { .type = MSGPACK_OBJECT_MAP, .via.map = { 1, nulkey_kv } };
/* [{}, 9]: the value of an unknown key */
static msgpack_object o_arr_maps[2] = { O_OF (MAP), O_U64 (9) };
static const msgpack_object o_unknown
    = { .type = MSGPACK_OBJECT_ARRAY, .via.array = { 2, o_arr_maps } };
/* clang-format on */

typedef struct mcase
{
  mu_msg_type_t type;
  const char *path;
  mop_t op;
  const msgpack_object *val;
  int code; /* 0: must decode (M_ADD: to a message equal to the original) */
  const char *errsub;
} mcase_t;

#define E_PROTO MUSTER_EPROTO
static const mcase_t mcases[] = {
  /* wrong types, at every kind and depth */
  { MU_MSG_START, "epoch", M_SET, &o_str_x, E_PROTO,
    "job.start: field 'epoch': expected unsigned integer, got str" },
  { MU_MSG_START, "epoch", M_SET, &o_neg, E_PROTO, "got negative integer" },
  { MU_MSG_START, "epoch", M_SET, &o_float, E_PROTO, "got float" },
  { MU_MSG_START, "epoch", M_SET, &o_nil, E_PROTO, "got nil" },
  { MU_MSG_START, "job", M_SET, &o_u3, E_PROTO, "'job': expected str" },
  { MU_MSG_START, "job", M_SET, &o_bin, E_PROTO, "expected str, got bin" },
  { MU_MSG_START, "job", M_SET, &o_nil, E_PROTO, "expected str, got nil" },
  { MU_MSG_START, "spec", M_SET, &o_arr, E_PROTO, "'spec': expected map" },
  { MU_MSG_START, "spec.roles", M_SET, &o_map, E_PROTO, "array of maps" },
  { MU_MSG_START, "spec.roles.0", M_SET, &o_u3, E_PROTO,
    "'spec.roles[0]': expected map, got unsigned" },
  { MU_MSG_START, "spec.roles.0.nproc", M_SET, &o_str_x, E_PROTO,
    "job.start: field 'spec.roles[0].nproc': expected unsigned integer" },
  { MU_MSG_START, "spec.argv", M_SET, &o_str_x, E_PROTO, "array of str" },
  { MU_MSG_START, "spec.argv.0", M_SET, &o_u3, E_PROTO, "'spec.argv[0]'" },
  { MU_MSG_START, "spec.env", M_SET, &o_arr, E_PROTO, "map of str to str" },
  { MU_MSG_START, "spec.env.#0", M_SET, &o_u3, E_PROTO, "'spec.env[0]'" },
  { MU_MSG_START, "nodes.0.port_base", M_SET, &o_true, E_PROTO, "got bool" },
  { MU_MSG_RDZV_PROGRESS, "waiting", M_SET, &o_u3, E_PROTO,
    "'waiting': expected bool" },
  { MU_MSG_RDZV_PROGRESS, "last_call_ms", M_SET, &o_big, E_PROTO,
    "exceeds INT64_MAX" },
  { MU_MSG_RDZV_PROGRESS, "last_call_ms", M_SET, &o_str_x, E_PROTO,
    "expected integer" },
  { MU_MSG_KV_PUT, "value", M_SET, &o_u3, E_PROTO, "expected bin" },
  { MU_MSG_KV_PUT, "value", M_SET, &o_nil, E_PROTO, "expected bin, got nil" },
  /* embedded NUL */
  { MU_MSG_START, "job", M_SET, &o_str_nul, E_PROTO, "NUL" },
  { MU_MSG_START, "spec.argv.0", M_SET, &o_str_nul, E_PROTO, "NUL" },
  { MU_MSG_START, "spec.env", M_SET, &o_nulkeymap, E_PROTO, "NUL" },
  /* duplicates */
  { MU_MSG_START, "job", M_DUP, NULL, E_PROTO, "'job': key appears twice" },
  { MU_MSG_START, "spec.roles.0.name", M_DUP, NULL, E_PROTO, "twice" },
  { MU_MSG_START, "v", M_DUP, NULL, E_PROTO, "twice" },
  { MU_MSG_START, "t", M_DUP, NULL, E_PROTO, "twice" },
  { MU_MSG_START, "spec.env", M_SET, &o_dupmap, E_PROTO, "key 'A' appears" },
  /* missing required fields */
  { MU_MSG_START, "epoch", M_DROP, NULL, E_PROTO,
    "job.start: field 'epoch': required field is missing" },
  { MU_MSG_START, "spec", M_DROP, NULL, E_PROTO, "'spec': required" },
  { MU_MSG_START, "assign", M_DROP, NULL, E_PROTO, "'assign': required" },
  { MU_MSG_START, "spec.roles.0.nproc", M_DROP, NULL, E_PROTO,
    "'spec.roles[0].nproc': required" },
  { MU_MSG_KV_PUT, "value", M_DROP, NULL, E_PROTO, "'value': required" },
  /* header */
  { MU_MSG_START, "v", M_DROP, NULL, E_PROTO, "'v' is missing" },
  { MU_MSG_START, "t", M_DROP, NULL, E_PROTO, "'t' is missing" },
  { MU_MSG_START, "v", M_SET, &o_u2, MUSTER_EVERSION, "version 2" },
  { MU_MSG_START, "v", M_SET, &o_str_1, E_PROTO, "not an unsigned" },
  { MU_MSG_START, "v", M_SET, &o_neg, E_PROTO, "not an unsigned" },
  { MU_MSG_START, "t", M_SET, &o_str_nope, MUSTER_ETYPE, "'no.such'" },
  { MU_MSG_START, "t", M_SET, &o_str_empty, MUSTER_ETYPE, "unknown" },
  { MU_MSG_START, "t", M_SET, &o_str_nul, MUSTER_ETYPE, "'a?b'" },
  { MU_MSG_START, "t", M_SET, &o_u3, E_PROTO, "'t' is a unsigned" },
  /* accepted: optional nil or dropped, bin as str, unknown keys */
  { MU_MSG_START, "spec.cwd", M_SET, &o_nil, 0, NULL },
  { MU_MSG_START, "spec.cwd", M_DROP, NULL, 0, NULL },
  { MU_MSG_START, "spec.env", M_SET, &o_nil, 0, NULL },
  { MU_MSG_KV_PUT, "value", M_SET, &o_str_x, 0, NULL },
  { MU_MSG_START, "", M_ADD, &o_unknown, 0, NULL },
  { MU_MSG_START, "spec", M_ADD, &o_unknown, 0, NULL },
  { MU_MSG_START, "nodes.1", M_ADD, &o_unknown, 0, NULL },
};

static void
test_mutations (void **state)
{
  (void)state;
  for (size_t i = 0; i < sizeof mcases / sizeof mcases[0]; i++)
    {
      const mcase_t *mc = &mcases[i];
      mu_msg_t a, b;
      char *buf;
      size_t len;
      msgpack_sbuffer sb;
      fill_msg (&a, mc->type, true, 7);
      encode_ok (&a, &buf, &len);
      mutate (buf, len, mc->path, mc->op, &o_key_zzz, mc->val, &sb);
      if (mc->code)
        expect_fail_sb (&sb, mc->code, mc->errsub);
      else
        {
          char err[256];
          int rc = mu_msg_decode (sb.data, sb.size, &b, err, sizeof err);
          if (rc)
            fail_msg ("case %zu (%s): %s", i, mc->path, err);
          msgpack_sbuffer_destroy (&sb);
          if (mc->op == M_ADD)
            cmp_msg (&a, &b);
          mu_msg_clear (&b);
        }
      free (buf);
      mu_msg_clear (&a);
    }
}

static void
test_optional_absent (void **state)
{
  (void)state;
  mu_msg_t a, b;
  char *buf, *buf2;
  size_t len, len2;
  fill_msg (&a, MU_MSG_KV_PUT, true, 3);
  encode_ok (&a, &buf, &len);
  msgpack_sbuffer sb;
  mutate (buf, len, "value", M_SET, NULL, &o_str_x, &sb);
  assert_int_equal (mu_msg_decode (sb.data, sb.size, &b, NULL, 0), 0);
  assert_int_equal (b.u.kv_put.value.len, 1);
  assert_int_equal (b.u.kv_put.value.ptr[0], 'x');
  mu_msg_clear (&b);
  msgpack_sbuffer_destroy (&sb);
  free (buf);
  mu_msg_clear (&a);
  /* cwd nil and cwd absent both decode to NULL */
  fill_msg (&a, MU_MSG_START, true, 3);
  encode_ok (&a, &buf, &len);
  mutate (buf, len, "spec.cwd", M_SET, NULL, &o_nil, &sb);
  assert_int_equal (mu_msg_decode (sb.data, sb.size, &b, NULL, 0), 0);
  assert_null (b.u.start.spec->cwd);
  free (a.u.start.spec->cwd);
  a.u.start.spec->cwd = NULL;
  cmp_msg (&a, &b);
  encode_ok (&b, &buf2, &len2);
  assert_true (len2 < len);
  msgpack_sbuffer_destroy (&sb);
  free (buf);
  free (buf2);
  mu_msg_clear (&a);
  mu_msg_clear (&b);
}

/* ------------------------------------------------- hand-packed messages */

typedef struct pk
{
  msgpack_sbuffer sb;
  msgpack_packer p;
} pk_t;

static void
pk_init (pk_t *k)
{
  msgpack_sbuffer_init (&k->sb);
  msgpack_packer_init (&k->p, &k->sb, msgpack_sbuffer_write);
}

static void
pk_str (pk_t *k, const char *s)
{
  msgpack_pack_str (&k->p, strlen (s));
  msgpack_pack_str_body (&k->p, s, strlen (s));
}

/* {"v": 1, "t": "job.stop", "job": "j", "epoch": 1, "grace_ms": 2, +extra
 * pairs the caller packs}. */
static void
pk_stop (pk_t *k, size_t extra)
{
  pk_init (k);
  msgpack_pack_map (&k->p, 5 + extra);
  pk_str (k, "v");
  msgpack_pack_uint8 (&k->p, MU_PROTO_VERSION);
  pk_str (k, "t");
  pk_str (k, "job.stop");
  pk_str (k, "job");
  pk_str (k, "j");
  pk_str (k, "epoch");
  msgpack_pack_uint8 (&k->p, 1);
  pk_str (k, "grace_ms");
  msgpack_pack_uint8 (&k->p, 2);
}

static void
test_hand_packed_ok (void **state)
{
  (void)state;
  pk_t k;
  mu_msg_t m;
  pk_stop (&k, 1);
  pk_str (&k, "reason"); /* int8 packing of a small positive is fine too */
  pk_str (&k, "r");
  assert_int_equal (mu_msg_decode (k.sb.data, k.sb.size, &m, NULL, 0), 0);
  assert_int_equal (m.type, MU_MSG_STOP);
  assert_string_equal (m.u.stop.job, "j");
  assert_int_equal (m.u.stop.epoch, 1);
  assert_int_equal (m.u.stop.grace_ms, 2);
  assert_string_equal (m.u.stop.reason, "r");
  mu_msg_clear (&m);
  msgpack_sbuffer_destroy (&k.sb);
  /* signed msgpack ints with non-negative values are unsigned to us */
  pk_init (&k);
  msgpack_pack_map (&k.p, 3);
  pk_str (&k, "v");
  msgpack_pack_int64 (&k.p, 1);
  pk_str (&k, "t");
  pk_str (&k, "worker.bye");
  pk_str (&k, "rank");
  msgpack_pack_fix_int32 (&k.p, 5);
  assert_int_equal (mu_msg_decode (k.sb.data, k.sb.size, &m, NULL, 0), 0);
  assert_int_equal (m.u.bye.rank, 5);
  mu_msg_clear (&m);
  msgpack_sbuffer_destroy (&k.sb);
}

static void
test_not_a_map (void **state)
{
  (void)state;
  static const struct
  {
    const char *bytes;
    size_t len;
    const char *sub;
  } cases[] = {
    { "\x92\x01\x02", 3, "is a array" },
    { "\x05", 1, "unsigned" },
    { "\xa1x", 2, "is a str" },
    { "\xc0", 1, "is a nil" },
    { "\xcb\0\0\0\0\0\0\0\0", 9, "float" },
    { "\x80", 1, "'v' is missing" },
    { "\xc1", 1, "reserved" },
    { "\x81\x01\x02", 3, "'v' is missing" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_fail (cases[i].bytes, cases[i].len, MUSTER_EPROTO, cases[i].sub);
  expect_fail ("", 0, MUSTER_EPROTO, "empty");
  expect_fail (NULL, 5, MUSTER_EPROTO, "empty");
  mu_msg_t m;
  assert_int_equal (mu_msg_decode ("\x80", 1, NULL, NULL, 0), MUSTER_EINVAL);
  assert_int_equal (mu_msg_decode ("\x80", 1, &m, NULL, 0), MUSTER_EPROTO);
  /* a non-str key is refused even when it is not a field name */
  pk_t k;
  pk_stop (&k, 1);
  msgpack_pack_uint8 (&k.p, 7);
  msgpack_pack_nil (&k.p);
  expect_fail_sb (&k.sb, MUSTER_EPROTO, "key 5 is a unsigned");
}

static void
test_trailing (void **state)
{
  (void)state;
  mu_msg_t a;
  char *buf;
  size_t len;
  fill_msg (&a, MU_MSG_HEARTBEAT, true, 1);
  encode_ok (&a, &buf, &len);
  char *two = malloc (2 * len);
  memcpy (two, buf, len);
  memcpy (two + len, buf, len);
  expect_fail (two, len + 1, MUSTER_EPROTO, "1 trailing bytes");
  expect_fail (two, 2 * len, MUSTER_EPROTO, "trailing");
  free (two);
  free (buf);
  mu_msg_clear (&a);
}

static void
test_bounds (void **state)
{
  (void)state;
  pk_t k;
  /* declared sizes over the bounds, no body: refused before allocating */
  pk_stop (&k, 1);
  pk_str (&k, "reason");
  msgpack_pack_str (&k.p, MU_PROTO_MAX_STR + 1);
  expect_fail_sb (&k.sb, MUSTER_ETOOBIG, "exceeds the bound");
  pk_stop (&k, 1);
  pk_str (&k, "extra");
  msgpack_pack_array (&k.p, MU_PROTO_MAX_LIST + 1);
  expect_fail_sb (&k.sb, MUSTER_ETOOBIG, "exceeds the bound");
  pk_stop (&k, 1);
  pk_str (&k, "extra");
  msgpack_pack_map (&k.p, UINT32_MAX);
  expect_fail_sb (&k.sb, MUSTER_ETOOBIG, "exceeds the bound");
  /* within the bounds but longer than the input: truncated */
  pk_stop (&k, 1);
  pk_str (&k, "extra");
  msgpack_pack_array (&k.p, MU_PROTO_MAX_LIST);
  expect_fail_sb (&k.sb, MUSTER_EPROTO, "truncated");
  expect_fail ("\xdd\x0f\xff\xff\xff\x01", 6, MUSTER_ETOOBIG, "bound");
  /* a real string one byte over the bound */
  size_t big = MU_PROTO_MAX_STR + 1;
  char *s = malloc (big);
  memset (s, 'a', big);
  pk_stop (&k, 1);
  pk_str (&k, "reason");
  msgpack_pack_str (&k.p, big);
  msgpack_pack_str_body (&k.p, s, big);
  expect_fail_sb (&k.sb, MUSTER_ETOOBIG, "16777217");
  /* a real list one over the bound (of nils, under an unknown key) */
  pk_stop (&k, 1);
  pk_str (&k, "extra");
  msgpack_pack_array (&k.p, MU_PROTO_MAX_LIST + 1);
  for (size_t i = 0; i < MU_PROTO_MAX_LIST + 1; i++)
    msgpack_pack_nil (&k.p);
  expect_fail_sb (&k.sb, MUSTER_ETOOBIG, "entries");
  /* ... and exactly at the bound: accepted and skipped */
  pk_stop (&k, 1);
  pk_str (&k, "extra");
  msgpack_pack_array (&k.p, MU_PROTO_MAX_LIST);
  for (size_t i = 0; i < MU_PROTO_MAX_LIST; i++)
    msgpack_pack_nil (&k.p);
  mu_msg_t m;
  assert_int_equal (mu_msg_decode (k.sb.data, k.sb.size, &m, NULL, 0), 0);
  mu_msg_clear (&m);
  msgpack_sbuffer_destroy (&k.sb);
  /* nine lists at the bound: more objects than a message may hold */
  pk_stop (&k, 9);
  for (int l = 0; l < 9; l++)
    {
      char key[8];
      snprintf (key, sizeof key, "x%d", l);
      pk_str (&k, key);
      msgpack_pack_array (&k.p, MU_PROTO_MAX_LIST);
      for (size_t i = 0; i < MU_PROTO_MAX_LIST; i++)
        msgpack_pack_nil (&k.p);
    }
  expect_fail_sb (&k.sb, MUSTER_ETOOBIG, "objects");
  /* the whole message over MU_PROTO_MAX_MSG: refused unread */
  char *huge = calloc (1, (size_t)MU_PROTO_MAX_MSG + 1);
  expect_fail (huge, (size_t)MU_PROTO_MAX_MSG + 1, MUSTER_ETOOBIG, "bound");
  free (huge);
  /* the encoder refuses what the decoder would */
  s[big - 1] = '\0';
  mu_msg_t e = { .type = MU_MSG_STOP };
  e.u.stop.job = s;
  char *buf;
  size_t len;
  assert_int_equal (mu_msg_encode (&e, &buf, &len), 0);
  free (buf);
  s[big - 1] = 'a';
  s = realloc (s, big + 1);
  s[big] = '\0';
  e.u.stop.job = s;
  assert_int_equal (mu_msg_encode (&e, &buf, &len), MUSTER_ETOOBIG);
  assert_null (buf);
  free (s);
}

static void
test_depth (void **state)
{
  (void)state;
  for (int depth = 14; depth <= 40; depth += 26)
    {
      pk_t k;
      pk_stop (&k, 1);
      pk_str (&k, "extra"); /* the top map is depth 1 */
      for (int i = 0; i < depth; i++)
        msgpack_pack_array (&k.p, 1);
      msgpack_pack_nil (&k.p);
      if (depth > 15)
        expect_fail_sb (&k.sb, MUSTER_EPROTO, "nested deeper");
      else
        {
          mu_msg_t m;
          assert_int_equal (mu_msg_decode (k.sb.data, k.sb.size, &m, NULL, 0),
                            0);
          mu_msg_clear (&m);
          msgpack_sbuffer_destroy (&k.sb);
        }
    }
}

static void
test_err_buffer (void **state)
{
  (void)state;
  char err[8];
  mu_msg_t m;
  memset (err, 'X', sizeof err);
  assert_int_equal (mu_msg_decode ("\x05", 1, &m, err, sizeof err),
                    MUSTER_EPROTO);
  assert_int_equal (strlen (err), sizeof err - 1);
  err[0] = 'X';
  assert_int_equal (mu_msg_decode ("\x05", 1, &m, err, 0), MUSTER_EPROTO);
  assert_int_equal (err[0], 'X');
}

static void
test_encode_errors (void **state)
{
  (void)state;
  char *buf = (char *)1;
  size_t len = 1;
  mu_msg_t m = { .type = MU_MSG_NONE };
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_ETYPE);
  assert_null (buf);
  assert_int_equal (len, 0);
  m.type = (mu_msg_type_t)999;
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_ETYPE);
  assert_int_equal (mu_msg_encode (NULL, &buf, &len), MUSTER_EINVAL);
  assert_int_equal (mu_msg_encode (&m, NULL, &len), MUSTER_EINVAL);
  /* required string missing */
  m = (mu_msg_t){ .type = MU_MSG_STOP };
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_EPROTO);
  /* borrowed memory is fine for encoding */
  m.u.stop.job = "j";
  assert_int_equal (mu_msg_encode (&m, &buf, &len), 0);
  free (buf);
  /* required record missing */
  m = (mu_msg_t){ .type = MU_MSG_CTL_SUBMIT };
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_EPROTO);
  /* string map: NULL key, repeated key */
  char *keys[2] = { "A", "A" }, *vals[2] = { "1", "2" };
  mu_job_spec_t spec = { .id = "j", .env = { keys, vals, 2 } };
  m.u.ctl_submit.job = &spec;
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_EPROTO);
  keys[1] = NULL;
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_EPROTO);
  keys[1] = "B";
  assert_int_equal (mu_msg_encode (&m, &buf, &len), 0);
  free (buf);
  /* NULL string in a list, list without storage, bin without bytes */
  char *argv[2] = { "a", NULL };
  spec.argv = (mu_strlist_t){ argv, 2 };
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_EPROTO);
  spec.argv = (mu_strlist_t){ NULL, 2 };
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_EPROTO);
  spec.argv = (mu_strlist_t){ NULL, MU_PROTO_MAX_LIST + 1 };
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_ETOOBIG);
  m = (mu_msg_t){ .type = MU_MSG_REPLY };
  m.u.reply.job = "j";
  m.u.reply.value.len = 3;
  assert_int_equal (mu_msg_encode (&m, &buf, &len), MUSTER_EPROTO);
}

/* ----------------------------------------------------- never crash loops */

static void
test_byte_flips (void **state)
{
  (void)state;
  gen_t g = { 0x5eed };
  int decoded = 0;
  for (int t = MU_MSG_NONE + 1; t < MU_MSG__COUNT; t++)
    {
      mu_msg_t a, b, c;
      char *buf, *re;
      size_t len, relen;
      fill_msg (&a, (mu_msg_type_t)t, t % 2, (uint64_t)t);
      encode_ok (&a, &buf, &len);
      char *mut = malloc (len);
      for (int it = 0; it < 250; it++)
        {
          memcpy (mut, buf, len);
          int flips = 1 + (int)(gen_next (&g) % 4);
          for (int f = 0; f < flips; f++)
            mut[gen_next (&g) % len] ^= (char)(1 + gen_next (&g) % 255);
          size_t n = gen_next (&g) % 8 ? len : gen_next (&g) % len;
          if (mu_msg_decode (mut, n, &b, NULL, 0) != 0)
            {
              assert_int_equal (b.type, MU_MSG_NONE);
              continue;
            }
          decoded++; /* whatever decodes must re-encode to the same */
          encode_ok (&b, &re, &relen);
          assert_int_equal (mu_msg_decode (re, relen, &c, NULL, 0), 0);
          cmp_msg (&b, &c);
          free (re);
          mu_msg_clear (&b);
          mu_msg_clear (&c);
        }
      free (mut);
      free (buf);
      mu_msg_clear (&a);
    }
  print_message ("byte flips: %d of %d mutants decoded\n", decoded,
                 250 * (MU_MSG__COUNT - 1));
}

static void
test_random_bytes (void **state)
{
  (void)state;
  gen_t g = { 0xfeed };
  uint8_t buf[96];
  for (int it = 0; it < 4000; it++)
    {
      size_t n = gen_next (&g) % sizeof buf;
      for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)gen_next (&g);
      if (n && it % 2)
        buf[0] = 0x80 | (buf[0] & 0x0f); /* a fixmap, to get further */
      mu_msg_t m;
      if (mu_msg_decode (buf, n, &m, NULL, 0) == 0)
        mu_msg_clear (&m);
      assert_int_equal (m.type, MU_MSG_NONE);
    }
}

/* ------------------------------------------------------ the other calls */

static void
test_job_spec_dup (void **state)
{
  (void)state;
  for (int full = 0; full < 2; full++)
    {
      mu_msg_t a, b;
      fill_msg (&a, MU_MSG_CTL_SUBMIT, full, 11);
      fill_msg (&b, MU_MSG_CTL_SUBMIT, full, 11);
      mu_job_spec_t *copy = mu_job_spec_dup (a.u.ctl_submit.job);
      assert_non_null (copy);
      assert_ptr_not_equal (copy->id, a.u.ctl_submit.job->id);
      assert_ptr_not_equal (copy->roles.v, a.u.ctl_submit.job->roles.v);
      assert_ptr_not_equal (copy->roles.v[0].name,
                            a.u.ctl_submit.job->roles.v[0].name);
      assert_ptr_not_equal (copy->argv.v, a.u.ctl_submit.job->argv.v);
      mu_msg_clear (&a); /* the copy outlives its message */
      cmp_job_spec (copy, b.u.ctl_submit.job);
      mu_job_spec_free (&copy);
      assert_null (copy);
      mu_msg_clear (&b);
    }
  assert_null (mu_job_spec_dup (NULL));
  mu_job_spec_free (NULL);
  mu_job_spec_t *none = NULL;
  mu_job_spec_free (&none);
}

static void
test_strmap_get (void **state)
{
  (void)state;
  char *keys[] = { "A", "B" }, *vals[] = { "1", "2" };
  mu_strmap_t m = { keys, vals, 2 }, empty = { 0 };
  assert_string_equal (mu_strmap_get (&m, "A"), "1");
  assert_string_equal (mu_strmap_get (&m, "B"), "2");
  assert_null (mu_strmap_get (&m, "C"));
  assert_null (mu_strmap_get (&m, NULL));
  assert_null (mu_strmap_get (NULL, "A"));
  assert_null (mu_strmap_get (&empty, "A"));
}

static void
test_names_and_clear (void **state)
{
  (void)state;
  for (int i = MU_MSG_NONE + 1; i < MU_MSG__COUNT; i++)
    {
      assert_string_not_equal (mu_msg_name ((mu_msg_type_t)i), "?");
      for (int j = MU_MSG_NONE + 1; j < i; j++)
        assert_string_not_equal (mu_msg_name ((mu_msg_type_t)i),
                                 mu_msg_name ((mu_msg_type_t)j));
    }
  assert_string_equal (mu_msg_name (MU_MSG_NONE), "?");
  assert_string_equal (mu_msg_name (MU_MSG__COUNT), "?");
  assert_string_equal (mu_msg_name ((mu_msg_type_t)-1), "?");
  assert_string_equal (mu_msg_name (MU_MSG_REGISTER), "agent.register");
  mu_msg_t m = { .type = MU_MSG_NONE };
  mu_msg_clear (&m);
  mu_msg_clear (NULL);
  m.type = (mu_msg_type_t)999;
  mu_msg_clear (&m);
  assert_int_equal (m.type, MU_MSG_NONE);
}

/* (zsim) One job.start to many nodes: the shared part encoded once, each
 * node's own fields (node_rank, assign, nodes) added to it, decodes to the
 * message with that node's fields; no own field is the whole message; an
 * unknown field name or another type is refused. */
static void
test_split_encode (void **state)
{
  (void)state;
  mu_msg_t a, b, d;
  fill_msg (&a, MU_MSG_START, true, 1);
  fill_msg (&b, MU_MSG_START, true, 2);
  static const char *const own[] = { "node_rank", "assign", "nodes", NULL };
  mu_msg_split_t sp;
  assert_int_equal (mu_msg_split_encode (&a, own, &sp), 0);
  char *buf;
  size_t len;
  assert_int_equal (mu_msg_split_finish (&sp, &b, &buf, &len), 0);
  char err[256];
  assert_int_equal (mu_msg_decode (buf, len, &d, err, sizeof err), 0);
  mu_msg_t e = a; /* a's fields, b's own ones (borrowed, not freed) */
  e.u.start.node_rank = b.u.start.node_rank;
  e.u.start.assign = b.u.start.assign;
  e.u.start.nodes = b.u.start.nodes;
  cmp_msg (&d, &e);
  assert_true (d.u.start.node_rank != a.u.start.node_rank
               || d.u.start.assign.n != a.u.start.assign.n
               || d.u.start.nodes.n != a.u.start.nodes.n
               || strcmp (d.u.start.nodes.v[0].node_id,
                          a.u.start.nodes.v[0].node_id) != 0);
  mu_msg_clear (&d);
  free (buf);
  mu_msg_split_free (&sp);

  /* Nothing of its own: the same bytes as mu_msg_encode. */
  char *whole;
  size_t wlen;
  encode_ok (&a, &whole, &wlen);
  assert_int_equal (mu_msg_split_encode (&a, NULL, &sp), 0);
  assert_int_equal (mu_msg_split_finish (&sp, &b, &buf, &len), 0);
  assert_int_equal (len, wlen);
  assert_memory_equal (buf, whole, len);
  free (buf);
  free (whole);

  /* Another type to finish with. */
  mu_msg_t other;
  fill_msg (&other, MU_MSG_STOP, true, 3);
  assert_int_equal (mu_msg_split_finish (&sp, &other, &buf, &len),
                    MUSTER_EINVAL);
  mu_msg_clear (&other);
  mu_msg_split_free (&sp);
  assert_null (sp.buf);

  static const char *const bad[] = { "node_rank", "no_such_field", NULL };
  assert_int_equal (mu_msg_split_encode (&a, bad, &sp), MUSTER_EINVAL);
  assert_null (sp.buf);
  mu_msg_clear (&a);
  mu_msg_clear (&b);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
#define MU_RECORD(name, doc)
#define MU_RECORD_END(name)
#define MU_MESSAGE(NAME, name, wire, doc) cmocka_unit_test (test_rt_##name),
#define MU_MESSAGE_END(name)
#define MU_FIELD(owner, KIND, f, sub, req, doc)
#include "common/proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD
    cmocka_unit_test (test_mutations),
    cmocka_unit_test (test_optional_absent),
    cmocka_unit_test (test_hand_packed_ok),
    cmocka_unit_test (test_not_a_map),
    cmocka_unit_test (test_trailing),
    cmocka_unit_test (test_bounds),
    cmocka_unit_test (test_depth),
    cmocka_unit_test (test_err_buffer),
    cmocka_unit_test (test_encode_errors),
    cmocka_unit_test (test_byte_flips),
    cmocka_unit_test (test_random_bytes),
    cmocka_unit_test (test_job_spec_dup),
    cmocka_unit_test (test_strmap_get),
    cmocka_unit_test (test_split_encode),
    cmocka_unit_test (test_names_and_clear),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
