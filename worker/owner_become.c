/*
 * owner_become.c — the switch to a job owner's identity, in muster-exec's
 * child before it execs the program (see owner.h).  Apart from owner.c so
 * that muster-exec, a static program, links no user-database code.
 *
 * The switch follows the order every privilege-dropping program must:
 * supplementary groups first (setgroups needs CAP_SETGID, which setuid
 * takes away), then the gid, then the uid, each result checked — a failed
 * setuid that went unnoticed would run a user's program as root.  Linux
 * setuid() as root sets the real, effective and saved uid at once; the
 * final setuid(0) probe proves it.  System calls only (and snprintf of the
 * error): it runs in a vfork child.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "worker/owner.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
mu_owner_become (const mu_owner_t *o, char *err, size_t errlen)
{
  if (setgroups ((size_t)o->ngroups, o->groups) != 0)
    {
      int e = errno;
      MU_SET_ERR ("setgroups for %s (uid %u): %s", o->name, (unsigned)o->uid,
           strerror (e));
      return -e;
    }
  if (setgid ((gid_t)o->gid) != 0)
    {
      int e = errno;
      MU_SET_ERR ("setgid(%u) for %s: %s", (unsigned)o->gid, o->name, strerror (e));
      return -e;
    }
  if (setuid ((uid_t)o->uid) != 0)
    {
      int e = errno;
      MU_SET_ERR ("setuid(%u) for %s: %s", (unsigned)o->uid, o->name, strerror (e));
      return -e;
    }
  if (o->uid != 0 && (setuid (0) == 0 || geteuid () != (uid_t)o->uid
                      || getuid () != (uid_t)o->uid))
    {
      MU_SET_ERR ("the switch to uid %u can be undone: refusing to run",
           (unsigned)o->uid);
      return -EPERM;
    }
  return 0;
}

