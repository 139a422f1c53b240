/*
 * owner.c — the job owner's identity and the switch to it (see owner.h).
 *
 * The lookup reads the user database (getpwuid_r, getgrouplist) and so
 * runs in the agent, never in muster-exec: muster-exec is linked
 * statically, and a static glibc loading NSS modules (files, systemd,
 * sss) crashes or misbehaves unless the runtime glibc is the very one it
 * was linked with.  The agent passes the result to muster-exec as
 * arguments (--uid, --gid, --groups) and puts HOME, USER, LOGNAME and
 * SHELL from the passwd entry into the worker's environment.  The switch
 * itself is owner_become.c.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "worker/owner.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

static int
copy_field (char *dst, size_t size, const char *src)
{
  size_t n = src ? strlen (src) : 0;
  if (n >= size)
    return MUSTER_ETOOBIG;
  memcpy (dst, src ? src : "", n);
  dst[n] = '\0';
  return 0;
}

int
mu_owner_lookup (uint32_t uid, mu_owner_t *o, char *err, size_t errlen)
{
  memset (o, 0, sizeof *o);
  struct passwd pw, *res = NULL;
  char buf[16384];
  int e;
  while ((e = getpwuid_r ((uid_t)uid, &pw, buf, sizeof buf, &res)) == EINTR)
    ;
  if (e == 0 && res == NULL)
    {
      MU_SET_ERR ("no user with uid %u (no passwd entry)", (unsigned)uid);
      return MUSTER_ENOTFOUND;
    }
  if (e != 0)
    {
      MU_SET_ERR ("cannot look up uid %u: %s", (unsigned)uid, strerror (e));
      return e == ERANGE ? MUSTER_ETOOBIG : -e;
    }
  o->uid = (uint32_t)pw.pw_uid;
  o->gid = (uint32_t)pw.pw_gid;
  if (copy_field (o->name, sizeof o->name, pw.pw_name) != 0
      || copy_field (o->home, sizeof o->home, pw.pw_dir) != 0
      || copy_field (o->shell, sizeof o->shell, pw.pw_shell) != 0)
    {
      MU_SET_ERR ("the passwd entry of uid %u is too long", (unsigned)uid);
      return MUSTER_ETOOBIG;
    }
  if (o->shell[0] == '\0')
    strcpy (o->shell, "/bin/sh"); /* as login(1) does */
  int n = MU_OWNER_MAX_GROUPS;
  if (getgrouplist (o->name, (gid_t)o->gid, o->groups, &n) < 0)
    {
      MU_SET_ERR ("user %s (uid %u) is in more than %d groups", o->name,
           (unsigned)uid, MU_OWNER_MAX_GROUPS);
      return MUSTER_ETOOBIG;
    }
  o->ngroups = n;
  return 0;
}

int
mu_owner_named (const mu_start_t *s)
{
  return s->owner_uid != 0 || (s->owner != NULL && s->owner[0] != '\0');
}

int
mu_owner_policy (uint32_t agent_euid, const mu_start_t *s, uint32_t *run_uid,
                 char *why, size_t whylen)
{
  if (why != NULL && whylen > 0)
    why[0] = '\0';
  *run_uid = agent_euid;
  if (!mu_owner_named (s))
    return 0;
  if (s->owner_uid > UINT32_MAX)
    {
      if (why != NULL && whylen > 0)
        snprintf (why, whylen, "job owner uid %llu is not a valid uid",
                  (unsigned long long)s->owner_uid);
      return MUSTER_EPERM;
    }
  uint32_t want = (uint32_t)s->owner_uid;
  if (agent_euid == 0 || want == agent_euid)
    {
      *run_uid = want;
      return 0;
    }
  if (why != NULL && whylen > 0)
    snprintf (why, whylen,
              "this agent runs as uid %u and cannot run jobs of uid %u (%s)",
              (unsigned)agent_euid, (unsigned)want,
              s->owner && s->owner[0] ? s->owner : "unknown user");
  return MUSTER_EPERM;
}
