/*
 * proto.c — the table-driven msgpack codec of proto.h: tables and encoder.
 *
 * DESIGN.  proto_schema.def is included once more here to build the
 * descriptors of proto_desc.h: for every record and message its size and an
 * array of field descriptors (name, kind, offset, required, sub-record).
 * Encoding, freeing and deep copying are each one generic walk over those
 * tables (decoding, the walk over untrusted input, is in proto_decode.c), so
 * adding a message to the schema needs no code here.
 *
 * Wire format: a message is the msgpack map {"v": MU_PROTO_VERSION,
 * "t": "<wire name>", <field>: <value>, ...}; a nested record is a map of its
 * fields.  Absent optional fields are omitted on encode: a NULL STR or REC,
 * an empty BIN, STRLIST, STRMAP or RECLIST.  Integers and bools are always
 * written, required fields always (a NULL required STR or REC is
 * MUSTER_EPROTO).  The encoder also refuses what every decoder would: a
 * string or list over its bound, a string map with a repeated key, a
 * message over MU_PROTO_MAX_MSG.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "common/proto.h"
#include "common/proto_desc.h"
#include "muster/error.h"

/* ------------------------------------------------------ descriptor tables */

/* clang-format off */
#define MU_FX_U64(o, f, s)
#define MU_FX_I64(o, f, s)
#define MU_FX_BOOL(o, f, s)
#define MU_FX_STR(o, f, s)
#define MU_FX_BIN(o, f, s)
#define MU_FX_STRLIST(o, f, s)
#define MU_FX_STRMAP(o, f, s)
#define MU_FX_REC(o, f, s) .sub = &mu_rec_##s,
#define MU_FX_RECLIST(o, f, s)                                                 \
  .sub = &mu_rec_##s, .count_off = offsetof (struct mu_##o, f.n),

#define MU_DESC_END(name)                                                      \
  };                                                                           \
  _Static_assert (MU_NELEM (mu_fields_##name) <= 64,                           \
                  "a record's fields must fit a 64-bit mask");                 \
  static const mu_rec_desc_t mu_rec_##name                                     \
      = { #name, sizeof (struct mu_##name), mu_fields_##name,                  \
          MU_NELEM (mu_fields_##name) };

#define MU_RECORD(name, doc) static const mu_field_desc_t mu_fields_##name[] = {
#define MU_RECORD_END(name) MU_DESC_END (name)
#define MU_MESSAGE(NAME, name, wire, doc)                                      \
  static const mu_field_desc_t mu_fields_##name[] = {
#define MU_MESSAGE_END(name) MU_DESC_END (name)
#define MU_FIELD(owner, KIND, f, sub, req, doc)                                \
  { .name = #f,                                                                \
    .namelen = sizeof (#f) - 1,                                                \
    .kind = MU_KIND_##KIND,                                                    \
    .offset = offsetof (struct mu_##owner, f),                                 \
    .required = (req),                                                         \
    MU_FX_##KIND (owner, f, sub) },
#include "proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD

static const mu_msg_desc_t mu_msgs[MU_MSG__COUNT] = {
#define MU_RECORD(name, doc)
#define MU_RECORD_END(name)
#define MU_MESSAGE(NAME, name, wire, doc)                                      \
  [MU_MSG_##NAME] = { wire, sizeof (wire) - 1, &mu_rec_##name },
#define MU_MESSAGE_END(name)
#define MU_FIELD(owner, KIND, f, sub, req, doc)
#include "proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD
};

/* clang-format on */

const mu_msg_desc_t *
mu_proto_msg_desc (mu_msg_type_t type)
{
  if ((int)type <= MU_MSG_NONE || type >= MU_MSG__COUNT)
    return NULL;
  return &mu_msgs[type];
}

char *
mu_proto_strndup (const char *s, size_t n)
{
  char *d = malloc (n + 1);
  if (d)
    {
      if (n)
        memcpy (d, s, n);
      d[n] = '\0';
    }
  return d;
}

static int
mu_cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

int
mu_proto_keys_dup (char *const *keys, size_t n, const char **dup)
{
  if (n <= 16)
    {
      for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
          if (strcmp (keys[i], keys[j]) == 0)
            return *dup = keys[i], 1;
      return 0;
    }
  char **tmp = malloc (n * sizeof *tmp);
  if (!tmp)
    return -ENOMEM;
  memcpy (tmp, keys, n * sizeof *tmp);
  qsort (tmp, n, sizeof *tmp, mu_cmp_str);
  int found = 0;
  for (size_t i = 1; i < n && !found; i++)
    if (strcmp (tmp[i - 1], tmp[i]) == 0)
      {
        *dup = tmp[i];
        found = 1;
      }
  free (tmp);
  return found;
}

/* ---------------------------------------------------------- free and copy */

static void
mu_field_free (const mu_field_desc_t *fd, void *rec)
{
  switch (fd->kind)
    {
    case MU_KIND_STR:
      free (*MU_AT (rec, fd, char *));
      break;
    case MU_KIND_BIN:
      free (MU_AT (rec, fd, mu_bin_t)->ptr);
      break;
    case MU_KIND_STRLIST:
      {
        mu_strlist_t *l = MU_AT (rec, fd, mu_strlist_t);
        for (size_t i = 0; l->v && i < l->n; i++)
          free (l->v[i]);
        free (l->v);
        break;
      }
    case MU_KIND_STRMAP:
      {
        mu_strmap_t *m = MU_AT (rec, fd, mu_strmap_t);
        for (size_t i = 0; m->keys && m->vals && i < m->n; i++)
          {
            free (m->keys[i]);
            free (m->vals[i]);
          }
        free (m->keys);
        free (m->vals);
        break;
      }
    case MU_KIND_REC:
      {
        void *p = mu_ptr_get (rec, fd->offset);
        if (p)
          mu_proto_rec_free (fd->sub, p);
        free (p);
        break;
      }
    case MU_KIND_RECLIST:
      {
        char *v = mu_ptr_get (rec, fd->offset);
        for (size_t i = 0; v && i < *MU_COUNT (rec, fd); i++)
          mu_proto_rec_free (fd->sub, v + i * fd->sub->size);
        free (v);
        break;
      }
    default:
      break;
    }
}

void
mu_proto_rec_free (const mu_rec_desc_t *d, void *rec)
{
  for (size_t i = 0; i < d->nfields; i++)
    mu_field_free (&d->fields[i], rec);
}

static int mu_rec_copy (const mu_rec_desc_t *d, void *dst, const void *src);

static int
mu_strlist_copy (mu_strlist_t *d, const mu_strlist_t *s)
{
  if (!s->v || s->n == 0)
    return 0;
  if (!(d->v = calloc (s->n, sizeof *d->v)))
    return -ENOMEM;
  d->n = s->n;
  for (size_t i = 0; i < s->n; i++)
    if (s->v[i] && !(d->v[i] = mu_proto_strndup (s->v[i], strlen (s->v[i]))))
      return -ENOMEM;
  return 0;
}

static int
mu_strmap_copy (mu_strmap_t *d, const mu_strmap_t *s)
{
  if (!s->keys || !s->vals || s->n == 0)
    return 0;
  d->keys = calloc (s->n, sizeof *d->keys);
  d->vals = calloc (s->n, sizeof *d->vals);
  if (!d->keys || !d->vals)
    return -ENOMEM; /* mu_proto_rec_free releases either */
  d->n = s->n;
  for (size_t i = 0; i < s->n; i++)
    {
      if (s->keys[i]
          && !(d->keys[i] = mu_proto_strndup (s->keys[i], strlen (s->keys[i]))))
        return -ENOMEM;
      if (s->vals[i]
          && !(d->vals[i] = mu_proto_strndup (s->vals[i], strlen (s->vals[i]))))
        return -ENOMEM;
    }
  return 0;
}

static int
mu_reclist_copy (const mu_field_desc_t *fd, void *dst, const void *src)
{
  const char *sv = mu_ptr_get (src, fd->offset);
  size_t n = *MU_COUNT_C (src, fd);
  if (!sv || n == 0)
    return 0;
  char *dv = calloc (n, fd->sub->size);
  if (!dv)
    return -ENOMEM;
  mu_ptr_set (dst, fd->offset, dv);
  *MU_COUNT (dst, fd) = n;
  for (size_t i = 0; i < n; i++)
    {
      size_t off = i * fd->sub->size;
      int rc = mu_rec_copy (fd->sub, dv + off, sv + off);
      if (rc)
        return rc;
    }
  return 0;
}

static int
mu_field_copy (const mu_field_desc_t *fd, void *dst, const void *src)
{
  switch (fd->kind)
    {
    case MU_KIND_U64:
      *MU_AT (dst, fd, uint64_t) = *MU_AT_C (src, fd, uint64_t);
      return 0;
    case MU_KIND_I64:
      *MU_AT (dst, fd, int64_t) = *MU_AT_C (src, fd, int64_t);
      return 0;
    case MU_KIND_BOOL:
      *MU_AT (dst, fd, bool) = *MU_AT_C (src, fd, bool);
      return 0;
    case MU_KIND_STR:
      {
        const char *s = *MU_AT_C (src, fd, char *);
        if (s && !(*MU_AT (dst, fd, char *) = mu_proto_strndup (s, strlen (s))))
          return -ENOMEM;
        return 0;
      }
    case MU_KIND_BIN:
      {
        const mu_bin_t *s = MU_AT_C (src, fd, mu_bin_t);
        mu_bin_t *d = MU_AT (dst, fd, mu_bin_t);
        if (!s->ptr || s->len == 0)
          return 0;
        if (!(d->ptr = malloc (s->len)))
          return -ENOMEM;
        memcpy (d->ptr, s->ptr, s->len);
        d->len = s->len;
        return 0;
      }
    case MU_KIND_STRLIST:
      return mu_strlist_copy (MU_AT (dst, fd, mu_strlist_t),
                              MU_AT_C (src, fd, mu_strlist_t));
    case MU_KIND_STRMAP:
      return mu_strmap_copy (MU_AT (dst, fd, mu_strmap_t),
                             MU_AT_C (src, fd, mu_strmap_t));
    case MU_KIND_REC:
      {
        const void *s = mu_ptr_get (src, fd->offset);
        if (!s)
          return 0;
        void *d = calloc (1, fd->sub->size);
        if (!d)
          return -ENOMEM;
        mu_ptr_set (dst, fd->offset, d);
        return mu_rec_copy (fd->sub, d, s);
      }
    case MU_KIND_RECLIST:
      return mu_reclist_copy (fd, dst, src);
    }
  return MUSTER_EINTERNAL;
}

/* Deep-copy src into the zeroed dst.  On failure dst is left partly built
 * but consistent: the caller releases it with mu_proto_rec_free(). */
static int
mu_rec_copy (const mu_rec_desc_t *d, void *dst, const void *src)
{
  for (size_t i = 0; i < d->nfields; i++)
    {
      int rc = mu_field_copy (&d->fields[i], dst, src);
      if (rc)
        return rc;
    }
  return 0;
}

/* ----------------------------------------------------------------- encode */

#define MU_PK(call)                                                            \
  do                                                                           \
    {                                                                          \
      if ((call) != 0)                                                         \
        return -ENOMEM;                                                        \
    }                                                                          \
  while (0)

static int mu_encode_rec (msgpack_packer *pk, const mu_rec_desc_t *d,
                          const void *rec);

static int
mu_pack_str (msgpack_packer *pk, const char *s)
{
  if (!s)
    return MUSTER_EPROTO;
  size_t n = strlen (s);
  if (n > MU_PROTO_MAX_STR)
    return MUSTER_ETOOBIG;
  MU_PK (msgpack_pack_str (pk, n));
  MU_PK (msgpack_pack_str_body (pk, s, n));
  return 0;
}

static int
mu_pack_bin (msgpack_packer *pk, const mu_bin_t *b)
{
  if (b->len > MU_PROTO_MAX_STR)
    return MUSTER_ETOOBIG;
  if (b->len && !b->ptr)
    return MUSTER_EPROTO;
  MU_PK (msgpack_pack_bin (pk, b->len));
  MU_PK (msgpack_pack_bin_body (pk, b->ptr, b->len));
  return 0;
}

static int
mu_pack_strlist (msgpack_packer *pk, const mu_strlist_t *l)
{
  if (l->n > MU_PROTO_MAX_LIST)
    return MUSTER_ETOOBIG;
  if (l->n && !l->v)
    return MUSTER_EPROTO;
  MU_PK (msgpack_pack_array (pk, l->n));
  for (size_t i = 0; i < l->n; i++)
    {
      int rc = mu_pack_str (pk, l->v[i]);
      if (rc)
        return rc;
    }
  return 0;
}

static int
mu_pack_strmap (msgpack_packer *pk, const mu_strmap_t *m)
{
  if (m->n > MU_PROTO_MAX_LIST)
    return MUSTER_ETOOBIG;
  if (m->n && (!m->keys || !m->vals))
    return MUSTER_EPROTO;
  for (size_t i = 0; i < m->n; i++)
    if (!m->keys[i])
      return MUSTER_EPROTO;
  const char *dup;
  int rc = mu_proto_keys_dup (m->keys, m->n, &dup);
  if (rc)
    return rc < 0 ? rc : MUSTER_EPROTO; /* the receiver would refuse it */
  MU_PK (msgpack_pack_map (pk, m->n));
  for (size_t i = 0; i < m->n; i++)
    if ((rc = mu_pack_str (pk, m->keys[i]))
        || (rc = mu_pack_str (pk, m->vals[i])))
      return rc;
  return 0;
}

static int
mu_pack_reclist (msgpack_packer *pk, const mu_field_desc_t *fd, const void *rec)
{
  const char *v = mu_ptr_get (rec, fd->offset);
  size_t n = *MU_COUNT_C (rec, fd);
  if (n > MU_PROTO_MAX_LIST)
    return MUSTER_ETOOBIG;
  if (n && !v)
    return MUSTER_EPROTO;
  MU_PK (msgpack_pack_array (pk, n));
  for (size_t i = 0; i < n; i++)
    {
      int rc = mu_encode_rec (pk, fd->sub, v + i * fd->sub->size);
      if (rc)
        return rc;
    }
  return 0;
}

static int
mu_pack_field (msgpack_packer *pk, const mu_field_desc_t *fd, const void *rec)
{
  switch (fd->kind)
    {
    case MU_KIND_U64:
      MU_PK (msgpack_pack_uint64 (pk, *MU_AT_C (rec, fd, uint64_t)));
      return 0;
    case MU_KIND_I64:
      MU_PK (msgpack_pack_int64 (pk, *MU_AT_C (rec, fd, int64_t)));
      return 0;
    case MU_KIND_BOOL:
      MU_PK (*MU_AT_C (rec, fd, bool) ? msgpack_pack_true (pk)
                                      : msgpack_pack_false (pk));
      return 0;
    case MU_KIND_STR:
      return mu_pack_str (pk, *MU_AT_C (rec, fd, char *));
    case MU_KIND_BIN:
      return mu_pack_bin (pk, MU_AT_C (rec, fd, mu_bin_t));
    case MU_KIND_STRLIST:
      return mu_pack_strlist (pk, MU_AT_C (rec, fd, mu_strlist_t));
    case MU_KIND_STRMAP:
      return mu_pack_strmap (pk, MU_AT_C (rec, fd, mu_strmap_t));
    case MU_KIND_REC:
      {
        const void *p = mu_ptr_get (rec, fd->offset);
        return p ? mu_encode_rec (pk, fd->sub, p) : MUSTER_EPROTO;
      }
    case MU_KIND_RECLIST:
      return mu_pack_reclist (pk, fd, rec);
    }
  return MUSTER_EINTERNAL;
}

/* Is a field written?  Required ones always are (a NULL one then fails). */
static bool
mu_field_present (const mu_field_desc_t *fd, const void *rec)
{
  if (fd->required)
    return true;
  switch (fd->kind)
    {
    case MU_KIND_STR:
      return *MU_AT_C (rec, fd, char *) != NULL;
    case MU_KIND_REC:
      return mu_ptr_get (rec, fd->offset) != NULL;
    case MU_KIND_BIN:
      return MU_AT_C (rec, fd, mu_bin_t)->len > 0;
    case MU_KIND_STRLIST:
      return MU_AT_C (rec, fd, mu_strlist_t)->n > 0;
    case MU_KIND_STRMAP:
      return MU_AT_C (rec, fd, mu_strmap_t)->n > 0;
    case MU_KIND_RECLIST:
      return *MU_COUNT_C (rec, fd) > 0;
    default:
      return true;
    }
}

/* Write the present fields of a record as key/value pairs. */
static int
mu_pack_fields (msgpack_packer *pk, const mu_rec_desc_t *d, const void *rec)
{
  for (size_t i = 0; i < d->nfields; i++)
    {
      const mu_field_desc_t *fd = &d->fields[i];
      if (!mu_field_present (fd, rec))
        continue;
      MU_PK (msgpack_pack_str (pk, fd->namelen));
      MU_PK (msgpack_pack_str_body (pk, fd->name, fd->namelen));
      int rc = mu_pack_field (pk, fd, rec);
      if (rc)
        return rc;
    }
  return 0;
}

static size_t
mu_count_present (const mu_rec_desc_t *d, const void *rec)
{
  size_t n = 0;
  for (size_t i = 0; i < d->nfields; i++)
    n += mu_field_present (&d->fields[i], rec);
  return n;
}

static int
mu_encode_rec (msgpack_packer *pk, const mu_rec_desc_t *d, const void *rec)
{
  MU_PK (msgpack_pack_map (pk, mu_count_present (d, rec)));
  return mu_pack_fields (pk, d, rec);
}

static int
mu_encode_msg (msgpack_packer *pk, const mu_msg_desc_t *md, const void *rec,
               uint64_t version)
{
  MU_PK (msgpack_pack_map (pk, 2 + mu_count_present (md->rec, rec)));
  MU_PK (msgpack_pack_str (pk, 1));
  MU_PK (msgpack_pack_str_body (pk, "v", 1));
  MU_PK (msgpack_pack_uint64 (pk, version));
  MU_PK (msgpack_pack_str (pk, 1));
  MU_PK (msgpack_pack_str_body (pk, "t", 1));
  MU_PK (msgpack_pack_str (pk, md->wirelen));
  MU_PK (msgpack_pack_str_body (pk, md->wire, md->wirelen));
  return mu_pack_fields (pk, md->rec, rec);
}

int
mu_msg_encode (const mu_msg_t *msg, char **buf, size_t *len)
{
  return mu_msg_encode_v (msg, MU_PROTO_VERSION, buf, len);
}

int
mu_msg_encode_v (const mu_msg_t *msg, uint64_t version, char **buf,
                 size_t *len)
{
  if (!msg || !buf || !len || version == 0)
    return MUSTER_EINVAL;
  *buf = NULL;
  *len = 0;
  const mu_msg_desc_t *md = mu_proto_msg_desc (msg->type);
  if (!md)
    return MUSTER_ETYPE;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init (&sb);
  msgpack_packer pk;
  msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
  int rc = mu_encode_msg (&pk, md, &msg->u, version);
  if (rc == 0 && sb.size > MU_PROTO_MAX_MSG)
    rc = MUSTER_ETOOBIG;
  if (rc)
    {
      msgpack_sbuffer_destroy (&sb);
      return rc;
    }
  *len = sb.size;
  *buf = msgpack_sbuffer_release (&sb); /* malloc'd by sbuffer_write */
  return 0;
}

/* ------------------------------------------- one message to many peers */

/* (zsim) Bit i set: field i of d is named in `own`.  MUSTER_EINVAL for a
 * name the record does not have. */
static int
mu_own_mask (const mu_rec_desc_t *d, const char *const *own, uint64_t *mask)
{
  *mask = 0;
  for (size_t k = 0; own != NULL && own[k] != NULL; k++)
    {
      size_t i = 0;
      while (i < d->nfields && strcmp (d->fields[i].name, own[k]) != 0)
        i++;
      if (i == d->nfields || i >= 64)
        return MUSTER_EINVAL;
      *mask |= UINT64_C (1) << i;
    }
  return 0;
}

int
mu_msg_split_encode (const mu_msg_t *msg, const char *const *own,
                     mu_msg_split_t *out)
{
  if (!msg || !out)
    return MUSTER_EINVAL;
  memset (out, 0, sizeof *out);
  const mu_msg_desc_t *md = mu_proto_msg_desc (msg->type);
  if (!md)
    return MUSTER_ETYPE;
  int rc = mu_own_mask (md->rec, own, &out->own);
  if (rc != 0)
    return rc;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init (&sb);
  msgpack_packer pk;
  msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
  size_t n = 2;
  if (msgpack_pack_str (&pk, 1) != 0 || msgpack_pack_str_body (&pk, "v", 1) != 0
      || msgpack_pack_uint64 (&pk, MU_PROTO_VERSION) != 0
      || msgpack_pack_str (&pk, 1) != 0
      || msgpack_pack_str_body (&pk, "t", 1) != 0
      || msgpack_pack_str (&pk, md->wirelen) != 0
      || msgpack_pack_str_body (&pk, md->wire, md->wirelen) != 0)
    rc = -ENOMEM;
  for (size_t i = 0; rc == 0 && i < md->rec->nfields; i++)
    {
      const mu_field_desc_t *fd = &md->rec->fields[i];
      if ((out->own >> i) & 1 || !mu_field_present (fd, &msg->u))
        continue;
      if (msgpack_pack_str (&pk, fd->namelen) != 0
          || msgpack_pack_str_body (&pk, fd->name, fd->namelen) != 0)
        rc = -ENOMEM;
      else
        rc = mu_pack_field (&pk, fd, &msg->u);
      n++;
    }
  if (rc == 0 && sb.size > MU_PROTO_MAX_MSG)
    rc = MUSTER_ETOOBIG;
  if (rc != 0)
    {
      msgpack_sbuffer_destroy (&sb);
      return rc;
    }
  out->type = msg->type;
  out->nshared = n;
  out->len = sb.size;
  out->buf = msgpack_sbuffer_release (&sb);
  return 0;
}

int
mu_msg_split_finish (const mu_msg_split_t *split, const mu_msg_t *msg,
                     char **buf, size_t *len)
{
  if (!split || !msg || !buf || !len || msg->type != split->type)
    return MUSTER_EINVAL;
  *buf = NULL;
  *len = 0;
  const mu_msg_desc_t *md = mu_proto_msg_desc (msg->type);
  if (!md)
    return MUSTER_ETYPE;
  size_t n = split->nshared;
  for (size_t i = 0; i < md->rec->nfields; i++)
    if ((split->own >> i) & 1)
      n += mu_field_present (&md->rec->fields[i], &msg->u);
  msgpack_sbuffer sb;
  msgpack_sbuffer_init (&sb);
  msgpack_packer pk;
  msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
  int rc = 0;
  if (msgpack_pack_map (&pk, n) != 0
      || msgpack_sbuffer_write (&sb, split->buf, split->len) != 0)
    rc = -ENOMEM;
  for (size_t i = 0; rc == 0 && i < md->rec->nfields; i++)
    {
      const mu_field_desc_t *fd = &md->rec->fields[i];
      if (!((split->own >> i) & 1) || !mu_field_present (fd, &msg->u))
        continue;
      if (msgpack_pack_str (&pk, fd->namelen) != 0
          || msgpack_pack_str_body (&pk, fd->name, fd->namelen) != 0)
        rc = -ENOMEM;
      else
        rc = mu_pack_field (&pk, fd, &msg->u);
    }
  if (rc == 0 && sb.size > MU_PROTO_MAX_MSG)
    rc = MUSTER_ETOOBIG;
  if (rc != 0)
    {
      msgpack_sbuffer_destroy (&sb);
      return rc;
    }
  *len = sb.size;
  *buf = msgpack_sbuffer_release (&sb);
  return 0;
}

void
mu_msg_split_free (mu_msg_split_t *split)
{
  if (split == NULL)
    return;
  free (split->buf);
  memset (split, 0, sizeof *split);
}

/* --------------------------------------------------------- the rest of API */

void
mu_msg_clear (mu_msg_t *msg)
{
  if (!msg)
    return;
  const mu_msg_desc_t *md = mu_proto_msg_desc (msg->type);
  if (md)
    mu_proto_rec_free (md->rec, &msg->u);
  memset (msg, 0, sizeof *msg);
}

const char *
mu_msg_name (mu_msg_type_t type)
{
  const mu_msg_desc_t *md = mu_proto_msg_desc (type);
  return md ? md->wire : "?";
}

mu_job_spec_t *
mu_job_spec_dup (const mu_job_spec_t *spec)
{
  if (!spec)
    return NULL;
  mu_job_spec_t *copy = calloc (1, sizeof *copy);
  if (!copy)
    return NULL;
  if (mu_rec_copy (&mu_rec_job_spec, copy, spec) != 0)
    {
      mu_proto_rec_free (&mu_rec_job_spec, copy);
      free (copy);
      return NULL;
    }
  return copy;
}

void
mu_job_spec_free (mu_job_spec_t **spec_p)
{
  if (!spec_p || !*spec_p)
    return;
  mu_proto_rec_free (&mu_rec_job_spec, *spec_p);
  free (*spec_p);
  *spec_p = NULL;
}

const char *
mu_strmap_get (const mu_strmap_t *map, const char *key)
{
  if (!map || !key || !map->keys)
    return NULL;
  for (size_t i = 0; i < map->n; i++)
    if (map->keys[i] && strcmp (map->keys[i], key) == 0)
      return map->vals ? map->vals[i] : NULL;
  return NULL;
}
