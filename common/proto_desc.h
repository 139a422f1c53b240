/*
 * proto_desc.h — the descriptor tables behind the codec (private to
 * proto.c and proto_decode.c).
 *
 * proto.c includes proto_schema.def once more to build, for every record
 * and message, a mu_rec_desc_t: the C struct's size and one mu_field_desc_t
 * per field (name, kind, offset, required, sub-record).  Encoding, decoding,
 * freeing and deep copying are each one generic walk over these tables.
 * proto.c holds the tables and the trusted-side walks (encode, free, copy);
 * proto_decode.c holds the walk over untrusted input.
 */
#ifndef MU_PROTO_DESC_H
#define MU_PROTO_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "common/proto.h"

#define MU_NELEM(a) (sizeof (a) / sizeof ((a)[0]))

typedef enum mu_kind
{
  MU_KIND_U64,
  MU_KIND_I64,
  MU_KIND_BOOL,
  MU_KIND_STR,
  MU_KIND_BIN,
  MU_KIND_STRLIST,
  MU_KIND_STRMAP,
  MU_KIND_REC,
  MU_KIND_RECLIST
} mu_kind_t;

typedef struct mu_rec_desc mu_rec_desc_t;

typedef struct mu_field_desc
{
  const char *name;
  size_t namelen;
  mu_kind_t kind;
  size_t offset;    /* of the field (RECLIST: of its `v`) */
  size_t count_off; /* RECLIST: offset of its `n` */
  bool required;
  const mu_rec_desc_t *sub; /* REC, RECLIST: the record; else NULL */
} mu_field_desc_t;

struct mu_rec_desc
{
  const char *name;
  size_t size; /* sizeof the C struct, also the RECLIST element size */
  const mu_field_desc_t *fields;
  size_t nfields; /* at most 64 (checked at compile time) */
};

typedef struct mu_msg_desc
{
  const char *wire; /* "job.start" */
  size_t wirelen;
  const mu_rec_desc_t *rec;
} mu_msg_desc_t;

/* Field access: a field of `type` at fd->offset inside the struct rec. */
#define MU_AT(rec, fd, type) ((type *)((char *)(rec) + (fd)->offset))
#define MU_AT_C(rec, fd, type)                                                 \
  ((const type *)((const char *)(rec) + (fd)->offset))
#define MU_COUNT(rec, fd) ((size_t *)((char *)(rec) + (fd)->count_off))
#define MU_COUNT_C(rec, fd)                                                    \
  ((const size_t *)((const char *)(rec) + (fd)->count_off))

/* REC and RECLIST members have record-specific pointer types; the codec
 * reads and writes them as the object representation of a pointer. */
static inline void *
mu_ptr_get (const void *rec, size_t off)
{
  void *p;
  memcpy (&p, (const char *)rec + off, sizeof p);
  return p;
}

static inline void
mu_ptr_set (void *rec, size_t off, void *p)
{
  memcpy ((char *)rec + off, &p, sizeof p);
}

/* The descriptor of a message type, or NULL for NONE or out of range. */
const mu_msg_desc_t *mu_proto_msg_desc (mu_msg_type_t type);

/* Free everything a record owns (not the record itself).  The record may
 * be partly built as long as every count matches its allocated array. */
void mu_proto_rec_free (const mu_rec_desc_t *d, void *rec);

/* Does a string map repeat a key?  Returns 1 with *dup set, 0, or -ENOMEM.
 * Every key must be non-NULL. */
int mu_proto_keys_dup (char *const *keys, size_t n, const char **dup);

/* malloc'd copy of n bytes plus a NUL, or NULL. */
char *mu_proto_strndup (const char *s, size_t n);

#endif
