/*
 * kv_flood.c — a libmuster worker that pushes the coordinator's KV bounds
 * until they refuse it, for tests/scenarios/test_18_limits.py.
 *
 *   kv_flood puts SIZE [MAX]  put SIZE-byte values under keys k0, k1, ...
 *                             until a put fails (at most MAX puts, default
 *                             100000) and print how many succeeded and the
 *                             code of the failure;
 *   kv_flood waits N          start N waiting kv.gets (non-blocking, of
 *                             keys nobody puts) and print how many were
 *                             refused at once and with which code.
 *
 * Output, one line each, for the test to parse:
 *   puts ok=N code=C name=MUSTER_EQUOTA msg=...
 *   waits started=N refused=R code=C name=...
 * Exit 0 when it ran to its end (whatever the codes), 1 on a setup error.
 * Only rank 0 floods; other ranks (if any) just finalize.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>
#include <muster/worker.h>

#define PUT_TIMEOUT_MS 60000
#define WAIT_TIMEOUT_MS 120000 /* longer than the test: they must wait */
#define LAST_REPLY_MS 60000    /* bound on the refusal's round trip */

static int
puts_until_refused (muster_worker_t *w, size_t size, long max)
{
  char *buf = malloc (size ? size : 1);
  if (buf == NULL)
    return 1;
  memset (buf, 'v', size);
  long ok = 0;
  int rc = 0;
  for (; ok < max; ok++)
    {
      char key[32];
      snprintf (key, sizeof key, "k%ld", ok);
      rc = muster_worker_kv_put (w, key, buf, size, PUT_TIMEOUT_MS);
      if (rc != 0)
        break;
    }
  free (buf);
  printf ("puts ok=%ld code=%d name=%s msg=%s\n", ok, rc, muster_err_name (rc),
          rc ? muster_strerror (rc) : "none");
  return 0;
}

static int
waits_until_refused (muster_worker_t *w, long n)
{
  muster_req_t **reqs = calloc ((size_t)n, sizeof *reqs);
  if (reqs == NULL)
    return 1;
  long started = 0;
  for (; started < n; started++)
    {
      char key[32];
      snprintf (key, sizeof key, "never-%ld", started);
      if (muster_worker_kv_get_nb (w, key, WAIT_TIMEOUT_MS, &reqs[started]) != 0)
        break;
    }
  /* Replies come in order: once the last request is answered (refused),
   * every refusal before it has arrived too; the admitted ones wait. */
  int last = started ? muster_req_wait (reqs[started - 1], LAST_REPLY_MS,
                                        NULL, NULL)
                     : 0;
  long refused = 0;
  int code = 0;
  for (long i = 0; i < started; i++)
    if (muster_req_done (reqs[i]) == 1)
      {
        int rc = muster_req_wait (reqs[i], 0, NULL, NULL);
        refused++;
        if (code == 0)
          code = rc;
      }
  printf ("waits started=%ld refused=%ld code=%d name=%s last=%s\n", started,
          refused, code, muster_err_name (code), muster_err_name (last));
  for (long i = 0; i < started; i++)
    muster_req_free (&reqs[i]);
  free (reqs);
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc < 3 || (strcmp (argv[1], "puts") != 0 && strcmp (argv[1], "waits") != 0))
    {
      fprintf (stderr, "usage: kv_flood puts SIZE [MAX] | kv_flood waits N\n");
      return 2;
    }
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  if (rc != 0)
    {
      fprintf (stderr, "kv_flood: init: %s\n", muster_strerror (rc));
      return 1;
    }
  int status = 0;
  if (muster_worker_rank (w) == 0)
    status = strcmp (argv[1], "puts") == 0
                 ? puts_until_refused (w, strtoul (argv[2], NULL, 10),
                                       argc > 3 ? atol (argv[3]) : 100000)
                 : waits_until_refused (w, atol (argv[2]));
  fflush (stdout);
  muster_worker_finalize (&w);
  return status;
}
