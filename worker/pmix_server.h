/*
 * pmix_server.h — a PMIx server for one libuv loop.
 *
 * Open MPI (4.x, built against an external PMIx) started with PMIX_*
 * variables in its environment connects to the PMIx server they name and
 * takes its rank, its world and its peers' addresses from it, instead of
 * initializing as a singleton or needing mpirun.  This module wraps the
 * server side of libpmix for muster-agent: start the server, register a
 * namespace (one per job epoch) and its local clients, give each client's
 * environment, and deliver the server's upcalls — a client connected or
 * finalized, a client aborted, a fence (the modex allgather) — as calls on
 * the loop thread.
 *
 * Threads: libpmix calls its module functions on its own progress thread.
 * They only copy their arguments into an event, push it on a
 * mutex-protected queue and wake the loop with uv_async_send; the loop
 * drains the queue and calls the hooks.  Nothing of the agent is touched
 * from the PMIx thread.  The calls into libpmix made from the loop
 * (register, setup_fork) wait for libpmix's own completion callbacks,
 * which never wait on the loop, so they cannot deadlock.
 *
 * libpmix holds one server per process (its state is global): a second
 * mu_pmix_open in the same process is refused with -EBUSY.  The module's
 * upcalls carry no context of ours, so the one open server is found
 * through a file-static pointer guarded by a mutex — the only such state
 * in this library, forced by libpmix's interface.
 */
#ifndef MU_PMIX_SERVER_H
#define MU_PMIX_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct mu_pmix mu_pmix_t;
typedef struct mu_pmix_fence mu_pmix_fence_t;

typedef struct mu_pmix_hooks
{
  /* A client of `nspace` connected to the server (its MPI_Init began). */
  void (*on_connected) (void *arg, const char *nspace, uint32_t rank);
  /* A client called PMIx_Abort (MPI_Abort): its status and message. */
  void (*on_abort) (void *arg, const char *nspace, uint32_t rank, int status,
                    const char *msg);
  /* Every local client of `nspace` entered a fence; data (len bytes, NULL
   * when len is 0, malloc'd: the hook owns it) is this node's contribution. The
   * hook must end it with mu_pmix_fence_done, now or later (the allgather of
   * all nodes' contributions). */
  void (*on_fence) (void *arg, const char *nspace, const char *data, size_t len,
                    mu_pmix_fence_t *f);
  void *arg;
} mu_pmix_hooks_t;

/* Start the PMIx server: its rendezvous files go in tmpdir (which must
 * exist), `host` is this node's name in the namespaces' node maps.  0, or
 * a negative code with a sentence in err (-EBUSY: one is open already in
 * this process). */
int mu_pmix_open (uv_loop_t *loop, const char *tmpdir, const char *host,
                  const mu_pmix_hooks_t *hooks, mu_pmix_t **out, char *err,
                  size_t errlen);

/* Finalize the server, fail the fences still open, close the loop handle
 * (freed by the loop).  Accepts NULL; sets *p NULL. */
void mu_pmix_close (mu_pmix_t **p);

/* What a namespace holds: the world, and this node's part of it. */
typedef struct mu_pmix_job
{
  const char *nspace; /* "muster.<job>.<epoch>" */
  uint32_t world;     /* ranks in the namespace */
  uint32_t nnodes;
  uint32_t node_index;     /* this node's place in node order */
  const char *node_csv;    /* node names in node order, comma-separated */
  const char *ppn;         /* ranks per node: "0,1;2,3" in node order */
  const uint32_t *node_of; /* world entries: the node index of each rank */
  const uint32_t *local_rank_of; /* world entries: rank within its node */
  uint32_t first_local; /* this node's ranks: first_local .. + nlocal - 1 */
  uint32_t nlocal;
  uint32_t uid, gid; /* the local clients run as */
} mu_pmix_job_t;

/* Register a namespace and its local clients.  0, or a negative code with
 * a sentence in err. */
int mu_pmix_register (mu_pmix_t *p, const mu_pmix_job_t *j, char *err,
                      size_t errlen);

/* Forget a namespace (its clients too); fails its open fences. */
void mu_pmix_deregister (mu_pmix_t *p, const char *nspace);

/* Add the PMIx variables of client (nspace, rank) to a NULL-terminated,
 * malloc'd environment (*envp is realloc'd; entries are malloc'd).  0 or a
 * negative code. */
int mu_pmix_client_env (mu_pmix_t *p, const char *nspace, uint32_t rank,
                        char ***envp);

/* End a fence with status 0 (data: the concatenated contributions of
 * every node, len bytes, ownership passes to this call even on error) or a
 * negative code. */
void mu_pmix_fence_done (mu_pmix_fence_t *f, int status, char *data,
                         size_t len);

/* The PMIx library's version string, e.g. "OpenPMIx 4.2.2". */
const char *mu_pmix_version (void);

#endif
