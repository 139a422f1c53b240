/*
 * sched_reason.c — why a job waits (S8 of sched.h), in figures a person
 * can act on: for the first role that cannot be placed, the slots it needs
 * and on which labels, what is free for it on how many nodes, who holds
 * the rest (the biggest holders of equal or higher priority by name, and
 * how much lower-priority work holds that evicting would still not cure),
 * what is reserved for other jobs and what sits on cordoned or draining
 * nodes.  A job whose roles each fit alone but not together says so.
 */
#include "scheduler/sched_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TOP 3

typedef struct holder
{
  const sjob_t *j;
  uint32_t slots;
} holder_t;

static void
add (char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
  if (*used >= cap)
    return;
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (buf + *used, cap - *used, fmt, ap);
  va_end (ap);
  if (n > 0)
    *used += (size_t)n;
}

void
mu_sched__reason (mu_sched_t *s, sjob_t *j, const uint32_t *need)
{
  char *out = j->reason;
  size_t cap = sizeof j->reason, used = 0;
  out[0] = '\0';
  for (size_t r = 0; r < j->nroles; r++)
    {
      const srole_t *role = &j->roles[r];
      if (need[r] == 0)
        continue;
      uint64_t fit_replicas = 0, free_slots = 0, nodes = 0, other_resv = 0,
               unready = 0, low = 0, matching = 0;
      holder_t top[TOP];
      size_t ntop = 0, more = 0;
      for (size_t k = 0; k < s->nnodes; k++)
        {
          const snode_t *x = s->nodes[k];
          if (!x->in_use || !mu_sched__matches (x, role))
            continue;
          matching++;
          if (x->state != MU_SCHED_NODE_READY)
            {
              unready += x->slots;
              continue;
            }
          int64_t av = (int64_t)x->slots - x->used - x->reserved + s->extra[k];
          if (av > 0)
            {
              free_slots += (uint64_t)av;
              nodes++;
              fit_replicas += (uint64_t)av / role->slots;
            }
          other_resv += (uint64_t)((int64_t)x->reserved - s->extra[k] > 0
                                       ? (int64_t)x->reserved - s->extra[k]
                                       : 0);
          for (uint32_t a = x->head; a != NIL; a = s->allocs[a].nnext)
            {
              const alloc_t *y = &s->allocs[a];
              if (y->job == j)
                continue;
              uint32_t sl = y->n * y->job->roles[y->role].slots;
              if (y->job->priority < j->priority)
                {
                  low += sl;
                  continue;
                }
              size_t h = 0;
              while (h < ntop && top[h].j != y->job)
                h++;
              if (h < ntop)
                top[h].slots += sl;
              else if (ntop < TOP)
                top[ntop++] = (holder_t){ y->job, sl };
              else
                more++;
            }
        }
      if (fit_replicas >= need[r])
        continue;
      add (out, cap, &used, "role %s needs %llu slots (%u x %u)", role->name,
           (unsigned long long)need[r] * role->slots, need[r], role->slots);
      if (role->nsel)
        add (out, cap, &used, " on nodes with %s", role->sel_text);
      if (matching == 0)
        {
          add (out, cap, &used, "; no node %s",
               role->nsel ? "carries those labels" : "is registered");
          return;
        }
      add (out, cap, &used, "; %llu free on %llu node(s)",
           (unsigned long long)free_slots, (unsigned long long)nodes);
      if (free_slots > fit_replicas * role->slots)
        add (out, cap, &used, " (%llu usable in whole replicas)",
             (unsigned long long)(fit_replicas * role->slots));
      for (size_t h = 0; h < ntop; h++)
        add (out, cap, &used, "%s%u held by job %s (priority %lld)",
             h == 0 ? "; " : ", ", top[h].slots, top[h].j->id,
             (long long)top[h].j->priority);
      if (ntop)
        add (out, cap, &used, "%s of equal or higher priority",
             more ? " and more jobs" : "");
      if (low)
        add (out, cap, &used,
             "; %llu held by lower-priority jobs (evicting "
             "them would not be enough)",
             (unsigned long long)low);
      if (other_resv)
        add (out, cap, &used, "; %llu reserved for other jobs",
             (unsigned long long)other_resv);
      if (unready)
        add (out, cap, &used, "; %llu on cordoned or draining nodes",
             (unsigned long long)unready);
      return;
    }
  uint64_t total = 0;
  for (size_t r = 0; r < j->nroles; r++)
    total += (uint64_t)need[r] * j->roles[r].slots;
  add (out, cap, &used,
       "every role fits alone but the gang does not fit "
       "whole: %llu slots needed together",
       (unsigned long long)total);
}
