/*
 * ps_ctr.h — what the files of the ps_ctr example share: the model's row
 * layout, the hashing, the data plane's messages, the row table, the
 * synthetic click stream and the options.
 *
 * The data plane is the example's own: ZeroMQ, a ROUTER on every
 * parameter server bound to its MUSTER_PEER_PORT and a DEALER per server
 * on every worker; each message is a fixed header frame (ps_hdr_t, host
 * byte order: every process of a job runs the same build) followed by raw
 * array frames.  muster only tells the processes where the servers are
 * and which buckets each owns (muster_worker_bucket_plan).
 */
#ifndef PS_CTR_H
#define PS_CTR_H

#include <stddef.h>
#include <stdint.h>

#include <muster/worker.h>

/* A row: [0] linear weight, [1..DIM) factors (a factorization machine),
 * then as many Adagrad accumulators. */
#define PS_DIM 8
#define PS_ROW (2 * PS_DIM)
#define PS_FIELDS 8 /* features per sample, one per field */

/* ------------------------------------------------------------ messages */

enum ps_op {
  PS_PULL = 1,  /* W->S step, n; ids[n]; a=1: do not create missing rows
                   -> PS_ROWS n; float[n*DIM] (weights only) */
  PS_PUSH,      /* W->S step, n, a=worker; ids[n]; float[n*DIM] grads
                   (no reply) */
  PS_ROWS,
  PS_MIGRATE,   /* S->S step=cut, a=first bucket, b=count -> PS_MOVED n;
                   ids[n]; float[n*ROW] (weights and accumulators) */
  PS_MOVED,
  PS_STATUS,    /* -> PS_STATUS step = steps applied */
  PS_DUMP,      /* -> PS_DUMP a = rows, b = checksum */
  PS_QUIT,      /* -> PS_QUIT; the server exits */
  PS_ERROR      /* a = what went wrong (enum ps_err) */
};

typedef struct ps_hdr {
  uint32_t op;
  uint32_t n;
  uint64_t step;
  uint64_t a;
  uint64_t b;
} ps_hdr_t;

/* ------------------------------------------------------------- hashing */

static inline uint64_t
ps_mix (uint64_t x)
{
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline uint64_t
ps_bucket (uint64_t id, uint64_t nbuckets)
{
  return ps_mix (id ^ 0x5bd1e995ull) % nbuckets;
}

/* ---------------------------------------------------------------- table */

/* Rows by id (open addressing).  Not thread-safe. */
typedef struct ps_table ps_table_t;

ps_table_t *ps_table_new (void);
void ps_table_destroy (ps_table_t **t_p);
size_t ps_table_rows (const ps_table_t *t);
/* The row of id (PS_ROW floats), created with its initial values when
 * missing and create != 0; NULL when missing and !create, or no memory. */
float *ps_table_row (ps_table_t *t, uint64_t id, int create);
/* The initial weights of a row (a pure function of the id). */
void ps_row_init (uint64_t id, float *row);
/* Apply one summed gradient (PS_DIM floats) to a row: Adagrad. */
void ps_row_adagrad (float *row, const float *g, float lr);
/* Order-independent checksum of every row's id and bits. */
uint64_t ps_table_checksum (const ps_table_t *t);
/* Take out every row whose bucket is in [first, first + count): *ids and
 * *rows (PS_ROW floats each) are malloc'd, *n rows; they leave the table.
 * 0 or -1 (no memory; the table is unchanged). */
int ps_table_take (ps_table_t *t, uint64_t nbuckets, uint64_t first,
                   uint64_t count, uint64_t **ids, float **rows, size_t *n);
/* Make room for `more` rows without growing again.  0 or -1. */
int ps_table_reserve (ps_table_t *t, size_t more);
/* Put a row (PS_ROW floats) under id, replacing any.  0 or -1. */
int ps_table_put (ps_table_t *t, uint64_t id, const float *row);

/* -------------------------------------------------------- click stream */

/* Sample `i` of the synthetic stream: PS_FIELDS ids (field f's ids are
 * f * vocab + r, r power-law distributed) and a label drawn from a hidden
 * model; *truth gets the hidden model's logit (for the oracle AUC). */
void ps_sample (uint64_t seed, uint64_t vocab, uint64_t i, uint64_t *ids,
                float *label, double *truth);
/* AUC of scores against 0/1 labels (n pairs), by ranks. */
double ps_auc (const double *score, const float *label, size_t n);

/* ---------------------------------------------------------------- model */

/* A batch's rows: the unique ids (pulled and pushed once each), where
 * sample j's field f is (slot_of[j*FIELDS+f]), their weights and grads. */
typedef struct ps_batch {
  uint64_t *uniq;
  size_t nuniq, cap;
  size_t *slot_of;
  float *w_rows; /* nuniq * PS_DIM */
  float *grads;  /* nuniq * PS_DIM */
} ps_batch_t;

/* Fill uniq and slot_of from nsamples * PS_FIELDS ids.  0 or -ENOMEM. */
int ps_batch_ids (ps_batch_t *b, const uint64_t *ids, size_t nsamples);
void ps_batch_free (ps_batch_t *b);
/* The model's logit for sample j (its rows in w_rows). */
double ps_fm_logit (const ps_batch_t *b, size_t sample);
/* Gradients of the mean logistic loss into grads; returns the loss. */
double ps_fm_grads (ps_batch_t *b, const float *y, size_t nsamples);

/* --------------------------------------------------------------- options */

typedef struct ps_opts {
  uint64_t steps;      /* global steps */
  uint64_t batch;      /* samples per worker per step */
  uint64_t vocab;      /* ids per field */
  uint64_t seed;
  uint64_t staleness;  /* pulls of step s wait until s - staleness steps are
                          applied; 0 = synchronous (deterministic) */
  uint64_t eval;       /* held-out samples */
  uint64_t step_ms;    /* extra time per step (tests: room to scale) */
  uint64_t prefill;    /* bench: rows each server creates at start */
  float lr;
  int crash_rank;      /* worker role rank that exits at crash_at, -1 */
  uint64_t crash_at;
  uint64_t local_workers; /* --local: the workers whose steps it replays */
  char *ckpt_baseline;  /* bench: directory for the checkpoint round trip */
} ps_opts_t;

/* Run as a parameter server / as a worker; the process's exit status. */
int ps_server_main (muster_worker_t *w, const ps_opts_t *o);
int ps_trainer_main (muster_worker_t *w, const ps_opts_t *o);
/* --local: the same steps on one in-process table (bench baseline). */
int ps_local_main (const ps_opts_t *o);

/* Milliseconds of a monotonic clock. */
uint64_t ps_now_ms (void);

#endif
