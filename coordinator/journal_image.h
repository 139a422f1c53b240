/*
 * journal_image.h — what musterd journals about its jobs, and the pure
 * machine that replays those records into an image of the job table.
 *
 * The records (one msgpack map each, in common/journal.c's framing) are
 * declared here, once, with their own format version MU_JREC_VERSION —
 * the on-disk format's, never the wire protocol's: nothing here goes
 * through the wire codec, so changing a message on the wire cannot change
 * what an old journal means.  Every record is
 *
 *     { "v": MU_JREC_VERSION, "t": <kind>, "id": <job id>, ... }
 *
 * kinds (fields beyond v, t, id):
 *   created   spec (map), uid, gid, owner, submitted      a job was created
 *   state     state, reason?, final?                       pending, rendezvous,
 *                                                          recovering, stopping
 *   recover   restarts, user_failures, infra_failures,     a restart was
 * charged epoch_reason epoch     epoch, world, restarts, user_failures, an
 * epoch started infra_failures, epoch_reason?, members       (node id -> ranks)
 *             [ {node, pub, host, port_base, role, node_rank, first_rank,
 *                role_first_rank, nproc} ]
 *   exit      node, rank, ok                               a worker of the
 *                                                          current epoch ended
 *   ckpt      step, dir, created_us                        newest restore point
 *   finished  state, exit_code, reason?, restarts, ...,    the job ended
 *             failure? {rank, node?, exit_code, signal, reason?}
 *   retired   -                                            dropped from the
 * table image     everything above for one job                 a snapshot
 * record
 *
 * KV and barriers are not journaled: they are an epoch's bootstrap data
 * (addresses exchanged before collectives form), rewritten every epoch,
 * and bounded only per job; a job that goes on in its epoch after a
 * restart has its collectives formed already.  Checkpoint attempts in
 * flight are not journaled either: an attempt cut by a crash never
 * committed, and the restore point (ckpt) is what matters.
 *
 * The image keeps, per job, what a restarted coordinator needs to carry
 * on: spec and owner, state, counters, the running epoch's membership and
 * how many of each member's workers exited, the restore point, and the
 * outcome of a finished job.  It is also what `musterd --dump-state`
 * prints (canonical JSON, jobs by id), so a test can compare a replay
 * with the live coordinator's own snapshot.
 */
#ifndef MU_JOURNAL_IMAGE_H
#define MU_JOURNAL_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/proto.h"
#include "common/smap.h"

#define MU_JREC_VERSION 1

typedef struct mu_jmember
{
  char *node; /* node id */
  char *pub;  /* CURVE key it registered with ("" insecure) */
  char *host;
  uint64_t port_base;
  uint32_t role;
  uint32_t node_rank;
  uint64_t first_rank;
  uint64_t role_first_rank;
  uint32_t nproc;
  uint32_t exited; /* workers of the epoch that ended */
} mu_jmember_t;

typedef struct mu_jfailure
{
  int set;
  int64_t rank;
  char *node;
  int64_t exit_code;
  int64_t signal;
  char *reason;
} mu_jfailure_t;

typedef struct mu_jjob
{
  mu_job_spec_t *spec;
  uint32_t uid, gid;
  char *owner;
  int submitted;
  char state[16]; /* mu_job_state_name() */
  char final[16]; /* where a stopping job ends ("" otherwise) */
  char *reason;
  uint64_t epoch, world;
  uint64_t restarts, user_failures, infra_failures;
  char *epoch_reason;
  uint64_t ok_exits;
  mu_jmember_t *members; /* only while running */
  size_t nmembers;
  uint64_t ckpt_step;
  char *ckpt_dir; /* NULL = no restore point */
  uint64_t ckpt_created_us;
  int64_t exit_code; /* finished jobs */
  mu_jfailure_t failure;
  uint64_t order;        /* creation order (replay), not dumped */
  uint64_t finish_order; /* finishing order, 0 = not finished */
} mu_jjob_t;

typedef struct mu_jimage
{
  mu_smap_t *jobs; /* id -> mu_jjob_t* */
  uint64_t seq;    /* orders creations and finishes */
  void *zone;      /* msgpack zone reused from record to record */
} mu_jimage_t;

/* An empty image; 0 or -ENOMEM. */
int mu_jimage_init (mu_jimage_t *img);
void mu_jimage_free (mu_jimage_t *img);
void mu_jjob_free (mu_jjob_t *jj);

/* Apply one record.  0, or MUSTER_EVERSION (another MU_JREC_VERSION),
 * MUSTER_EPROTO (not a record this version knows, a field missing or of
 * the wrong type, a job that does not exist), -ENOMEM; `err` says which. */
int mu_jimage_apply (mu_jimage_t *img, const void *rec, size_t len, char *err,
                     size_t errlen);

/* journal_dump.c: print the image as canonical JSON (jobs sorted by id,
 * fixed key order, one job per line) to f. */
void mu_jimage_dump (const mu_jimage_t *img, FILE *f);

/* --- encoding (journal_records.c).  Each returns 0 or -ENOMEM with *buf a
 * malloc'd payload the caller frees. */
typedef struct mu_jenc mu_jenc_t; /* an msgpack buffer being written */

/* A whole job as one "image" record. */
int mu_jrec_image (const char *id, const mu_jjob_t *jj, char **buf,
                   size_t *len);
int mu_jrec_created (const char *id, const mu_jjob_t *jj, char **buf,
                     size_t *len);
int mu_jrec_state (const char *id, const char *state, const char *final,
                   const char *reason, char **buf, size_t *len);
int mu_jrec_recover (const char *id, const mu_jjob_t *jj, char **buf,
                     size_t *len);
int mu_jrec_epoch (const char *id, const mu_jjob_t *jj, char **buf,
                   size_t *len);
int mu_jrec_exit (const char *id, const char *node, uint64_t rank, int ok,
                  char **buf, size_t *len);
int mu_jrec_ckpt (const char *id, uint64_t step, const char *dir,
                  uint64_t created_us, char **buf, size_t *len);
int mu_jrec_finished (const char *id, const mu_jjob_t *jj, char **buf,
                      size_t *len);
int mu_jrec_retired (const char *id, char **buf, size_t *len);

#endif
