/*
 * journal_codec.h — the journal's own msgpack writer and readers (private
 * to coordinator/journal_*.c).  See journal_codec.c for why the journal
 * does not use the wire codec.
 */
#ifndef MU_JOURNAL_CODEC_H
#define MU_JOURNAL_CODEC_H

#include <msgpack.h>
#include <stdint.h>

#include "coordinator/journal_image.h"

struct mu_jenc
{
  msgpack_sbuffer body;
  msgpack_packer pk;
  uint32_t n; /* entries written */
  int rc;
};

int mu_jenc_init (mu_jenc_t *e);
void mu_jenc_destroy (mu_jenc_t *e);
/* Start a record map: v, t and id. */
void mu_jenc_head (mu_jenc_t *e, const char *kind, const char *id);
void mu_jenc_u64 (mu_jenc_t *e, const char *k, uint64_t v);
void mu_jenc_i64 (mu_jenc_t *e, const char *k, int64_t v);
/* NULL `s`: the entry is left out. */
void mu_jenc_str (mu_jenc_t *e, const char *k, const char *s);
void mu_jenc_raw (mu_jenc_t *e, const char *k, const char *buf, size_t len);
/* Finish the map into a malloc'd buffer (the caller frees); releases e. */
int mu_jenc_finish (mu_jenc_t *e, char **buf, size_t *len);
int mu_jenc_spec (const mu_job_spec_t *s, char **buf, size_t *len);

/* Readers: 0 found, 1 absent (value zeroed / NULL), MUSTER_EPROTO wrong
 * type, -ENOMEM. */
const msgpack_object *mu_jget (const msgpack_object *map, const char *k);
int mu_jget_u64 (const msgpack_object *map, const char *k, uint64_t *out);
int mu_jget_i64 (const msgpack_object *map, const char *k, int64_t *out);
int mu_jget_str (const msgpack_object *map, const char *k, char **out);
int mu_jdec_spec (const msgpack_object *o, mu_job_spec_t **out);

#endif
