/*
 * proto.h — C view of the wire protocol declared in proto_schema.def.
 *
 * The schema file is included several times with different definitions of
 * its macros: once for the record and message structs, once for the message
 * type enum, and (in proto.c) once for the descriptor tables that drive the
 * codec.  So a message is a plain C struct (`mu_start_t`), a tagged union
 * (`mu_msg_t`) carries any of them, and the codec needs no per-message code.
 *
 * Ownership: a decoded message owns every string, list and record inside it
 * and must be released with mu_msg_clear().  A message built by hand for
 * encoding may point at borrowed memory; it is only read by mu_msg_encode()
 * and must not be passed to mu_msg_clear().
 *
 * Bounds (decode never trusts its input): a message is at most
 * MU_PROTO_MAX_MSG bytes, a string or binary at most MU_PROTO_MAX_STR, a list
 * or map at most MU_PROTO_MAX_LIST entries.  Anything over a bound, of the
 * wrong msgpack type, missing a required field, of an unknown type or of
 * another version is refused with a negative code and a message in `err`.
 */
#ifndef MU_PROTO_H
#define MU_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MU_PROTO_VERSION 1
#define MU_PROTO_MAX_MSG (64u << 20)
#define MU_PROTO_MAX_STR (16u << 20)
#define MU_PROTO_MAX_LIST (1u << 20)

typedef struct mu_bin {
  uint8_t *ptr;
  size_t len;
} mu_bin_t;

typedef struct mu_strlist {
  char **v; /* n NUL-terminated strings */
  size_t n;
} mu_strlist_t;

typedef struct mu_strmap {
  char **keys;
  char **vals;
  size_t n;
} mu_strmap_t;

/* ------------------------------------------------------- generated structs */

#define MU_CTYPE_U64(f, sub) uint64_t f;
#define MU_CTYPE_I64(f, sub) int64_t f;
#define MU_CTYPE_BOOL(f, sub) bool f;
#define MU_CTYPE_STR(f, sub) char *f;
#define MU_CTYPE_BIN(f, sub) mu_bin_t f;
#define MU_CTYPE_STRLIST(f, sub) mu_strlist_t f;
#define MU_CTYPE_STRMAP(f, sub) mu_strmap_t f;
#define MU_CTYPE_REC(f, sub) struct mu_##sub *f;
#define MU_CTYPE_RECLIST(f, sub)                                               \
  struct {                                                                     \
    struct mu_##sub *v;                                                        \
    size_t n;                                                                  \
  } f;

#define MU_RECORD(name, doc) typedef struct mu_##name {
#define MU_RECORD_END(name)                                                    \
  }                                                                            \
  mu_##name##_t;
#define MU_MESSAGE(NAME, name, wire, doc) typedef struct mu_##name {
#define MU_MESSAGE_END(name)                                                   \
  }                                                                            \
  mu_##name##_t;
#define MU_FIELD(owner, KIND, f, sub, req, doc) MU_CTYPE_##KIND(f, sub)
#include "proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD

/* ------------------------------------------------------- message type enum */

typedef enum mu_msg_type {
  MU_MSG_NONE = 0,
#define MU_RECORD(name, doc)
#define MU_RECORD_END(name)
#define MU_MESSAGE(NAME, name, wire, doc) MU_MSG_##NAME,
#define MU_MESSAGE_END(name)
#define MU_FIELD(owner, KIND, f, sub, req, doc)
#include "proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD
  MU_MSG__COUNT
} mu_msg_type_t;

/* A message of any type: `type` selects the member of `u`, which is named
 * after the schema's lower-case message name (u.start, u.kv_put, ...). */
typedef struct mu_msg {
  mu_msg_type_t type;
  union {
#define MU_RECORD(name, doc)
#define MU_RECORD_END(name)
#define MU_MESSAGE(NAME, name, wire, doc) mu_##name##_t name;
#define MU_MESSAGE_END(name)
#define MU_FIELD(owner, KIND, f, sub, req, doc)
#include "proto_schema.def"
#undef MU_RECORD
#undef MU_RECORD_END
#undef MU_MESSAGE
#undef MU_MESSAGE_END
#undef MU_FIELD
  } u;
} mu_msg_t;

/* ------------------------------------------------------------------ codec */

/* Encode `msg` as one msgpack map.  On success *buf is a malloc'd buffer the
 * caller owns and must free(); *len is its size.  Returns 0 or a negative
 * code: MUSTER_ETYPE for a bad type, MUSTER_EPROTO for a NULL required
 * string or record (or anything a decoder would refuse), MUSTER_ETOOBIG
 * for a field or message over its bound, MUSTER_EINVAL for NULL
 * arguments, -ENOMEM.  Optional fields that are NULL or empty are left
 * out.  "v" and "t" are reserved: no field may be named so. */
int mu_msg_encode (const mu_msg_t *msg, char **buf, size_t *len);

/* Decode one message from `data`.  On success *out is filled and owns its
 * contents (release with mu_msg_clear()).  On failure *out is left empty
 * (type MU_MSG_NONE, nothing to free) and, if `err` is not NULL, a sentence
 * naming the problem is written into it.  Never crashes on any input; this is
 * the fuzzer's entry point. */
int mu_msg_decode (const void *data, size_t len, mu_msg_t *out, char *err,
                   size_t errlen);

/* The same, for a message kept on disk in a format of its own (the
 * checkpoint MANIFEST): "v" is `version`, the format's, not
 * MU_PROTO_VERSION, so the wire protocol can move on without making
 * stored files unreadable. */
int mu_msg_encode_v (const mu_msg_t *msg, uint64_t version, char **buf,
                     size_t *len);

/* Decode a stored message whose "v" is a format version of its own: any
 * "v" from 1 to `vmax` is accepted; another is MUSTER_EVERSION.  *found
 * (if not NULL) gets the "v" read (0 when there was none to read), so the
 * caller can name the version it cannot read. */
int mu_msg_decode_v (const void *data, size_t len, uint64_t vmax,
                     uint64_t *found, mu_msg_t *out, char *err, size_t errlen);

/* (zsim) One message to many peers, encoded once except for the fields
 * each peer gets its own value of (job.start: node_rank, assign, nodes).
 * mu_msg_split_encode encodes the header and every present field of msg
 * not named in `own` (a NULL-terminated list of the message's field
 * names; MUSTER_EINVAL for a name it does not have); mu_msg_split_finish
 * then makes a whole message of that part and the `own` fields of `msg`
 * (a message of the same type; its other fields are not read): the same
 * map mu_msg_encode would make, its keys in another order, which a
 * decoder does not mind.  *buf is malloc'd and the caller's.  Errors as
 * mu_msg_encode's.  mu_msg_split_free releases the shared part. */
typedef struct mu_msg_split {
  mu_msg_type_t type;
  uint64_t own;   /* bit i: field i is each peer's own */
  size_t nshared; /* map entries in buf ("v" and "t" included) */
  char *buf;      /* the shared entries, without the map header */
  size_t len;
} mu_msg_split_t;
int mu_msg_split_encode (const mu_msg_t *msg, const char *const *own,
                         mu_msg_split_t *out);
int mu_msg_split_finish (const mu_msg_split_t *split, const mu_msg_t *msg,
                         char **buf, size_t *len);
void mu_msg_split_free (mu_msg_split_t *split);

/* Free everything a decoded message owns and reset it to MU_MSG_NONE.
 * Accepts a message of type MU_MSG_NONE. */
void mu_msg_clear (mu_msg_t *msg);

/* Wire name ("job.start") of a type, or "?" for an unknown one. */
const char *mu_msg_name (mu_msg_type_t type);

/* Deep copy helpers for records that outlive the message they came in.
 * The copy is malloc'd; the caller owns it and frees it with the matching
 * _free.  Returns NULL on allocation failure. */
mu_job_spec_t *mu_job_spec_dup (const mu_job_spec_t *spec);
void mu_job_spec_free (mu_job_spec_t **spec_p);

/* Look up a key in a string map; returns the value or NULL. */
const char *mu_strmap_get (const mu_strmap_t *map, const char *key);

#endif
