/*
 * kv_rmw.c — libmuster's read-modify-write KV calls: kv_add, kv_cas,
 * kv_del and kv_count (<muster/worker.h>).
 *
 * They are what muster.torch's c10d store needs for add, compare_set,
 * delete_key and num_keys, and they are atomic because the coordinator
 * carries them out on its one loop (coordinator/kv_table.c); here each is
 * a request like kv_put's, sent through the actor and waited for.  The
 * number an answer carries (add's sum, del's "existed", count's count)
 * comes back from the actor as the request's value: one int64_t.
 */
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "worker/lib/worker_int.h"

/* Start, wait, free: the blocking form of every call below.  *val and
 * *len receive the answer's value (caller frees). */
static int
run (muster_worker_t *w, mu_req_kind_t kind, const char *key,
     const mu_kv_args_t *args, int timeout_ms, void **val, size_t *len)
{
  muster_req_t *req = NULL;
  int rc = mu_worker_start_kv (w, kind, key, args, timeout_ms, &req);
  if (rc != 0)
    return rc;
  rc = muster_req_wait (req, -1, val, len);
  muster_req_free (&req);
  return rc;
}

/* A request whose answer is a number. */
static int
run_num (muster_worker_t *w, mu_req_kind_t kind, const char *key,
         const mu_kv_args_t *args, int timeout_ms, int64_t *out)
{
  void *val = NULL;
  size_t len = 0;
  int rc = run (w, kind, key, args, timeout_ms, &val, &len);
  if (rc == 0)
    {
      if (val == NULL || len != sizeof *out)
        rc = MUSTER_EPROTO;
      else
        memcpy (out, val, sizeof *out);
    }
  free (val);
  return rc;
}

int
muster_worker_kv_add (muster_worker_t *w, const char *key, int64_t delta,
                      int64_t *value, int timeout_ms)
{
  if (value == NULL)
    return MUSTER_EINVAL;
  mu_kv_args_t args = { .delta = delta };
  return run_num (w, MU_REQ_KV_ADD, key, &args, timeout_ms, value);
}

int
muster_worker_kv_cas (muster_worker_t *w, const char *key, const void *expected,
                      size_t expected_len, const void *desired,
                      size_t desired_len, void **val, size_t *len,
                      int timeout_ms)
{
  if (val != NULL)
    *val = NULL;
  if (len != NULL)
    *len = 0;
  if (val == NULL || len == NULL)
    return MUSTER_EINVAL;
  mu_kv_args_t args = {
    .val = expected, .len = expected_len, .val2 = desired, .len2 = desired_len
  };
  return run (w, MU_REQ_KV_CAS, key, &args, timeout_ms, val, len);
}

int
muster_worker_kv_del (muster_worker_t *w, const char *key, int *existed,
                      int timeout_ms)
{
  if (existed == NULL)
    return MUSTER_EINVAL;
  int64_t n = 0;
  int rc = run_num (w, MU_REQ_KV_DEL, key, NULL, timeout_ms, &n);
  *existed = rc == 0 && n != 0;
  return rc;
}

int
muster_worker_kv_count (muster_worker_t *w, const char *prefix, uint64_t *count,
                        int timeout_ms)
{
  if (count == NULL)
    return MUSTER_EINVAL;
  int64_t n = 0;
  int rc = run_num (w, MU_REQ_KV_COUNT, prefix != NULL ? prefix : "", NULL,
                    timeout_ms, &n);
  if (rc == 0 && n < 0)
    rc = MUSTER_EPROTO;
  *count = rc == 0 ? (uint64_t)n : 0;
  return rc;
}
