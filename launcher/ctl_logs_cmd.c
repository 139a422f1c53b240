/*
 * ctl_logs_cmd.c — `muster logs JOB [-f] [--rank R] [--since SEQ]
 * [--tail N]`: a job's output as its agents forwarded it (ctl.logs).
 *
 * Lines come in pages of up to PAGE lines from a cursor; a full page is
 * followed at once by the next, so a long log streams out without a
 * pause.  With -f the command keeps polling every POLL_MS from the last
 * cursor until the job has finished and nothing new came (exit 0) — the
 * coordinator keeps the ring of a finished job, so a follower that starts
 * late still sees the end.  The lines already carry their "[role rank] "
 * prefix; markers of the coordinator's own ("[... N bytes dropped ...]")
 * say where output was lost.
 */
#include "launcher/ctl_client.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PAGE 1000
#define POLL_MS 250

static int
fetch (const mu_ctl_args_t *a, uint64_t since, uint64_t max, mu_msg_t *rep)
{
  mu_msg_t req;
  memset (&req, 0, sizeof req);
  req.type = MU_MSG_CTL_LOGS;
  req.u.ctl_logs.job = (char *)a->job;
  req.u.ctl_logs.by_rank = a->by_rank != 0;
  req.u.ctl_logs.rank = a->rank;
  req.u.ctl_logs.since = since;
  req.u.ctl_logs.max = max;
  char err[768];
  int rc = mu_ctl_call_ex (a->endpoint, &a->keys, a->timeout_ms, &req, rep,
                           err, sizeof err, a->json ? stderr : NULL);
  if (rc != 0)
    {
      fprintf (stderr, "muster logs: %s\n", mu_ctl_errmsg ("logs", err));
      return 1;
    }
  if (rep->type != MU_MSG_CTL_LOGS_REPLY)
    {
      fprintf (stderr, "muster logs: unexpected answer %s\n",
               mu_msg_name (rep->type));
      mu_msg_clear (rep);
      return 1;
    }
  return 0;
}

int
mu_ctl_logs_main (int argc, char **argv)
{
  mu_ctl_args_t a;
  int rc = mu_ctl_parse (argc, argv, &a, 1, "logs");
  if (rc != 0)
    return rc < 0 ? 0 : rc;
  uint64_t since = a.since;
  mu_msg_t rep;
  if (a.tail_given)
    {
      /* A cursor past the end comes back as the end. */
      if (fetch (&a, UINT64_MAX, 1, &rep) != 0)
        return 1;
      uint64_t end = rep.u.ctl_logs_reply.next;
      uint64_t first = rep.u.ctl_logs_reply.first;
      mu_msg_clear (&rep);
      since = end > a.tail ? end - a.tail : 0;
      if (since < first)
        since = first;
    }
  for (;;)
    {
      if (fetch (&a, since, PAGE, &rep) != 0)
        return 1;
      const mu_ctl_logs_reply_t *l = &rep.u.ctl_logs_reply;
      if (a.json && l->lines.n > 0)
        mu_ctl_print_json (stdout, &rep);
      else if (!a.json)
        for (size_t i = 0; i < l->lines.n; i++)
          printf ("%s\n", l->lines.v[i].text);
      int full = l->lines.n == PAGE;
      int done = l->done;
      since = l->next;
      mu_msg_clear (&rep);
      fflush (stdout);
      if (full)
        continue;
      if (!a.follow || done)
        return 0;
      usleep (POLL_MS * 1000);
    }
}
