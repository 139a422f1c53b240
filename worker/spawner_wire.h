/*
 * spawner_wire.h — the messages between the agent (worker/spawner.c) and
 * its resident spawner (`muster-exec --serve`, worker/exec_serve.c), over
 * one AF_UNIX SOCK_SEQPACKET pair: one request, one reply, in order.
 *
 * The two ends are always built from the same tree (muster-exec lives
 * beside the agent), so this is an internal format, not a protocol: the
 * magic only catches a stray writer or a stale binary, which the agent
 * then treats as a dead spawner.
 *
 * Request: a mu_spawn_req_t, then `len` bytes of NUL-terminated strings:
 * `argc` arguments (muster-exec's own command line after its name:
 * [OPTIONS] -- PROGRAM ARGS...), `envc` environment entries, and, when
 * `has_cwd`, the working directory.  Ancillary data: SCM_RIGHTS with
 * exactly two descriptors, the write ends of the worker's stdout and
 * stderr pipes.  Reply: a mu_spawn_rep_t, `err` 0 and the pid of the
 * new supervisor (a child of the AGENT: clone(CLONE_PARENT)), or a
 * negative errno and pid 0.
 */
#ifndef MU_SPAWNER_WIRE_H
#define MU_SPAWNER_WIRE_H

#include <stdint.h>

#define MU_SPAWN_MAGIC 0x4d535031u /* "MSP1" */
/* Largest request (header and strings): a datagram of a seqpacket socket
 * must fit its send buffer (wmem_default, 208 KiB here, is also the cap
 * an unprivileged SO_SNDBUF gets); bigger ones are started the old way
 * (posix_spawn of muster-exec). */
#define MU_SPAWN_REQ_MAX (160u * 1024)

/* The blank argument the agent gives the server after its pid: room in
 * the server's argument area, which each supervisor overwrites with its
 * own command line so that ps and /proc/PID/cmdline show what it runs
 * ("muster-exec -- PROGRAM ARGS", cut to fit). */
#define MU_SPAWN_TITLE_ROOM 2048

typedef struct mu_spawn_req
{
  uint32_t magic;
  uint32_t argc;    /* strings of muster-exec's argv after argv[0] */
  uint32_t envc;    /* environment strings */
  uint32_t has_cwd; /* 1: one more string, the working directory */
  uint32_t len;     /* bytes of strings after this header */
} mu_spawn_req_t;

typedef struct mu_spawn_rep
{
  int32_t err; /* 0 or a negative errno */
  int32_t pid; /* the supervisor (muster-exec) of the worker */
} mu_spawn_rep_t;

#endif
