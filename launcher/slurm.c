/*
 * slurm.c — reading a Slurm allocation from SLURM_* (see slurm.h).
 *
 * Slurm describes an allocation in compressed strings: the node list as a
 * host list ("sn[1-3,5]"), the tasks per node as counts with repetitions
 * ("2(x3),1").  They are expanded here, bounded and checked, so a malformed
 * value is an error naming the variable rather than a gang of the wrong
 * size.  No I/O: the environment arrives through a lookup function.
 */
#include "launcher/slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/util.h"

static int
bad (char *err, size_t errlen, const char *what, const char *s, const char *why)
{
  snprintf (err, errlen, "%s '%s': %s", what, s, why);
  return MUSTER_EINVAL;
}

/* A decimal number of at most 9 digits at *p; its digit count in *width. */
static int
number (const char **p, unsigned long *v, size_t *width)
{
  const char *s = *p;
  size_t n = 0;
  unsigned long x = 0;
  while (s[n] >= '0' && s[n] <= '9' && n < 9)
    x = x * 10 + (unsigned long)(s[n++] - '0');
  if (n == 0 || (s[n] >= '0' && s[n] <= '9'))
    return -1;
  *p = s + n;
  *v = x;
  *width = n;
  return 0;
}

typedef struct sink
{
  char *out;
  size_t len, cap;
  size_t count;
  int full;
} sink_t;

static void
emit (sink_t *k, const char *prefix, size_t plen, const char *num,
      const char *suffix, size_t slen)
{
  size_t nlen = strlen (num);
  size_t need = (k->count ? 1 : 0) + plen + nlen + slen;
  k->count++;
  if (k->full || k->len + need + 1 > k->cap)
    {
      k->full = 1;
      return;
    }
  if (k->len)
    k->out[k->len++] = ',';
  memcpy (k->out + k->len, prefix, plen);
  k->len += plen;
  memcpy (k->out + k->len, num, nlen);
  k->len += nlen;
  memcpy (k->out + k->len, suffix, slen);
  k->len += slen;
  k->out[k->len] = '\0';
}

/* One name of the list, from s to end: "sn[1-3,5]x" or "login". */
static int
expand_one (const char *s, size_t len, sink_t *k, const char *list, char *err,
            size_t errlen)
{
  const char *lb = memchr (s, '[', len);
  if (lb == NULL)
    {
      if (memchr (s, ']', len) != NULL)
        return bad (err, errlen, "host list", list, "']' without '['");
      emit (k, s, len, "", "", 0);
      return 0;
    }
  const char *rb = memchr (lb, ']', len - (size_t)(lb - s));
  if (rb == NULL)
    return bad (err, errlen, "host list", list, "unclosed '['");
  const char *suffix = rb + 1;
  size_t slen = len - (size_t)(suffix - s);
  if (memchr (suffix, '[', slen) != NULL || memchr (suffix, ']', slen) != NULL)
    return bad (err, errlen, "host list", list,
                "more than one bracket group in a name");
  const char *p = lb + 1;
  if (p == rb)
    return bad (err, errlen, "host list", list, "empty brackets");
  while (p < rb)
    {
      unsigned long lo, hi;
      size_t w, w2;
      if (number (&p, &lo, &w) != 0)
        return bad (err, errlen, "host list", list,
                    "expected a number or a range in brackets");
      hi = lo;
      if (*p == '-')
        {
          p++;
          if (number (&p, &hi, &w2) != 0)
            return bad (err, errlen, "host list", list, "a range needs an end");
          if (hi < lo)
            return bad (err, errlen, "host list", list, "a range goes down");
        }
      if (*p == ',')
        p++;
      else if (p != rb)
        return bad (err, errlen, "host list", list,
                    "expected ',' or ']' after a number");
      if (hi - lo >= MU_SLURM_MAX_NODES
          || k->count + (hi - lo) >= MU_SLURM_MAX_NODES)
        return bad (err, errlen, "host list", list, "too many nodes");
      for (unsigned long v = lo; v <= hi; v++)
        {
          char num[16];
          /* Zero padding: the width of the range's first number. */
          snprintf (num, sizeof num, "%0*lu", (int)w, v);
          emit (k, s, (size_t)(lb - s), num, suffix, slen);
        }
    }
  return 0;
}

int
mu_slurm_hostlist_expand (const char *list, char *out, size_t outlen,
                          size_t *count, char *err, size_t errlen)
{
  sink_t k = { out, 0, outlen, 0, outlen == 0 };
  if (outlen)
    out[0] = '\0';
  *count = 0;
  if (list == NULL || *list == '\0')
    return bad (err, errlen, "host list", list ? list : "", "empty");
  const char *s = list;
  while (*s)
    {
      /* A name ends at a comma outside brackets. */
      const char *e = s;
      int depth = 0;
      while (*e && (*e != ',' || depth))
        {
          if (*e == '[')
            depth++;
          else if (*e == ']')
            depth--;
          e++;
        }
      if (e == s)
        return bad (err, errlen, "host list", list, "an empty name");
      int rc = expand_one (s, (size_t)(e - s), &k, list, err, errlen);
      if (rc != 0)
        return rc;
      s = *e ? e + 1 : e;
      if (*e && *s == '\0')
        return bad (err, errlen, "host list", list, "ends with ','");
    }
  *count = k.count;
  if (k.full)
    {
      snprintf (err, errlen,
                "host list '%s': %zu names do not fit in %zu bytes", list,
                k.count, outlen);
      return -ENOSPC;
    }
  return 0;
}

int
mu_slurm_tasks_per_node (const char *s, uint32_t index, uint32_t *tasks,
                         uint32_t *nodes, char *err, size_t errlen)
{
  const char *p = s;
  uint64_t seen = 0;
  int found = 0;
  if (s == NULL || *s == '\0')
    return bad (err, errlen, "SLURM_TASKS_PER_NODE", s ? s : "", "empty");
  while (*p)
    {
      unsigned long n, rep = 1;
      size_t w;
      if (number (&p, &n, &w) != 0)
        return bad (err, errlen, "SLURM_TASKS_PER_NODE", s,
                    "expected COUNT or COUNT(xREPEAT), separated by ','");
      if (strncmp (p, "(x", 2) == 0)
        {
          p += 2;
          if (number (&p, &rep, &w) != 0 || *p != ')' || rep == 0)
            return bad (err, errlen, "SLURM_TASKS_PER_NODE", s,
                        "expected COUNT(xREPEAT) with REPEAT >= 1");
          p++;
        }
      if (!found && index >= seen && index < seen + rep)
        {
          *tasks = (uint32_t)n;
          found = 1;
        }
      seen += rep;
      if (seen > MU_SLURM_MAX_NODES)
        return bad (err, errlen, "SLURM_TASKS_PER_NODE", s, "too many nodes");
      if (*p == ',')
        {
          p++;
          if (*p == '\0')
            return bad (err, errlen, "SLURM_TASKS_PER_NODE", s,
                        "ends with ','");
        }
      else if (*p != '\0')
        return bad (err, errlen, "SLURM_TASKS_PER_NODE", s,
                    "expected ',' between counts");
    }
  *nodes = (uint32_t)seen;
  if (!found)
    {
      char why[96];
      snprintf (why, sizeof why, "describes %llu nodes, not node %u",
                (unsigned long long)seen, (unsigned)index);
      return bad (err, errlen, "SLURM_TASKS_PER_NODE", s, why);
    }
  return 0;
}

static int
env_u32 (mu_slurm_getenv_fn get, void *arg, const char *name, uint32_t lo,
         uint32_t *out, int *present, char *err, size_t errlen)
{
  const char *v = get (name, arg);
  *present = v != NULL && *v != '\0';
  if (!*present)
    return 0;
  uint64_t x;
  if (mu_parse_u64 (v, &x) != 0 || x < lo || x > MU_SLURM_MAX_NODES * 4096ull)
    return bad (err, errlen, name, v, "expected a number");
  *out = (uint32_t)x;
  return 0;
}

int
mu_slurm_in_allocation (mu_slurm_getenv_fn get, void *arg)
{
  const char *job = get ("SLURM_JOB_ID", arg);
  const char *step = get ("SLURM_STEP_ID", arg);
  const char *drive = get ("MUSTER_SLURM_DRIVE", arg);
  return job != NULL && *job != '\0'
         && (step == NULL || *step == '\0'
             || (drive != NULL && strcmp (drive, "1") == 0));
}

int
mu_slurm_plan (mu_run_opts_t *o, mu_slurm_getenv_fn get, void *arg,
               const char *hostname, mu_slurm_plan_t *p, char *err,
               size_t errlen)
{
  memset (p, 0, sizeof *p);
  const char *job = get ("SLURM_JOB_ID", arg);
  if (!mu_slurm_in_allocation (get, arg) || o->endpoint != NULL
      || o->master_addr != NULL)
    return 0;
  if (o->standalone)
    {
      /* (mu_run_opts_parse_in_allocation let --nnodes above 1 through.) */
      if (o->min_nodes > 1)
        {
          snprintf (err, errlen,
                    "--standalone runs on this node only: "
                    "--nnodes %u:%u needs the allocation (drop "
                    "--standalone) or --rdzv-endpoint",
                    (unsigned)o->min_nodes, (unsigned)o->max_nodes);
          return MUSTER_EINVAL;
        }
      return 0;
    }
  uint32_t n = 0;
  int present = 0;
  int rc
      = env_u32 (get, arg, "SLURM_JOB_NUM_NODES", 1, &n, &present, err, errlen);
  if (rc == 0 && !present)
    rc = env_u32 (get, arg, "SLURM_NNODES", 1, &n, &present, err, errlen);
  if (rc != 0)
    return rc;
  if (!present)
    return bad (err, errlen, "SLURM_JOB_NUM_NODES", "",
                "not set inside an "
                "allocation (SLURM_JOB_ID is): give --rdzv-endpoint, or "
                "--standalone for this node only");
  const char *list = get ("SLURM_JOB_NODELIST", arg);
  if (list == NULL)
    list = get ("SLURM_NODELIST", arg);
  char *names = malloc (MU_SLURM_MAX_NODES * 32);
  if (names == NULL)
    return MUSTER_EINVAL;
  size_t count = 0;
  rc = mu_slurm_hostlist_expand (list ? list : "", names,
                                 MU_SLURM_MAX_NODES * 32, &count, err, errlen);
  if (rc == 0 && count != n)
    {
      char why[128];
      snprintf (why, sizeof why, "names %zu nodes, SLURM_JOB_NUM_NODES %u",
                count, (unsigned)n);
      rc = bad (err, errlen, "SLURM_JOB_NODELIST", list, why);
    }
  if (rc == 0)
    {
      size_t fl = strcspn (names, ",");
      if (fl >= sizeof p->first)
        rc = bad (err, errlen, "SLURM_JOB_NODELIST", list,
                  "a name is too long");
      else
        {
          memcpy (p->first, names, fl);
          p->first[fl] = '\0';
        }
    }
  free (names);
  if (rc != 0)
    return rc;
  if (o->min_nodes > n)
    {
      snprintf (err, errlen,
                "--nnodes %u:%u needs at least %u nodes and the "
                "allocation has %u (SLURM_JOB_NUM_NODES)",
                (unsigned)o->min_nodes, (unsigned)o->max_nodes,
                (unsigned)o->min_nodes, (unsigned)n);
      return MUSTER_EINVAL;
    }
  /* (In the step of a relaunch it describes that step, not the job.) */
  const char *tpn = get ("SLURM_TASKS_PER_NODE", arg);
  const char *in_step = get ("SLURM_STEP_ID", arg);
  if (tpn != NULL && (in_step == NULL || *in_step == '\0'))
    {
      uint32_t t, described;
      rc = mu_slurm_tasks_per_node (tpn, 0, &t, &described, err, errlen);
      if (rc == 0 && described != n)
        {
          char why[128];
          snprintf (why, sizeof why,
                    "describes %u nodes, SLURM_JOB_NUM_NODES %u",
                    (unsigned)described, (unsigned)n);
          rc = bad (err, errlen, "SLURM_TASKS_PER_NODE", tpn, why);
        }
      if (rc != 0)
        return rc;
    }
  const char *self = get ("SLURMD_NODENAME", arg);
  const char *drive = get ("MUSTER_SLURM_DRIVE", arg);
  if ((self == NULL || *self == '\0') && drive != NULL)
    return bad (err, errlen, "SLURMD_NODENAME", "",
                "not set in a step started on a node of the allocation");
  if (self == NULL || *self == '\0')
    {
      /* An salloc shell on a login node: not a node of the allocation.
       * Run again on its first node (mu_slurm_relaunch). */
      mu_strlcpy (p->job, job, sizeof p->job);
      p->nnodes = n;
      p->relaunch = 1;
      return 0;
    }
  if (n < 2)
    return 0; /* one node: the embedded coordinator, as outside Slurm */
  if (strlen (self) >= sizeof p->self)
    return bad (err, errlen, "SLURMD_NODENAME", self, "too long");
  uint32_t ntpn = 0;
  rc = env_u32 (get, arg, "SLURM_NTASKS_PER_NODE", 1, &ntpn, &present, err,
                errlen);
  if (rc != 0)
    return rc;
  uint32_t restarts = 0;
  rc = env_u32 (get, arg, "SLURM_RESTART_COUNT", 0, &restarts, &present, err,
                errlen);
  if (rc != 0)
    return rc;
  if (o->min_nodes == 1 && o->max_nodes == 1)
    o->min_nodes = o->max_nodes = n;
  if (o->nproc == 1 && o->nproc_kind == NULL && o->nroles == 0 && ntpn > 0)
    o->nproc = ntpn;
  const char *addr = o->advertise ? o->advertise : hostname;
  if (addr == NULL || *addr == '\0')
    return bad (err, errlen, "hostname", "",
                "empty: give --advertise-host "
                "ADDR (this node's address the others reach)");
  int v6 = strchr (addr, ':') != NULL;
  int w = snprintf (p->endpoint, sizeof p->endpoint, "%s%s%s:*", v6 ? "[" : "",
                    addr, v6 ? "]" : "");
  if (w < 0 || (size_t)w >= sizeof p->endpoint)
    return bad (err, errlen, "--advertise-host", addr, "too long");
  mu_strlcpy (p->job, job, sizeof p->job);
  mu_strlcpy (p->self, self, sizeof p->self);
  p->nnodes = n;
  p->joiners = (o->max_nodes < n ? o->max_nodes : n) - 1;
  p->restart_count = restarts;
  p->active = 1;
  o->host = 1;
  o->endpoint = p->endpoint;
  return 0;
}

/* Options that name this node or its credentials, which the joining nodes
 * must not copy; 1 when it takes a value. */
static int
stripped (const char *a, int *takes_value)
{
  static const char *const with_value[]
      = { "advertise-host", "local-addr",      "node-id", "node-rank",
          "join-token",     "join-token-file", NULL };
  static const char *const bare[] = { "host", "standalone", NULL };
  if (a[0] != '-' || a[1] != '-')
    return 0;
  char name[64];
  size_t i = 0;
  for (const char *s = a + 2; *s && *s != '=' && i + 1 < sizeof name; s++)
    name[i++] = *s == '_' ? '-' : *s;
  name[i] = '\0';
  int has_eq = strchr (a, '=') != NULL;
  for (int k = 0; with_value[k]; k++)
    if (strcmp (name, with_value[k]) == 0)
      {
        *takes_value = !has_eq;
        return 1;
      }
  for (int k = 0; bare[k]; k++)
    if (strcmp (name, bare[k]) == 0)
      {
        *takes_value = 0;
        return 1;
      }
  return 0;
}

char **
mu_slurm_child_args (const mu_slurm_plan_t *p, const mu_run_opts_t *o,
                     char **opts, int nopts, const char *endpoint,
                     const char *job_id)
{
  char nn[32];
  snprintf (nn, sizeof nn, "%u:%u", (unsigned)o->min_nodes,
            (unsigned)o->max_nodes);
  const char *head[] = { "run",  "--rdzv-endpoint", endpoint, "--rdzv-id",
                         job_id, "--nnodes",        nn };
  size_t nhead = sizeof head / sizeof head[0];
  size_t nargs = nhead + (size_t)nopts + 1 + (size_t)o->argc + 1;
  size_t bytes = 0;
  for (size_t i = 0; i < nhead; i++)
    bytes += strlen (head[i]) + 1;
  for (int i = 0; i < nopts; i++)
    bytes += strlen (opts[i]) + 1;
  for (int i = 0; i < o->argc; i++)
    bytes += strlen (o->argv[i]) + 1;
  bytes += 3;
  (void)p;
  char **v = malloc (nargs * sizeof *v + bytes);
  if (v == NULL)
    return NULL;
  char *s = (char *)(v + nargs);
  size_t n = 0;
#define PUT(str)                                                               \
  do                                                                           \
    {                                                                          \
      size_t l_ = strlen (str) + 1;                                            \
      memcpy (s, (str), l_);                                                   \
      v[n++] = s;                                                              \
      s += l_;                                                                 \
    }                                                                          \
  while (0)
  for (size_t i = 0; i < nhead; i++)
    PUT (head[i]);
  for (int i = 0; i < nopts; i++)
    {
      int tv = 0;
      if (strcmp (opts[i], "--") == 0)
        continue;
      if (stripped (opts[i], &tv))
        {
          i += tv;
          continue;
        }
      PUT (opts[i]);
    }
  PUT ("--");
  for (int i = 0; i < o->argc; i++)
    PUT (o->argv[i]);
#undef PUT
  v[n] = NULL;
  return v;
}
