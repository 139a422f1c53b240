/*
 * pmix_server.c — libpmix's server side on a libuv loop (see
 * pmix_server.h for the contract and the threading rules).
 *
 * Upcalls from libpmix's progress thread become mu_pmix_ev_t entries on a
 * queue guarded by `lock`; one uv_async_t wakes the loop, which drains the
 * queue and calls the hooks.  Calls from the loop into libpmix that
 * complete through a callback (register, deregister) wait on a condition
 * variable the callback signals: libpmix runs those callbacks on its
 * thread without ever waiting for ours.
 */
#include "worker/pmix_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hwloc.h>
#include <pmix.h>
#include <pmix_server.h>

enum
{
  EV_CONNECTED,
  EV_ABORT,
  EV_FENCE
};

typedef struct mu_pmix_ev
{
  struct mu_pmix_ev *next;
  int kind;
  char nspace[PMIX_MAX_NSLEN + 1];
  uint32_t rank;
  int status;
  char *msg;  /* abort message */
  char *data; /* fence contribution */
  size_t ndata;
  pmix_op_cbfunc_t op_cb;       /* abort */
  pmix_modex_cbfunc_t modex_cb; /* fence */
  void *cbdata;
} mu_pmix_ev_t;

struct mu_pmix_fence
{
  pmix_modex_cbfunc_t cb;
  void *cbdata;
};

struct mu_pmix
{
  uv_async_t async;
  mu_pmix_hooks_t hooks;
  pthread_mutex_t lock;
  mu_pmix_ev_t *head, *tail;
  int closing;
  hwloc_topology_t topo; /* this node's, without I/O devices */
  char *topo_xml;        /* ...as hwloc v2 XML for the clients */
  int topo_xml_len;
};

#if defined(__SANITIZE_ADDRESS__)
/* LeakSanitizer: libpmix keeps allocations of its own until exit (and
 * some past PMIx_server_finalize): not ours to free.  Every process that
 * links this file (the agent, muster run, the tests) carries this. */
__attribute__ ((visibility ("default"))) const char *
__lsan_default_suppressions (void);
const char *
__lsan_default_suppressions (void)
{
  return "leak:libpmix.so\n";
}
#endif

/* The one server of this process (libpmix's limit), for the upcalls. */
static pthread_mutex_t the_lock = PTHREAD_MUTEX_INITIALIZER;
static mu_pmix_t *the_server;

/* ------------------------------------------------ waiting for libpmix */

typedef struct waiter
{
  pthread_mutex_t m;
  pthread_cond_t c;
  int done;
  pmix_status_t status;
} waiter_t;

static void
waiter_init (waiter_t *w)
{
  pthread_mutex_init (&w->m, NULL);
  pthread_cond_init (&w->c, NULL);
  w->done = 0;
  w->status = PMIX_SUCCESS;
}

static void
waiter_fini (waiter_t *w)
{
  pthread_mutex_destroy (&w->m);
  pthread_cond_destroy (&w->c);
}

static void
op_done (pmix_status_t status, void *cbdata)
{
  waiter_t *w = cbdata;
  pthread_mutex_lock (&w->m);
  w->status = status;
  w->done = 1;
  pthread_cond_signal (&w->c);
  pthread_mutex_unlock (&w->m);
}

/* rc is what the call returned: PMIX_SUCCESS means the callback follows. */
static pmix_status_t
waiter_wait (waiter_t *w, pmix_status_t rc)
{
  if (rc == PMIX_OPERATION_SUCCEEDED)
    return PMIX_SUCCESS;
  if (rc != PMIX_SUCCESS)
    return rc;
  pthread_mutex_lock (&w->m);
  while (!w->done)
    pthread_cond_wait (&w->c, &w->m);
  pthread_mutex_unlock (&w->m);
  return w->status;
}

/* ------------------------------------------- upcalls (libpmix's thread) */

/* Queue ev for the loop; frees it if no server is open. */
static void
post (mu_pmix_ev_t *ev)
{
  pthread_mutex_lock (&the_lock);
  mu_pmix_t *p = the_server;
  if (p != NULL)
    {
      pthread_mutex_lock (&p->lock);
      if (p->tail != NULL)
        p->tail->next = ev;
      else
        p->head = ev;
      p->tail = ev;
      pthread_mutex_unlock (&p->lock);
      uv_async_send (&p->async);
    }
  pthread_mutex_unlock (&the_lock);
  if (p == NULL)
    {
      free (ev->msg);
      free (ev->data);
      free (ev);
    }
}

static mu_pmix_ev_t *
ev_new (int kind, const pmix_proc_t *proc)
{
  mu_pmix_ev_t *ev = calloc (1, sizeof *ev);
  if (ev == NULL)
    return NULL;
  ev->kind = kind;
  if (proc != NULL)
    {
      snprintf (ev->nspace, sizeof ev->nspace, "%s", proc->nspace);
      ev->rank = proc->rank;
    }
  return ev;
}

static pmix_status_t
up_connected (const pmix_proc_t *proc, void *server_object,
              pmix_op_cbfunc_t cbfunc, void *cbdata)
{
  (void)server_object;
  (void)cbfunc;
  (void)cbdata;
  mu_pmix_ev_t *ev = ev_new (EV_CONNECTED, proc);
  if (ev != NULL)
    post (ev);
  return PMIX_OPERATION_SUCCEEDED;
}

static pmix_status_t
up_abort (const pmix_proc_t *proc, void *server_object, int status,
          const char msg[], pmix_proc_t procs[], size_t nprocs,
          pmix_op_cbfunc_t cbfunc, void *cbdata)
{
  (void)server_object;
  (void)procs;
  (void)nprocs;
  mu_pmix_ev_t *ev = ev_new (EV_ABORT, proc);
  if (ev == NULL)
    return PMIX_ERR_NOMEM;
  ev->status = status;
  ev->msg = strdup (msg != NULL ? msg : "");
  ev->op_cb = cbfunc;
  ev->cbdata = cbdata;
  post (ev);
  return PMIX_SUCCESS;
}

static pmix_status_t
up_fence (const pmix_proc_t procs[], size_t nprocs, const pmix_info_t info[],
          size_t ninfo, char *data, size_t ndata, pmix_modex_cbfunc_t cbfunc,
          void *cbdata)
{
  (void)info;
  (void)ninfo;
  mu_pmix_ev_t *ev = ev_new (EV_FENCE, nprocs > 0 ? &procs[0] : NULL);
  if (ev == NULL)
    return PMIX_ERR_NOMEM;
  if (ndata > 0)
    {
      if ((ev->data = malloc (ndata)) == NULL)
        {
          free (ev);
          return PMIX_ERR_NOMEM;
        }
      memcpy (ev->data, data, ndata);
      ev->ndata = ndata;
    }
  ev->modex_cb = cbfunc;
  ev->cbdata = cbdata;
  post (ev);
  return PMIX_SUCCESS;
}

static pmix_status_t
up_dmodex (const pmix_proc_t *proc, const pmix_info_t info[], size_t ninfo,
           pmix_modex_cbfunc_t cbfunc, void *cbdata)
{
  /* Every fence collects all data (Open MPI's default full modex), so a
   * direct request has nothing more to find. */
  (void)proc;
  (void)info;
  (void)ninfo;
  (void)cbfunc;
  (void)cbdata;
  return PMIX_ERR_NOT_SUPPORTED;
}

/* ---------------------------------------------------- the loop's side */

static void
fence_release (void *cbdata)
{
  free (cbdata);
}

void
mu_pmix_fence_done (mu_pmix_fence_t *f, int status, char *data, size_t len)
{
  if (f == NULL)
    {
      free (data);
      return;
    }
  if (status != 0)
    {
      free (data);
      f->cb (PMIX_ERROR, NULL, 0, f->cbdata, NULL, NULL);
    }
  else
    f->cb (PMIX_SUCCESS, data, len, f->cbdata, fence_release, data);
  free (f);
}

static void
deliver (mu_pmix_t *p, mu_pmix_ev_t *ev)
{
  const mu_pmix_hooks_t *h = &p->hooks;
  switch (ev->kind)
    {
    case EV_CONNECTED:
      if (h->on_connected != NULL && !p->closing)
        h->on_connected (h->arg, ev->nspace, ev->rank);
      break;
    case EV_ABORT:
      if (h->on_abort != NULL && !p->closing)
        h->on_abort (h->arg, ev->nspace, ev->rank, ev->status,
                     ev->msg ? ev->msg : "");
      if (ev->op_cb != NULL)
        ev->op_cb (PMIX_SUCCESS, ev->cbdata);
      break;
    case EV_FENCE:
      {
        mu_pmix_fence_t *f = malloc (sizeof *f);
        if (f == NULL)
          {
            ev->modex_cb (PMIX_ERR_NOMEM, NULL, 0, ev->cbdata, NULL, NULL);
            break;
          }
        f->cb = ev->modex_cb;
        f->cbdata = ev->cbdata;
        if (h->on_fence == NULL || p->closing)
          mu_pmix_fence_done (f, -ECANCELED, NULL, 0);
        else
          {
            h->on_fence (h->arg, ev->nspace, ev->data, ev->ndata, f);
            ev->data = NULL; /* the hook has seen it; freed below if not */
          }
        break;
      }
    }
  free (ev->msg);
  free (ev->data);
  free (ev);
}

static void
on_async (uv_async_t *h)
{
  mu_pmix_t *p = h->data;
  for (;;)
    {
      pthread_mutex_lock (&p->lock);
      mu_pmix_ev_t *ev = p->head;
      if (ev != NULL)
        {
          p->head = ev->next;
          if (p->head == NULL)
            p->tail = NULL;
        }
      pthread_mutex_unlock (&p->lock);
      if (ev == NULL)
        return;
      deliver (p, ev);
    }
}

static void
on_closed (uv_handle_t *h)
{
  mu_pmix_t *p = h->data;
  pthread_mutex_destroy (&p->lock);
  if (p->topo_xml != NULL)
    hwloc_free_xmlbuffer (p->topo, p->topo_xml);
  if (p->topo != NULL)
    hwloc_topology_destroy (p->topo);
  free (p);
}

int
mu_pmix_open (uv_loop_t *loop, const char *tmpdir, const char *host,
              const mu_pmix_hooks_t *hooks, mu_pmix_t **out, char *err,
              size_t errlen)
{
  *out = NULL;
  pthread_mutex_lock (&the_lock);
  int busy = the_server != NULL;
  pthread_mutex_unlock (&the_lock);
  if (busy)
    {
      snprintf (err, errlen,
                "a PMIx server is already running in this "
                "process (libpmix allows one)");
      return -EBUSY;
    }
  mu_pmix_t *p = calloc (1, sizeof *p);
  if (p == NULL)
    return -ENOMEM;
  p->hooks = *hooks;
  pthread_mutex_init (&p->lock, NULL);
  if (uv_async_init (loop, &p->async, on_async) != 0)
    {
      pthread_mutex_destroy (&p->lock);
      free (p);
      return -ENOMEM;
    }
  p->async.data = p;
  pthread_mutex_lock (&the_lock);
  the_server = p;
  pthread_mutex_unlock (&the_lock);

  static pmix_server_module_t module = {
    .client_connected = up_connected,
    .abort = up_abort,
    .fence_nb = up_fence,
    .direct_modex = up_dmodex,
  };
  /* The node's topology, discovered once here and handed to libpmix and
   * (as XML, in every namespace) to the clients, so neither the server nor
   * each rank's MPI_Init discovers it again.  Without I/O devices: their
   * discovery (PCI, and hwloc's GL plugin probing X displays) costs a
   * tenth of a second and MPI's use of the topology needs none of it. */
  size_t ni = 4;
  pmix_topology_t pt = { .source = (char *)"hwloc", .topology = NULL };
  if (hwloc_topology_init (&p->topo) == 0)
    {
      hwloc_topology_set_io_types_filter (p->topo, HWLOC_TYPE_FILTER_KEEP_NONE);
      if (hwloc_topology_load (p->topo) != 0
          || hwloc_topology_export_xmlbuffer (p->topo, &p->topo_xml,
                                              &p->topo_xml_len, 0)
                 != 0)
        {
          hwloc_topology_destroy (p->topo);
          p->topo = NULL;
          p->topo_xml = NULL;
        }
      else
        pt.topology = p->topo;
    }
  else
    p->topo = NULL;
  pmix_info_t *info;
  PMIX_INFO_CREATE (info, 5);
  PMIX_INFO_LOAD (&info[0], PMIX_SERVER_TMPDIR, tmpdir, PMIX_STRING);
  PMIX_INFO_LOAD (&info[1], PMIX_SYSTEM_TMPDIR, tmpdir, PMIX_STRING);
  PMIX_INFO_LOAD (&info[2], PMIX_HOSTNAME, host, PMIX_STRING);
  bool no = false;
  PMIX_INFO_LOAD (&info[3], PMIX_SERVER_TOOL_SUPPORT, &no, PMIX_BOOL);
  if (pt.topology != NULL)
    PMIX_INFO_LOAD (&info[ni++], PMIX_TOPOLOGY2, &pt, PMIX_TOPO);
  pmix_status_t rc = PMIx_server_init (&module, info, ni);
  PMIX_INFO_FREE (info, 5);
  if (rc != PMIX_SUCCESS)
    {
      snprintf (err, errlen, "PMIx_server_init failed: %s",
                PMIx_Error_string (rc));
      pthread_mutex_lock (&the_lock);
      the_server = NULL;
      pthread_mutex_unlock (&the_lock);
      uv_close ((uv_handle_t *)&p->async, on_closed);
      return -EIO;
    }
  *out = p;
  return 0;
}

void
mu_pmix_close (mu_pmix_t **pp)
{
  if (pp == NULL || *pp == NULL)
    return;
  mu_pmix_t *p = *pp;
  *pp = NULL;
  if (!p->closing)
    {
      p->closing = 1;
      (void)PMIx_server_finalize ();
      pthread_mutex_lock (&the_lock);
      the_server = NULL;
      pthread_mutex_unlock (&the_lock);
    }
  /* Events queued before the finalize: their callbacks into libpmix are
   * moot now; free them. */
  mu_pmix_ev_t *ev = p->head;
  p->head = p->tail = NULL;
  while (ev != NULL)
    {
      mu_pmix_ev_t *next = ev->next;
      free (ev->msg);
      free (ev->data);
      free (ev);
      ev = next;
    }
  uv_close ((uv_handle_t *)&p->async, on_closed);
}

/* ------------------------------------------------------- namespaces */

static void
load_u32 (pmix_info_t *i, const char *key, uint32_t v)
{
  PMIX_INFO_LOAD (i, key, &v, PMIX_UINT32);
}

static void
load_u16 (pmix_info_t *i, const char *key, uint32_t v)
{
  uint16_t x = (uint16_t)v;
  PMIX_INFO_LOAD (i, key, &x, PMIX_UINT16);
}

/* The per-process entries of rank r: PMIX_PROC_DATA. */
static void
load_proc (pmix_info_t *i, const mu_pmix_job_t *j, uint32_t r, char **names)
{
  pmix_data_array_t *d;
  PMIX_DATA_ARRAY_CREATE (d, 6, PMIX_INFO);
  pmix_info_t *x = d->array;
  pmix_rank_t rank = r;
  PMIX_INFO_LOAD (&x[0], PMIX_RANK, &rank, PMIX_PROC_RANK);
  load_u32 (&x[1], PMIX_APPNUM, 0);
  load_u16 (&x[2], PMIX_LOCAL_RANK, j->local_rank_of[r]);
  load_u16 (&x[3], PMIX_NODE_RANK, j->local_rank_of[r]);
  load_u32 (&x[4], PMIX_NODEID, j->node_of[r]);
  PMIX_INFO_LOAD (&x[5], PMIX_HOSTNAME, names[j->node_of[r]], PMIX_STRING);
  PMIX_INFO_LOAD (i, PMIX_PROC_DATA, d, PMIX_DATA_ARRAY);
  PMIX_DATA_ARRAY_FREE (d);
}

/* Split node_csv into names (*names is one malloc'd block). */
static char **
split_nodes (const char *csv, uint32_t n)
{
  size_t len = strlen (csv) + 1;
  char **v = malloc (n * sizeof *v + len);
  if (v == NULL)
    return NULL;
  char *s = (char *)(v + n);
  memcpy (s, csv, len);
  for (uint32_t i = 0; i < n; i++)
    {
      v[i] = s;
      char *c = strchr (s, ',');
      if (c != NULL)
        {
          *c = '\0';
          s = c + 1;
        }
      else
        s += strlen (s);
    }
  return v;
}

int
mu_pmix_register (mu_pmix_t *p, const mu_pmix_job_t *j, char *err,
                  size_t errlen)
{
  char *nodemap = NULL, *procmap = NULL;
  pmix_status_t rc = PMIx_generate_regex (j->node_csv, &nodemap);
  if (rc == PMIX_SUCCESS)
    rc = PMIx_generate_ppn (j->ppn, &procmap);
  char **names
      = rc == PMIX_SUCCESS ? split_nodes (j->node_csv, j->nnodes) : NULL;
  if (rc != PMIX_SUCCESS || names == NULL)
    {
      snprintf (err, errlen, "cannot describe the nodes to PMIx: %s",
                rc != PMIX_SUCCESS ? PMIx_Error_string (rc) : "out of memory");
      free (nodemap);
      free (procmap);
      return rc != PMIX_SUCCESS ? -EIO : -ENOMEM;
    }
  /* local peers: "first,first+1,..." */
  size_t cap = (size_t)j->nlocal * 11 + 1, used = 0;
  char *peers = malloc (cap);
  if (peers == NULL)
    {
      free (nodemap);
      free (procmap);
      free (names);
      return -ENOMEM;
    }
  peers[0] = '\0';
  for (uint32_t k = 0; k < j->nlocal; k++)
    used += (size_t)snprintf (peers + used, cap - used, "%s%u", k ? "," : "",
                              (unsigned)(j->first_local + k));
  size_t njob = p->topo_xml != NULL ? 11 : 10, n = njob + j->world;
  pmix_info_t *info;
  PMIX_INFO_CREATE (info, n);
  load_u32 (&info[0], PMIX_UNIV_SIZE, j->world);
  load_u32 (&info[1], PMIX_JOB_SIZE, j->world);
  load_u32 (&info[2], PMIX_MAX_PROCS, j->world);
  PMIX_INFO_LOAD (&info[3], PMIX_JOBID, j->nspace, PMIX_STRING);
  load_u32 (&info[4], PMIX_NUM_NODES, j->nnodes);
  load_u32 (&info[5], PMIX_LOCAL_SIZE, j->nlocal);
  PMIX_INFO_LOAD (&info[6], PMIX_LOCAL_PEERS, peers, PMIX_STRING);
  PMIX_INFO_LOAD (&info[7], PMIX_NODE_MAP, nodemap, PMIX_REGEX);
  PMIX_INFO_LOAD (&info[8], PMIX_PROC_MAP, procmap, PMIX_REGEX);
  pmix_rank_t leader = j->first_local;
  PMIX_INFO_LOAD (&info[9], PMIX_LOCALLDR, &leader, PMIX_PROC_RANK);
  /* Open MPI 4.1 loads its topology from this key before discovering it */
  if (p->topo_xml != NULL)
    PMIX_INFO_LOAD (&info[10], PMIX_HWLOC_XML_V2, p->topo_xml, PMIX_STRING);
  for (uint32_t r = 0; r < j->world; r++)
    load_proc (&info[njob + r], j, r, names);
  free (peers);
  free (nodemap);
  free (procmap);
  free (names);

  waiter_t w;
  waiter_init (&w);
  rc = waiter_wait (&w, PMIx_server_register_nspace (j->nspace, (int)j->nlocal,
                                                     info, n, op_done, &w));
  waiter_fini (&w);
  PMIX_INFO_FREE (info, n);
  if (rc != PMIX_SUCCESS)
    {
      snprintf (err, errlen, "PMIx_server_register_nspace %s: %s", j->nspace,
                PMIx_Error_string (rc));
      return -EIO;
    }
  for (uint32_t k = 0; k < j->nlocal; k++)
    {
      pmix_proc_t proc;
      PMIX_LOAD_PROCID (&proc, j->nspace, j->first_local + k);
      waiter_init (&w);
      rc = waiter_wait (&w, PMIx_server_register_client (&proc, j->uid, j->gid,
                                                         NULL, op_done, &w));
      waiter_fini (&w);
      if (rc != PMIX_SUCCESS)
        {
          snprintf (err, errlen, "PMIx_server_register_client %s rank %u: %s",
                    j->nspace, (unsigned)(j->first_local + k),
                    PMIx_Error_string (rc));
          mu_pmix_deregister (p, j->nspace);
          return -EIO;
        }
    }
  return 0;
}

void
mu_pmix_deregister (mu_pmix_t *p, const char *nspace)
{
  (void)p;
  waiter_t w;
  waiter_init (&w);
  PMIx_server_deregister_nspace (nspace, op_done, &w);
  (void)waiter_wait (&w, PMIX_SUCCESS);
  waiter_fini (&w);
}

int
mu_pmix_client_env (mu_pmix_t *p, const char *nspace, uint32_t rank,
                    char ***envp)
{
  (void)p;
  pmix_proc_t proc;
  PMIX_LOAD_PROCID (&proc, nspace, rank);
  pmix_status_t rc = PMIx_server_setup_fork (&proc, envp);
  return rc == PMIX_SUCCESS ? 0 : -EIO;
}

const char *
mu_pmix_version (void)
{
  return PMIx_Get_version ();
}
