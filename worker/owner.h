/*
 * owner.h — who a job's workers run as: the agent's policy (run as the
 * job's owner, as itself, or refuse), the owner's identity from the user
 * database, and the switch to that identity in a child before exec.
 *
 * A root agent runs each job as its owner (job.start owner_uid), so a job
 * can do nothing its user could not do from a shell; a non-root agent can
 * only run its own user's jobs and refuses the others.  The lookup is
 * shared by the agent (which refuses an unknown uid up front, as the
 * workers' failed-to-start) and muster-exec (which performs the switch),
 * so both read the same passwd entry and group list.  Nothing here keeps
 * state; mu_owner_become makes system calls only, so it may run in a
 * vfork child.
 */
#ifndef MU_OWNER_H
#define MU_OWNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/proto.h"

/* Fill the caller's optional `char *err, size_t errlen` pair (the functions
 * of owner.c, owner_become.c and agent_ipc_owner.c take one); needs
 * <stdio.h>. */
#define MU_SET_ERR(...)                                                        \
  do                                                                           \
    {                                                                          \
      if (err != NULL && errlen > 0)                                           \
        snprintf (err, errlen, __VA_ARGS__);                                   \
    }                                                                          \
  while (0)

#define MU_OWNER_MAX_GROUPS 1024

typedef struct mu_owner {
  uint32_t uid;
  uint32_t gid;                       /* primary group, from passwd */
  char name[256];
  char home[1024];
  char shell[256];
  int ngroups;                        /* supplementary groups, gid included */
  gid_t groups[MU_OWNER_MAX_GROUPS];
} mu_owner_t;

/* Fill *o from the passwd entry of uid and its group list (getgrouplist).
 * 0; MUSTER_ENOTFOUND when uid has no passwd entry; MUSTER_ETOOBIG for a
 * field or group list over the bounds above; another negative code for a
 * failing user database.  On error `err` (if not NULL) gets a sentence that
 * names the uid, e.g. "no user with uid 4242 (no passwd entry)". */
int mu_owner_lookup (uint32_t uid, mu_owner_t *o, char *err, size_t errlen);

/* owner_become.c.  Become o (uid, gid, groups; name only for messages):
 * setgroups(o->groups), setgid, setuid, in that order, each checked; then,
 * unless o is root, check that setuid(0) fails (the switch cannot be
 * undone).  Changes nothing else (environment, directory).  0 or a
 * negative errno with a sentence in err.  System calls only. */
int mu_owner_become (const mu_owner_t *o, char *err, size_t errlen);

/* Is an owner named in this job.start?  U64 fields are always on the wire
 * (absent decodes as 0), so owner_uid 0 counts as named only together
 * with the owner's name; a coordinator that names an owner sends both. */
int mu_owner_named (const mu_start_t *s);

/* The agent's policy for a job.start: the uid its workers run as, in
 * *run_uid.  No owner named: the agent's own (today's behaviour, as for
 * `muster run`).  An agent running as root: the owner's.  Any other agent:
 * its own when the owner is itself, else MUSTER_EPERM with a sentence in
 * `why` ("this agent runs as uid 1000 and cannot run jobs of uid 1001
 * (alice)").  0 or MUSTER_EPERM. */
int mu_owner_policy (uint32_t agent_euid, const mu_start_t *s,
                     uint32_t *run_uid, char *why, size_t whylen);

#endif
