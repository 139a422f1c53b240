/*
 * pmix_client_probe.c — a PMIx client for pmix_server_test: started with
 * the environment mu_pmix_client_env gave it, it connects, checks its
 * rank and the job size (3), publishes a value, fences with data collection,
 * reads its peer's value, and then finalizes (exit 0) or, for the rank
 * named by argv[1], calls PMIx_Abort (status 3) after the fence.
 */
#include <pmix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
/* libpmix's own allocations outlive PMIx_Finalize (see pmix_server.c) */
__attribute__ ((visibility ("default"))) const char *
__lsan_default_suppressions (void);
const char *
__lsan_default_suppressions (void)
{
  return "leak:libpmix.so\n";
}
#endif

static int
fail (const char *what, pmix_status_t rc)
{
  fprintf (stderr, "probe: %s: %s\n", what, PMIx_Error_string (rc));
  return 1;
}

int
main (int argc, char **argv)
{
  long abort_rank = argc > 1 ? strtol (argv[1], NULL, 10) : -1;
  pmix_proc_t me;
  pmix_status_t rc = PMIx_Init (&me, NULL, 0);
  if (rc != PMIX_SUCCESS)
    return fail ("PMIx_Init", rc);
  pmix_proc_t job;
  PMIX_LOAD_PROCID (&job, me.nspace, PMIX_RANK_WILDCARD);
  pmix_value_t *v = NULL;
  rc = PMIx_Get (&job, PMIX_JOB_SIZE, NULL, 0, &v);
  if (rc != PMIX_SUCCESS)
    return fail ("PMIx_Get job size", rc);
  if (v->data.uint32 != 3)
    return fail ("job size is not 3", PMIX_ERROR);
  PMIX_VALUE_RELEASE (v);
  pmix_value_t mine;
  char val[32];
  snprintf (val, sizeof val, "hello from %u", (unsigned)me.rank);
  PMIX_VALUE_LOAD (&mine, val, PMIX_STRING);
  if ((rc = PMIx_Put (PMIX_GLOBAL, "probe.key", &mine)) != PMIX_SUCCESS
      || (rc = PMIx_Commit ()) != PMIX_SUCCESS)
    return fail ("PMIx_Put", rc);
  PMIX_VALUE_DESTRUCT (&mine);
  pmix_info_t collect;
  bool yes = true;
  PMIX_INFO_LOAD (&collect, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
  /* a fence of this node's two ranks and the remote rank 2 */
  if ((rc = PMIx_Fence (&job, 1, &collect, 1)) != PMIX_SUCCESS)
    return fail ("PMIx_Fence", rc);
  pmix_proc_t peer;
  PMIX_LOAD_PROCID (&peer, me.nspace, 1 - me.rank);
  rc = PMIx_Get (&peer, "probe.key", NULL, 0, &v);
  if (rc != PMIX_SUCCESS)
    return fail ("PMIx_Get peer's key", rc);
  char want[32];
  snprintf (want, sizeof want, "hello from %u", (unsigned)(1 - me.rank));
  if (v->type != PMIX_STRING || strcmp (v->data.string, want) != 0)
    return fail ("the peer's value", PMIX_ERROR);
  PMIX_VALUE_RELEASE (v);
  if ((long)me.rank == abort_rank)
    {
      PMIx_Abort (3, "probe aborts", NULL, 0);
      return 3;
    }
  PMIx_Finalize (NULL, 0);
  return 0;
}
