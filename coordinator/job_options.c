/*
 * job_options.c — what a joining node asked for that its job overrides.
 *
 * A job's options (restart budget, timeouts, checkpoint settings, the
 * workers' environment) come from the spec of the node that created it;
 * the nodes that join later must agree on its shape and program (else
 * they are refused, jobs.c) but may differ in everything else.  Refusing
 * them would be too strict — a late node started with a different
 * --max-restarts is still a useful node — and ignoring the difference
 * silently leaves the user believing the flag took effect.  So the
 * coordinator lists the differences, logs them, and the node's launcher
 * shows them (agent.welcome's note).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "coordinator/coord.h"

typedef struct
{
  char *buf;
  size_t cap, len;
  int count;
} notes_t;

static void
add (notes_t *n, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
add (notes_t *n, const char *fmt, ...)
{
  if (n->len + 1 >= n->cap)
    return;
  if (n->count++ > 0)
    n->len += (size_t)snprintf (n->buf + n->len, n->cap - n->len, "; ");
  if (n->len + 1 >= n->cap)
    {
      n->len = n->cap - 1;
      return;
    }
  va_list ap;
  va_start (ap, fmt);
  int w = vsnprintf (n->buf + n->len, n->cap - n->len, fmt, ap);
  va_end (ap);
  n->len = w < 0 ? n->len
           : (size_t)w >= n->cap - n->len ? n->cap - 1
                                          : n->len + (size_t)w;
}

static void
u64 (notes_t *n, const char *what, uint64_t job, uint64_t node)
{
  if (job != node)
    add (n, "%s %" PRIu64 " (this node: %" PRIu64 ")", what, job, node);
}

static const char *
str_or (const char *s, const char *dflt)
{
  return s && *s ? s : dflt;
}

static void
str (notes_t *n, const char *what, const char *job, const char *node,
     const char *dflt)
{
  job = str_or (job, dflt);
  node = str_or (node, dflt);
  if (strcmp (job, node) != 0)
    add (n, "%s %s (this node: %s)", what, job, node);
}

static int
same_env (const mu_strmap_t *a, const mu_strmap_t *b)
{
  if (a->n != b->n)
    return 0;
  for (size_t i = 0; i < a->n; i++)
    {
      size_t k = 0;
      while (k < b->n && strcmp (a->keys[i], b->keys[k]) != 0)
        k++;
      if (k == b->n || strcmp (a->vals[i], b->vals[k]) != 0)
        return 0;
    }
  return 1;
}

size_t
mu_job_option_notes (const mu_job_spec_t *job, const mu_job_spec_t *node,
                     char *buf, size_t cap)
{
  if (cap == 0)
    return 0;
  buf[0] = '\0';
  notes_t n = { .buf = buf, .cap = cap };
  u64 (&n, "max_restarts", job->max_restarts, node->max_restarts);
  u64 (&n, "infra_restarts", job->infra_restarts, node->infra_restarts);
  u64 (&n, "join_timeout_ms", job->join_timeout_ms, node->join_timeout_ms);
  u64 (&n, "last_call_ms", job->last_call_ms, node->last_call_ms);
  u64 (&n, "grace_ms", job->grace_ms, node->grace_ms);
  u64 (&n, "outage_ms", job->outage_ms, node->outage_ms);
  str (&n, "elastic_mode", job->elastic_mode, node->elastic_mode, "restart");
  u64 (&n, "progress_timeout_ms", job->progress_timeout_ms,
       node->progress_timeout_ms);
  u64 (&n, "cordon_failures", job->cordon_failures, node->cordon_failures);
  u64 (&n, "cordon_window_ms", job->cordon_window_ms, node->cordon_window_ms);
  u64 (&n, "cordon_ms", job->cordon_ms, node->cordon_ms);
  str (&n, "ckpt_dir", job->ckpt_dir, node->ckpt_dir, "(none)");
  u64 (&n, "ckpt_every_ms", job->ckpt_every_ms, node->ckpt_every_ms);
  u64 (&n, "ckpt_every_steps", job->ckpt_every_steps, node->ckpt_every_steps);
  u64 (&n, "ckpt_keep", job->ckpt_keep, node->ckpt_keep);
  u64 (&n, "ckpt_timeout_ms", job->ckpt_timeout_ms, node->ckpt_timeout_ms);
  u64 (&n, "nbuckets", job->nbuckets, node->nbuckets);
  u64 (&n, "mpi", job->mpi, node->mpi);
  str (&n, "cwd", job->cwd, node->cwd, "(the agent's)");
  if (!same_env (&job->env, &node->env))
    add (&n, "the workers' extra environment differs (%zu variable(s) in "
             "the job, %zu on this node)",
         job->env.n, node->env.n);
  return n.len;
}
