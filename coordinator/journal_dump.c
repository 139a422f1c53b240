/*
 * journal_dump.c — the image of the job table as canonical JSON, for
 * `musterd --dump-state` and the replay equality check: jobs sorted by id,
 * keys in a fixed order, one job per line, nothing that depends on when or
 * where it was printed.
 */
#include "coordinator/journal_image.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void
json_str (FILE *f, const char *s)
{
  if (s == NULL)
    {
      fputs ("null", f);
      return;
    }
  fputc ('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        fprintf (f, "\\%c", *p);
      else if (*p < 0x20)
        fprintf (f, "\\u%04x", *p);
      else
        fputc (*p, f);
    }
  fputc ('"', f);
}

static void
dump_spec (FILE *f, const mu_job_spec_t *s)
{
  fputs ("{\"argv\":[", f);
  for (size_t i = 0; i < s->argv.n; i++)
    {
      if (i)
        fputc (',', f);
      json_str (f, s->argv.v[i]);
    }
  fputs ("],\"roles\":[", f);
  for (size_t i = 0; i < s->roles.n; i++)
    fprintf (f,
             "%s{\"name\":\"%s\",\"min\":%" PRIu64 ",\"max\":%" PRIu64
             ",\"nproc\":%" PRIu64 "}",
             i ? "," : "", s->roles.v[i].name, s->roles.v[i].min_nodes,
             s->roles.v[i].max_nodes, s->roles.v[i].nproc);
  fputs ("],\"ckpt_dir\":", f);
  json_str (f, s->ckpt_dir);
  fprintf (f,
           ",\"max_restarts\":%" PRIu64 ",\"elastic_mode\":", s->max_restarts);
  json_str (f, s->elastic_mode);
  fprintf (f, ",\"env\":%zu}", s->env.n);
}

static int
cmp_str (const void *a, const void *b)
{
  return strcmp (*(char *const *)a, *(char *const *)b);
}

void
mu_jimage_dump (const mu_jimage_t *img, FILE *f)
{
  size_t n = mu_smap_size (img->jobs), k = 0;
  const char **ids = calloc (n ? n : 1, sizeof *ids);
  if (ids == NULL)
    return;
  size_t pos = 0;
  const char *id;
  while (mu_smap_next (img->jobs, &pos, &id, NULL))
    ids[k++] = id;
  qsort (ids, k, sizeof *ids, cmp_str);
  fputs ("{\"jobs\":[\n", f);
  for (size_t i = 0; i < k; i++)
    {
      const mu_jjob_t *jj = mu_smap_get (img->jobs, ids[i]);
      fputs ("{\"id\":", f);
      json_str (f, ids[i]);
      fputs (",\"owner\":", f);
      json_str (f, jj->owner);
      fprintf (f, ",\"uid\":%u,\"gid\":%u,\"submitted\":%d,\"state\":\"%s\"",
               jj->uid, jj->gid, jj->submitted, jj->state);
      if (jj->final[0])
        fprintf (f, ",\"final\":\"%s\"", jj->final);
      fputs (",\"reason\":", f);
      json_str (f, jj->reason);
      fprintf (f,
               ",\"epoch\":%" PRIu64 ",\"world\":%" PRIu64
               ",\"restarts\":%" PRIu64 ",\"user_failures\":%" PRIu64
               ",\"infra_failures\":%" PRIu64 ",\"ok_exits\":%" PRIu64,
               jj->epoch, jj->world, jj->restarts, jj->user_failures,
               jj->infra_failures, jj->ok_exits);
      fputs (",\"epoch_reason\":", f);
      json_str (f, jj->epoch_reason);
      fputs (",\"members\":[", f);
      for (size_t m = 0; m < jj->nmembers; m++)
        {
          const mu_jmember_t *x = &jj->members[m];
          fprintf (f, "%s{\"node\":", m ? "," : "");
          json_str (f, x->node);
          fputs (",\"host\":", f);
          json_str (f, x->host);
          fprintf (f,
                   ",\"port_base\":%" PRIu64 ",\"role\":%u,\"node_rank\":%u"
                   ",\"first_rank\":%" PRIu64 ",\"role_first_rank\":%" PRIu64
                   ",\"nproc\":%u,\"exited\":%u}",
                   x->port_base, x->role, x->node_rank, x->first_rank,
                   x->role_first_rank, x->nproc, x->exited);
        }
      fputs ("],\"ckpt\":", f);
      if (jj->ckpt_dir != NULL)
        {
          fprintf (f,
                   "{\"step\":%" PRIu64 ",\"created_us\":%" PRIu64 ",\"dir\":",
                   jj->ckpt_step, jj->ckpt_created_us);
          json_str (f, jj->ckpt_dir);
          fputc ('}', f);
        }
      else
        fputs ("null", f);
      fprintf (f, ",\"exit_code\":%" PRId64 ",\"failure\":", jj->exit_code);
      if (jj->failure.set)
        {
          fprintf (f,
                   "{\"rank\":%" PRId64 ",\"exit_code\":%" PRId64
                   ",\"signal\":%" PRId64 ",\"node\":",
                   jj->failure.rank, jj->failure.exit_code, jj->failure.signal);
          json_str (f, jj->failure.node);
          fputs (",\"reason\":", f);
          json_str (f, jj->failure.reason);
          fputc ('}', f);
        }
      else
        fputs ("null", f);
      fputs (",\"spec\":", f);
      dump_spec (f, jj->spec);
      fprintf (f, "}%s\n", i + 1 < k ? "," : "");
    }
  fputs ("]}\n", f);
  free (ids);
}
