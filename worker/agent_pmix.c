/*
 * agent_pmix.c — the agent serves PMIx to the workers of an MPI job
 * (job_spec.mpi, `muster run --mpi`), so Open MPI programs launched by
 * muster form one MPI world per epoch without mpirun or ssh.
 *
 * The sequence: the first MPI epoch starts the PMIx server (pmix_server.c;
 * its files in the agent's run directory); every epoch registers the
 * namespace "muster.<job>.<epoch>" with the epoch's layout
 * (pmix_layout.c) and this node's ranks as clients (run as the job's
 * owner), and each worker's environment gets its PMIx variables; the
 * previous epoch's namespace is deregistered, so a restart re-forms the
 * world under a new name.
 *
 * A fence (Open MPI's modex in MPI_Init, its barrier in MPI_Finalize)
 * reaches the agent once all its local ranks entered it, with this node's
 * contribution.  One node: the contribution is the whole.  Several nodes:
 * an allgather through the coordinator's per-epoch KV store, the agent
 * acting as a client itself — kv.put of its blob under the fence's key
 * (pmix_layout.h), a waiting kv.get for every other node's — then the
 * blobs concatenated in node order go back to libpmix.  The agent's own
 * requests carry req_id bit 63, so their replies are told from the ones
 * it relays to workers.
 *
 * An MPI_Abort is a worker failure: its message ends the worker's
 * reported stderr tail.  A worker that exits without its MPI ever
 * connecting to the server ran outside the world (an MPI without PMIx
 * support initializes as a singleton): a failing exit says so plainly, a
 * clean one is logged.
 */
#include "worker/agent_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/util.h"

#include "worker/owner.h"
#include "worker/pmix_layout.h"
#include "worker/pmix_server.h"

#define REQ_BIT (1ull << 63)
#define FENCE_WAIT_MS (24ull * 3600 * 1000) /* the job's failure ends it */

#define NO_PMIX_MSG                                                            \
  "the program's MPI did not connect to muster's PMIx server: is it Open "     \
  "MPI >= 4 built with PMIx (ompi_info | grep pmix)? (muster run --mpi)"

typedef struct fence
{
  struct fence *next;
  uint64_t seq;
  mu_pmix_fence_t *f;
  mu_bin_t *blobs; /* per node */
  uint8_t *have;
  uint32_t missing;
} fence_t;

struct mu_agent_pmix
{
  mu_pmix_t *srv;
  char tmpdir[256];
  mu_pmix_layout_t lay;
  int registered;
  uint64_t epoch;
  uint64_t fence_seq;
  fence_t *fences;
  int fabric;         /* the node has RDMA / Omni-Path devices */
  uint8_t *connected; /* per local rank */
  char **abort_msg;   /* per local rank */
};

static void
fence_free (fence_t *fe, uint32_t nnodes)
{
  if (fe->blobs != NULL)
    for (uint32_t i = 0; i < nnodes; i++)
      free (fe->blobs[i].ptr);
  free (fe->blobs);
  free (fe->have);
  free (fe);
}

static void
fail_fences (struct mu_agent_pmix *x)
{
  while (x->fences != NULL)
    {
      fence_t *fe = x->fences;
      x->fences = fe->next;
      mu_pmix_fence_done (fe->f, -ECANCELED, NULL, 0);
      fence_free (fe, x->lay.nnodes);
    }
}

static void
forget_epoch (struct mu_agent_pmix *x)
{
  fail_fences (x);
  if (x->registered)
    mu_pmix_deregister (x->srv, x->lay.nspace);
  x->registered = 0;
  if (x->abort_msg != NULL)
    for (uint32_t i = 0; i < x->lay.nlocal; i++)
      free (x->abort_msg[i]);
  free (x->abort_msg);
  free (x->connected);
  x->abort_msg = NULL;
  x->connected = NULL;
  mu_pmix_layout_free (&x->lay);
  memset (&x->lay, 0, sizeof x->lay);
}

/* Local index of rank, or -1 if it is not ours in the current nspace. */
static long
local_index (struct mu_agent_pmix *x, const char *nspace, uint32_t rank)
{
  if (!x->registered || strcmp (nspace, x->lay.nspace) != 0
      || rank < x->lay.first_local
      || rank - x->lay.first_local >= x->lay.nlocal)
    return -1;
  return (long)(rank - x->lay.first_local);
}

static void
on_connected (void *arg, const char *nspace, uint32_t rank)
{
  mu_agent_t *a = arg;
  long i = local_index (a->pmix, nspace, rank);
  if (i >= 0)
    a->pmix->connected[i] = 1;
}

static void
on_abort (void *arg, const char *nspace, uint32_t rank, int status,
          const char *msg)
{
  mu_agent_t *a = arg;
  long i = local_index (a->pmix, nspace, rank);
  mu_log_warn (a->log, "MPI-ABORT", "%s rank %u called MPI_Abort (%d): %s",
               nspace, (unsigned)rank, status, msg);
  if (i < 0)
    return;
  char *m = malloc (strlen (msg) + 64);
  if (m == NULL)
    return;
  sprintf (m, "MPI_Abort (error code %d): %s\n", status, msg);
  free (a->pmix->abort_msg[i]);
  a->pmix->abort_msg[i] = m;
}

static int
kv_request (mu_agent_t *a, int get, uint64_t seq, uint32_t node,
            const char *data, size_t len)
{
  struct mu_agent_pmix *x = a->pmix;
  char key[128];
  mu_pmix_fence_key (key, sizeof key, x->epoch, seq, node);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  uint64_t req = REQ_BIT | (seq << 24) | node;
  if (get)
    {
      m.type = MU_MSG_KV_GET;
      m.u.kv_get = (mu_kv_get_t){ .job = a->start.u.start.job,
                                  .epoch = x->epoch,
                                  .rank = x->lay.first_local,
                                  .req_id = req,
                                  .key = key,
                                  .timeout_ms = FENCE_WAIT_MS };
    }
  else
    {
      m.type = MU_MSG_KV_PUT;
      m.u.kv_put = (mu_kv_put_t){ .job = a->start.u.start.job,
                                  .epoch = x->epoch,
                                  .rank = x->lay.first_local,
                                  .req_id = req,
                                  .key = key,
                                  .value = { (uint8_t *)data, len } };
    }
  /* While the coordinator is away it is held, like a worker's request. */
  return mu_agent_send_coord (a, &m);
}

/* Every node's blob is in: concatenate in node order, end the fence. */
static void
fence_complete (struct mu_agent_pmix *x, fence_t *fe)
{
  size_t len = 0;
  for (uint32_t i = 0; i < x->lay.nnodes; i++)
    len += fe->blobs[i].len;
  char *all = malloc (len ? len : 1);
  if (all == NULL)
    {
      mu_pmix_fence_done (fe->f, -ENOMEM, NULL, 0);
      return;
    }
  size_t off = 0;
  for (uint32_t i = 0; i < x->lay.nnodes; i++)
    {
      if (fe->blobs[i].len > 0)
        memcpy (all + off, fe->blobs[i].ptr, fe->blobs[i].len);
      off += fe->blobs[i].len;
    }
  mu_pmix_fence_done (fe->f, 0, all, len);
}

static void
on_fence (void *arg, const char *nspace, const char *data, size_t len,
          mu_pmix_fence_t *f)
{
  mu_agent_t *a = arg;
  struct mu_agent_pmix *x = a->pmix;
  if (!x->registered || strcmp (nspace, x->lay.nspace) != 0)
    {
      free ((void *)data);
      mu_pmix_fence_done (f, -ESTALE, NULL, 0);
      return;
    }
  if (x->lay.nnodes == 1)
    {
      mu_pmix_fence_done (f, 0, (char *)data, len);
      return;
    }
  fence_t *fe = calloc (1, sizeof *fe);
  if (fe != NULL)
    {
      fe->blobs = calloc (x->lay.nnodes, sizeof *fe->blobs);
      fe->have = calloc (x->lay.nnodes, 1);
    }
  if (fe == NULL || fe->blobs == NULL || fe->have == NULL)
    {
      if (fe != NULL)
        fence_free (fe, x->lay.nnodes);
      free ((void *)data);
      mu_pmix_fence_done (f, -ENOMEM, NULL, 0);
      return;
    }
  fe->seq = ++x->fence_seq;
  fe->f = f;
  fe->blobs[x->lay.node_index].ptr = (uint8_t *)data;
  fe->blobs[x->lay.node_index].len = len;
  fe->have[x->lay.node_index] = 1;
  fe->missing = x->lay.nnodes - 1;
  fe->next = x->fences;
  x->fences = fe;
  int rc = kv_request (a, 0, fe->seq, x->lay.node_index, data, len);
  for (uint32_t i = 0; i < x->lay.nnodes && rc == 0; i++)
    if (i != x->lay.node_index)
      rc = kv_request (a, 1, fe->seq, i, NULL, 0);
  if (rc != 0)
    {
      /* The fence cannot complete: MPI_Init fails rather than hangs. */
      mu_log_warn (a->log, "MPI-FENCE", "%s fence %" PRIu64 ": %s",
                   x->lay.nspace, fe->seq, muster_strerror (rc));
      x->fences = fe->next;
      mu_pmix_fence_done (fe->f, rc, NULL, 0);
      fence_free (fe, x->lay.nnodes);
    }
}

int
mu_agent_pmix_reply (mu_agent_t *a, mu_msg_t *m)
{
  const mu_reply_t *r = &m->u.reply;
  if (!(r->req_id & REQ_BIT))
    return 0;
  struct mu_agent_pmix *x = a->pmix;
  if (x == NULL)
    return 1;
  uint64_t seq = (r->req_id & ~REQ_BIT) >> 24;
  uint32_t node = (uint32_t)(r->req_id & 0xffffff);
  fence_t **pp = &x->fences;
  while (*pp != NULL && (*pp)->seq != seq)
    pp = &(*pp)->next;
  fence_t *fe = *pp;
  if (fe == NULL || node >= x->lay.nnodes)
    return 1; /* an older epoch's */
  if (r->status != 0)
    {
      mu_log_warn (a->log, "MPI-FENCE",
                   "%s fence %" PRIu64 ": node %u's "
                   "data: %s",
                   x->lay.nspace, seq, (unsigned)node,
                   muster_strerror ((int)r->status));
      *pp = fe->next;
      mu_pmix_fence_done (fe->f, (int)r->status, NULL, 0);
      fence_free (fe, x->lay.nnodes);
      return 1;
    }
  if (node == x->lay.node_index || fe->have[node])
    return 1; /* our put acknowledged */
  fe->blobs[node] = m->u.reply.value;
  m->u.reply.value.ptr = NULL; /* taken */
  m->u.reply.value.len = 0;
  fe->have[node] = 1;
  if (--fe->missing > 0)
    return 1;
  *pp = fe->next;
  fence_complete (x, fe);
  fence_free (fe, x->lay.nnodes);
  return 1;
}

/* Does this node have a device a fabric transport of Open MPI could use
 * (InfiniBand/RoCE/iWARP through verbs or UCX, Omni-Path through PSM2,
 * InfiniPath through PSM, HPE Slingshot)? */
static int
have_fabric (void)
{
  static const char *const dirs[]
      = { "/sys/class/infiniband", "/sys/class/cxi", NULL };
  for (size_t i = 0; dirs[i] != NULL; i++)
    {
      DIR *d = opendir (dirs[i]);
      if (d == NULL)
        continue;
      struct dirent *e;
      int any = 0;
      while (!any && (e = readdir (d)) != NULL)
        any = e->d_name[0] != '.';
      closedir (d);
      if (any)
        return 1;
    }
  return access ("/dev/hfi1_0", F_OK) == 0 || access ("/dev/ipath", F_OK) == 0;
}

static int
open_server (mu_agent_t *a, char *why, size_t n)
{
  struct mu_agent_pmix *x = calloc (1, sizeof *x);
  if (x == NULL)
    return -ENOMEM;
  snprintf (x->tmpdir, sizeof x->tmpdir, "%s/pmix", a->run_dir.path);
  /* Clients of another user find the server's files here. */
  if (mkdir (x->tmpdir, 0755) != 0 && errno != EEXIST)
    {
      int rc = -errno;
      snprintf (why, n, "cannot make %s: %s", x->tmpdir, strerror (errno));
      free (x);
      return rc;
    }
  mu_pmix_hooks_t h = { .on_connected = on_connected,
                        .on_abort = on_abort,
                        .on_fence = on_fence,
                        .arg = a };
  char err[256];
  uint64_t t0 = mu_now_ms ();
  int rc = mu_pmix_open (a->loop, x->tmpdir, a->node_id, &h, &x->srv, err,
                         sizeof err);
  if (rc != 0)
    {
      snprintf (why, n, "cannot serve PMIx: %s", err);
      free (x);
      return rc;
    }
  mu_log_info (a->log, "PMIX-SERVER",
               "serving PMIx (%s) in %s (started "
               "in %llu ms)",
               mu_pmix_version (), x->tmpdir,
               (unsigned long long)(mu_now_ms () - t0));
  x->fabric = have_fabric ();
  a->pmix = x;
  return 0;
}

int
mu_agent_pmix_epoch (mu_agent_t *a, char *why, size_t n)
{
  const mu_start_t *s = &a->start.u.start;
  if (a->pmix != NULL)
    forget_epoch (a->pmix);
  if (!s->spec->mpi)
    return 0;
  int rc = a->pmix == NULL ? open_server (a, why, n) : 0;
  if (rc != 0)
    return rc;
  struct mu_agent_pmix *x = a->pmix;
  rc = mu_pmix_layout_build (s, &x->lay, why, n);
  if (rc == 0)
    {
      x->connected = calloc (x->lay.nlocal, 1);
      x->abort_msg = calloc (x->lay.nlocal, sizeof *x->abort_msg);
      if (x->connected == NULL || x->abort_msg == NULL)
        rc = -ENOMEM;
    }
  if (rc == 0)
    {
      mu_pmix_job_t j = {
        .nspace = x->lay.nspace,
        .world = x->lay.world,
        .nnodes = x->lay.nnodes,
        .node_index = x->lay.node_index,
        .node_csv = x->lay.node_csv,
        .ppn = x->lay.ppn,
        .node_of = x->lay.node_of,
        .local_rank_of = x->lay.local_rank_of,
        .first_local = x->lay.first_local,
        .nlocal = x->lay.nlocal,
        .uid = a->run_uid,
        .gid = a->run_owner != NULL ? a->run_owner->gid : (uint32_t)getegid (),
      };
      rc = mu_pmix_register (x->srv, &j, why, n);
    }
  if (rc != 0)
    {
      forget_epoch (x);
      return rc;
    }
  x->registered = 1;
  x->epoch = s->epoch;
  x->fence_seq = 0;
  mu_log_info (a->log, "PMIX-NSPACE", "%s: ranks %u..%u of %u on node %u of %u",
               x->lay.nspace, (unsigned)x->lay.first_local,
               (unsigned)(x->lay.first_local + x->lay.nlocal - 1),
               (unsigned)x->lay.world, (unsigned)x->lay.node_index,
               (unsigned)x->lay.nnodes);
  return 0;
}

static int
env_has (char **env, const char *key)
{
  size_t klen = strlen (key);
  for (; *env != NULL; env++)
    if (strncmp (*env, key, klen) == 0 && (*env)[klen] == '=')
      return 1;
  return 0;
}

int
mu_agent_pmix_env (mu_agent_t *a, uint64_t rank, char ***envp)
{
  struct mu_agent_pmix *x = a->pmix;
  if (x == NULL || !x->registered)
    return 0;
  int rc = mu_pmix_client_env (x->srv, x->lay.nspace, (uint32_t)rank, envp);
  /* Open MPI 4.1 takes its direct-launch path (ess "pmi": rank and world
   * from the PMIx server) only under a resource manager it recognizes
   * (its "schizo" framework: Slurm's step variables or Flux's job id);
   * otherwise it initializes a singleton even with a PMIx server in its
   * environment.  Flux's marker is the one with no other effect: its own
   * PMIx component loses to the external one (ext3x) that the PMIX_*
   * variables select.  See docs/mpi.md and decision 66. */
  if (rc == 0)
    rc = mu_agent_env_set (envp, "FLUX_JOB_ID", x->lay.nspace);
  /* More ranks than cores: a rank waiting in a collective must yield the
   * core to the rank it waits for, or progress crawls (by 6x for 4 ranks
   * on 2 cores here).  mpirun sets the same when it oversubscribes; the
   * job's own setting wins. */
  long cores = sysconf (_SC_NPROCESSORS_ONLN);
  if (rc == 0 && cores > 0 && x->lay.nlocal > (uint32_t)cores
      && !env_has (*envp, "OMPI_MCA_mpi_yield_when_idle"))
    rc = mu_agent_env_set (envp, "OMPI_MCA_mpi_yield_when_idle", "1");
  /* A node without a high-speed fabric: every rank's MPI_Init would probe
   * the fabric transports (PSM, PSM2, UCX, libfabric: about 0.25 s each
   * here) only to end with ob1, the one that runs over shared memory and
   * TCP.  Skip the probe whose answer is known, unless the job chose. */
  if (rc == 0 && !x->fabric && !env_has (*envp, "OMPI_MCA_pml")
      && !env_has (*envp, "OMPI_MCA_mtl"))
    rc = mu_agent_env_set (envp, "OMPI_MCA_pml", "ob1");
  return rc;
}

char *
mu_agent_pmix_exit_tail (mu_agent_t *a, uint64_t rank, int failed, char *tail)
{
  struct mu_agent_pmix *x = a->pmix;
  if (x == NULL || !x->registered || rank < x->lay.first_local
      || rank - x->lay.first_local >= x->lay.nlocal)
    return tail;
  size_t i = (size_t)(rank - x->lay.first_local);
  const char *head = x->abort_msg[i];
  if (head == NULL && !x->connected[i])
    {
      if (!failed)
        {
          mu_log_warn (a->log, "MPI-NO-PMIX",
                       "rank %" PRIu64 " exited "
                       "without connecting to the PMIx server (a program "
                       "that does not use MPI?)",
                       rank);
          return tail;
        }
      head = NO_PMIX_MSG "\n";
    }
  if (head == NULL)
    return tail;
  /* After the program's own last lines: what a reader sees first in the
   * launcher's "last lines of stderr". */
  size_t hl = strlen (head), tl = tail ? strlen (tail) : 0;
  char *t = malloc (tl + hl + 2);
  if (t == NULL)
    return tail;
  size_t k = 0;
  if (tl > 0)
    {
      memcpy (t, tail, tl);
      k = tl;
      if (tail[tl - 1] != '\n')
        t[k++] = '\n';
    }
  memcpy (t + k, head, hl + 1);
  free (tail);
  return t;
}

void
mu_agent_pmix_close (mu_agent_t *a)
{
  struct mu_agent_pmix *x = a->pmix;
  if (x == NULL)
    return;
  forget_epoch (x);
  mu_pmix_close (&x->srv);
  free (x);
  a->pmix = NULL;
}
