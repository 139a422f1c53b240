/*
 * zmtp_wire.h — ZMTP 3.x framing as pure functions over byte buffers.
 *
 * musterd serves its agent port itself (common/zmtp_server.c) instead of
 * through a libzmq ROUTER, so that ten thousand connections cost a few
 * hundred bytes each instead of libzmq's ~28 KB (docs/architecture.md,
 * decision 103).  This file holds what both ends of ZMTP 3.0/3.1 (RFC 23,
 * RFC 37) agree on and nothing that does I/O: the 64-byte greeting, frame
 * headers (flags MORE/LONG/COMMAND, a 1- or 8-byte size), commands (a
 * length-prefixed name and data) and the metadata of READY/INITIATE
 * (name-length, name, 4-byte value length, value).  Every parser takes
 * untrusted bytes and returns MUSTER_EPROTO for anything malformed, never
 * reading past the length it was given.
 */
#ifndef MU_ZMTP_WIRE_H
#define MU_ZMTP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define MU_ZMTP_GREETING_LEN 64
#define MU_ZMTP_FLAG_MORE 0x01
#define MU_ZMTP_FLAG_LONG 0x02
#define MU_ZMTP_FLAG_COMMAND 0x04
#define MU_ZMTP_HDR_MAX 9 /* flags + 8-byte size */

/* Write our greeting (version 3.1, `mechanism` "NULL" or "CURVE",
 * as-server set) into out[64]. */
void mu_zmtp_greeting (unsigned char out[MU_ZMTP_GREETING_LEN],
                       const char *mechanism, int as_server);

/* Check a peer's 64-byte greeting: ZMTP signature, major version 3 or
 * later, and the mechanism `mechanism`.  0 or MUSTER_EPROTO with `err`
 * naming the problem. */
int mu_zmtp_greeting_check (const unsigned char *g, size_t len,
                            const char *mechanism, char *err, size_t errlen);

/* How many bytes the frame starting at buf[0..len) takes in all (header
 * and body), as far as the header tells: a value > len means "wait for
 * that many" (it may grow once the size bytes arrive).  Sets *hdr_len,
 * *body_len and *flags when the header is complete.  MUSTER_EPROTO for
 * reserved flag bits or a command with MORE; MUSTER_ETOOBIG for a body
 * above `max_body`. */
int64_t mu_zmtp_frame_need (const unsigned char *buf, size_t len,
                            uint64_t max_body, size_t *hdr_len,
                            uint64_t *body_len, int *flags);

/* Encode a frame header for a body of `len` bytes into hdr (at least
 * MU_ZMTP_HDR_MAX bytes); returns the header length. */
size_t mu_zmtp_frame_header (unsigned char *hdr, int flags, uint64_t len);

/* A command's name and data inside a command frame's body.  0 or
 * MUSTER_EPROTO (empty, or a name longer than the body). */
int mu_zmtp_command_parse (const unsigned char *body, size_t len,
                           const unsigned char **name, size_t *name_len,
                           const unsigned char **data, size_t *data_len);

/* Is the command `name`? */
int mu_zmtp_command_is (const unsigned char *name, size_t name_len,
                        const char *want);

/* Append one metadata property to out[*pos..cap); 0 or -ENOSPC. */
int mu_zmtp_meta_put (unsigned char *out, size_t cap, size_t *pos,
                      const char *name, const void *value, size_t vlen);

/* Walk metadata: calls cb for each property; 0, MUSTER_EPROTO (truncated
 * or a zero-length name) or what cb returned if non-zero. */
int mu_zmtp_meta_parse (const unsigned char *data, size_t len,
                        int (*cb) (const char *name, size_t name_len,
                                   const unsigned char *value, size_t vlen,
                                   void *arg),
                        void *arg);

/* Find property `name` (case-insensitive, as RFC 23 says); 0 with
 * value and vlen set, MUSTER_ENOTFOUND or MUSTER_EPROTO. */
int mu_zmtp_meta_get (const unsigned char *data, size_t len,
                      const char *name, const unsigned char **value,
                      size_t *vlen);

/* Build a whole command frame (header, name, data) into out[cap]; returns
 * its length or -ENOSPC. */
int mu_zmtp_command_frame (unsigned char *out, size_t cap, const char *name,
                           const void *data, size_t dlen);

/* Big-endian 64-bit helpers (sizes and CURVE nonces). */
void mu_zmtp_put_u64 (unsigned char *p, uint64_t v);
uint64_t mu_zmtp_get_u64 (const unsigned char *p);

#endif
