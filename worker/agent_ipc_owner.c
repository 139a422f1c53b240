/*
 * agent_ipc_owner.c — per-owner ipc endpoints: how the workers of a job run
 * as another user reach a root agent, and nobody else does.
 *
 * The agent's own endpoint lives in its run directory (0700, the agent's
 * user), which the job's user cannot enter.  For each user whose job runs
 * here the agent makes <run dir>/u<uid>.<n>, mode 0700, owned by that user,
 * binds one more endpoint of its one workers' ROUTER there (a ZeroMQ socket
 * may listen on several), and hands the socket file to the user, mode 0600;
 * the run directory becomes 0711 so the user can pass through it without
 * listing it.  So the user's workers can connect and no third user can
 * (not 0777 sockets: any local user could then talk to the agent as if it
 * were a worker).  agent_ipc_auth.c checks the peer's uid as well.
 *
 * An endpoint is unbound once its user has no running worker and is not
 * the current epoch's.  Every endpoint gets a fresh path (<n> counts up):
 * zmq_unbind closes the listener asynchronously and libzmq unlinks its
 * socket file then, which must not hit a newer endpoint of the same user.
 */
#include "worker/agent_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <muster/error.h>

#include "worker/owner.h"

static void
remove_ep (const mu_agent_owner_ep_t *e)
{
  char sock[sizeof e->dir + 8];
  snprintf (sock, sizeof sock, "%s/a.sock", e->dir);
  unlink (sock);
  rmdir (e->dir);
}

int
mu_agent_ipc_owner_bind (mu_agent_t *a, uint32_t uid, uint32_t gid, char *ep,
                         size_t epsize, char *err, size_t errlen)
{
  for (size_t i = 0; i < a->nowner_eps; i++)
    if (a->owner_eps[i].uid == uid)
      {
        snprintf (ep, epsize, "%s", a->owner_eps[i].ep);
        return 0;
      }
  mu_agent_owner_ep_t e;
  memset (&e, 0, sizeof e);
  e.uid = uid;
  if ((size_t)snprintf (e.dir, sizeof e.dir, "%s/u%u.%llu", a->run_dir.path,
                        (unsigned)uid,
                        (unsigned long long)++a->owner_ep_seq)
          >= sizeof e.dir
      || (size_t)snprintf (e.ep, sizeof e.ep, "ipc://%s/a.sock", e.dir)
             >= sizeof e.ep)
    {
      MU_SET_ERR ("the run directory %s is too long for another endpoint",
           a->run_dir.path);
      return -ENAMETOOLONG;
    }
  char sock[sizeof e.dir + 8];
  snprintf (sock, sizeof sock, "%s/a.sock", e.dir);
  mu_agent_owner_ep_t *v
      = realloc (a->owner_eps, (a->nowner_eps + 1) * sizeof *v);
  if (v == NULL)
    return -ENOMEM;
  a->owner_eps = v;
  int rc = 0;
  /* The directory is the user's before the socket exists in it; the run
   * directory becomes passable (not listable) for other users. */
  if (mkdir (e.dir, 0700) != 0 || chmod (e.dir, 0700) != 0
      || chown (e.dir, (uid_t)uid, (gid_t)gid) != 0
      || chmod (a->run_dir.path, 0711) != 0)
    {
      rc = -errno;
      MU_SET_ERR ("cannot make %s for uid %u: %s", e.dir, (unsigned)uid,
           strerror (-rc));
      rmdir (e.dir);
      return rc;
    }
  if (zmq_bind (a->work_sock, e.ep) != 0)
    {
      rc = -errno;
      MU_SET_ERR ("cannot listen on %s: %s", e.ep, zmq_strerror (-rc));
      rmdir (e.dir);
      return rc;
    }
  if (chown (sock, (uid_t)uid, (gid_t)gid) != 0 || chmod (sock, 0600) != 0)
    {
      rc = -errno;
      MU_SET_ERR ("cannot hand %s to uid %u: %s", sock, (unsigned)uid,
           strerror (-rc));
      zmq_unbind (a->work_sock, e.ep);
      remove_ep (&e);
      return rc;
    }
  a->owner_eps[a->nowner_eps++] = e;
  mu_log_info (a->log, "IPC-OWNER", "workers of uid %u reach this agent at %s",
               (unsigned)uid, e.ep);
  snprintf (ep, epsize, "%s", e.ep);
  return 0;
}

static int
in_use (const mu_agent_t *a, uint32_t uid)
{
  if (a->start.type == MU_MSG_START && a->run_uid == uid)
    return 1;
  for (size_t i = 0; i < a->nworkers; i++)
    if (a->workers[i].running && a->workers[i].uid == uid)
      return 1;
  return 0;
}

void
mu_agent_ipc_owner_gc (mu_agent_t *a)
{
  size_t k = 0;
  for (size_t i = 0; i < a->nowner_eps; i++)
    {
      mu_agent_owner_ep_t *e = &a->owner_eps[i];
      if (in_use (a, e->uid) || a->work_sock == NULL)
        {
          a->owner_eps[k++] = *e;
          continue;
        }
      zmq_unbind (a->work_sock, e->ep);
      remove_ep (e);
      mu_log_info (a->log, "IPC-OWNER", "no job of uid %u left: %s closed",
                   (unsigned)e->uid, e->ep);
    }
  a->nowner_eps = k;
}

int
mu_agent_ipc_uid_known (const mu_agent_t *a, uint32_t uid)
{
  if (uid == 0 || uid == a->euid)
    return 1;
  for (size_t i = 0; i < a->nowner_eps; i++)
    if (a->owner_eps[i].uid == uid)
      return 1;
  return 0;
}

void
mu_agent_ipc_owner_close (mu_agent_t *a)
{
  for (size_t i = 0; i < a->nowner_eps; i++)
    {
      if (a->work_sock != NULL)
        zmq_unbind (a->work_sock, a->owner_eps[i].ep);
      remove_ep (&a->owner_eps[i]);
    }
  free (a->owner_eps);
  a->owner_eps = NULL;
  a->nowner_eps = 0;
}
