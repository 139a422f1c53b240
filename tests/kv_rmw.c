/*
 * kv_rmw.c — a libmuster worker that exercises kv_add, kv_cas, kv_del and
 * kv_count against the real coordinator, for
 * tests/scenarios/test_49_torch_store_kv.py.
 *
 * Every rank of the gang:
 *   1. adds 1 to "ctr" ADDS times (each add's answer must grow), passes a
 *      barrier and reads "ctr": world x ADDS if the adds are atomic;
 *   2. races compare-and-set of "leader" from absent to its own rank:
 *      exactly one rank wins and every rank reads the same winner;
 *   3. rank 0 alone then checks del, count (all, prefix) and the refusals:
 *      kv_add on a non-integer (MUSTER_EINVAL), a key over 4096 bytes
 *      (MUSTER_ETOOBIG), NULL out-arguments (MUSTER_EINVAL), cas of an
 *      absent key with a non-empty expected value (MUSTER_ENOTFOUND,
 *      nothing stored).
 * Output lines (prefixed by the agent with the rank):
 *   adds final=N grew=1
 *   leader=R won=0|1
 *   ... one "check NAME ok" or "check NAME FAIL ..." line per check of
 *   step 3; and "done".  Exit 0 unless setup failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>
#include <muster/worker.h>

#define ADDS 50
#define T 30000

static int fails;

static void
check (const char *name, int ok, const char *detail)
{
  if (ok)
    printf ("check %s ok\n", name);
  else
    {
      printf ("check %s FAIL %s\n", name, detail);
      fails++;
    }
}

static void
rank0_checks (muster_worker_t *w, int world)
{
  char d[256];
  int64_t v = 0;
  uint64_t n = 0;
  int existed = -1, rc;
  void *val = NULL;
  size_t len = 0;

  /* count: ctr and leader, then with a prefix */
  rc = muster_worker_kv_put (w, "p/a", "1", 1, T);
  rc |= muster_worker_kv_put (w, "p/b", "2", 1, T);
  rc |= muster_worker_kv_count (w, NULL, &n, T);
  snprintf (d, sizeof d, "rc=%d n=%llu", rc, (unsigned long long)n);
  check ("count_all", rc == 0 && n == 4, d);
  rc = muster_worker_kv_count (w, "p/", &n, T);
  snprintf (d, sizeof d, "rc=%d n=%llu", rc, (unsigned long long)n);
  check ("count_prefix", rc == 0 && n == 2, d);

  /* del: existed, then not */
  rc = muster_worker_kv_del (w, "p/a", &existed, T);
  snprintf (d, sizeof d, "rc=%d existed=%d", rc, existed);
  check ("del_existing", rc == 0 && existed == 1, d);
  rc = muster_worker_kv_del (w, "p/a", &existed, T);
  snprintf (d, sizeof d, "rc=%d existed=%d", rc, existed);
  check ("del_absent", rc == 0 && existed == 0, d);
  rc = muster_worker_kv_get (w, "p/a", &val, &len, 0);
  free (val);
  val = NULL;
  check ("get_after_del", rc == MUSTER_ENOTFOUND, muster_err_name (rc));
  rc = muster_worker_kv_count (w, "p/", &n, T);
  snprintf (d, sizeof d, "rc=%d n=%llu", rc, (unsigned long long)n);
  check ("count_after_del", rc == 0 && n == 1, d);

  /* cas of an absent key with a non-empty expected value */
  rc = muster_worker_kv_cas (w, "nokey", "x", 1, "y", 1, &val, &len, T);
  check ("cas_absent", rc == MUSTER_ENOTFOUND && val == NULL,
         muster_err_name (rc));
  rc = muster_worker_kv_get (w, "nokey", &val, &len, 0);
  free (val);
  val = NULL;
  check ("cas_absent_stored_nothing", rc == MUSTER_ENOTFOUND,
         muster_err_name (rc));
  /* cas: a mismatch answers the current value */
  rc = muster_worker_kv_cas (w, "p/b", "9", 1, "3", 1, &val, &len, T);
  check ("cas_mismatch", rc == 0 && len == 1 && memcmp (val, "2", 1) == 0,
         muster_err_name (rc));
  free (val);
  val = NULL;

  /* a value put as text counts on */
  rc = muster_worker_kv_add (w, "p/b", 40, &v, T);
  snprintf (d, sizeof d, "rc=%d v=%lld", rc, (long long)v);
  check ("add_to_put_value", rc == 0 && v == 42, d);

  /* refusals */
  rc = muster_worker_kv_put (w, "text", "abc", 3, T);
  rc = rc ? rc : muster_worker_kv_add (w, "text", 1, &v, T);
  check ("add_non_integer", rc == MUSTER_EINVAL, muster_err_name (rc));
  char *big = malloc (5000);
  memset (big, 'k', 4999);
  big[4999] = '\0';
  rc = muster_worker_kv_add (w, big, 1, &v, T);
  check ("add_long_key", rc == MUSTER_ETOOBIG, muster_err_name (rc));
  rc = muster_worker_kv_del (w, big, &existed, T);
  check ("del_long_key", rc == MUSTER_ETOOBIG, muster_err_name (rc));
  rc = muster_worker_kv_cas (w, big, "", 0, "v", 1, &val, &len, T);
  check ("cas_long_key", rc == MUSTER_ETOOBIG, muster_err_name (rc));
  rc = muster_worker_kv_count (w, big, &n, T);
  check ("count_long_prefix", rc == MUSTER_ETOOBIG, muster_err_name (rc));
  free (big);
  rc = muster_worker_kv_add (w, "k", 1, NULL, T);
  check ("add_null_out", rc == MUSTER_EINVAL, muster_err_name (rc));
  rc = muster_worker_kv_add (w, NULL, 1, &v, T);
  check ("add_null_key", rc == MUSTER_EINVAL, muster_err_name (rc));
  rc = muster_worker_kv_del (w, "k", NULL, T);
  check ("del_null_out", rc == MUSTER_EINVAL, muster_err_name (rc));
  rc = muster_worker_kv_count (w, "", NULL, T);
  check ("count_null_out", rc == MUSTER_EINVAL, muster_err_name (rc));
  rc = muster_worker_kv_cas (w, "k", NULL, 3, "v", 1, &val, &len, T);
  check ("cas_null_expected", rc == MUSTER_EINVAL, muster_err_name (rc));
  rc = muster_worker_kv_cas (w, "k", "", 0, "v", 1, NULL, &len, T);
  check ("cas_null_out", rc == MUSTER_EINVAL, muster_err_name (rc));
  rc = muster_worker_kv_add (w, "k", 1, &v, -5);
  check ("add_bad_timeout", rc == MUSTER_EINVAL, muster_err_name (rc));
  (void)world;
}

int
main (void)
{
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  if (rc != 0)
    {
      fprintf (stderr, "kv_rmw: init: %s\n", muster_strerror (rc));
      return 1;
    }
  int rank = muster_worker_rank (w), world = muster_worker_world (w);
  int64_t last = 0, v = 0;
  int grew = 1;
  for (int i = 0; i < ADDS; i++)
    {
      if ((rc = muster_worker_kv_add (w, "ctr", 1, &v, T)) != 0)
        {
          fprintf (stderr, "kv_rmw: add: %s\n", muster_strerror (rc));
          return 1;
        }
      grew &= v > last;
      last = v;
    }
  if ((rc = muster_worker_barrier (w, "added", T)) != 0)
    return 1;
  void *val = NULL;
  size_t len = 0;
  if ((rc = muster_worker_kv_get (w, "ctr", &val, &len, T)) != 0)
    return 1;
  printf ("adds final=%.*s grew=%d\n", (int)len, (char *)val, grew);
  free (val);

  char me[16];
  int n = snprintf (me, sizeof me, "%d", rank);
  rc = muster_worker_kv_cas (w, "leader", "", 0, me, (size_t)n, &val, &len, T);
  if (rc != 0)
    return 1;
  printf ("leader=%.*s won=%d\n", (int)len, (char *)val,
          len == (size_t)n && memcmp (val, me, len) == 0);
  free (val);
  if ((rc = muster_worker_barrier (w, "raced", T)) != 0)
    return 1;
  if (rank == 0)
    rank0_checks (w, world);
  printf ("done fails=%d\n", fails);
  fflush (stdout);
  if ((rc = muster_worker_barrier (w, "checked", T)) != 0)
    return 1;
  muster_worker_finalize (&w);
  return 0;
}
