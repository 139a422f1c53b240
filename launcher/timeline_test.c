/*
 * timeline_test.c — the timeline of a job with a crash, a restart and a
 * checkpoint: one lane per rank grouped by node, a bar per rank per epoch
 * ending where (and why) the rank ended, the crash marked on its rank,
 * the checkpoint and the restart on the job's lane, a node loss across
 * its node; the Chrome trace JSON is valid JSON with one thread per rank;
 * the SVG is well-formed XML, with names escaped.  The JSON and XML
 * checkers below are small validators, not matchers of expected text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <muster/error.h>

#include "launcher/timeline.h"

/* ------------------------------------------------ a tiny JSON validator */

static const char *json_value (const char *p);

static const char *
ws (const char *p)
{
  while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
    p++;
  return p;
}

static const char *
json_string (const char *p)
{
  if (*p++ != '"')
    return NULL;
  while (*p && *p != '"')
    {
      if ((unsigned char)*p < 0x20)
        return NULL;
      if (*p == '\\')
        {
          p++;
          if (*p == 'u')
            {
              for (int i = 1; i <= 4; i++)
                if (!strchr ("0123456789abcdefABCDEF", p[i]) || !p[i])
                  return NULL;
              p += 4;
            }
          else if (!strchr ("\"\\/bfnrt", *p) || !*p)
            return NULL;
        }
      p++;
    }
  return *p == '"' ? p + 1 : NULL;
}

static const char *
json_value (const char *p)
{
  p = ws (p);
  if (*p == '{' || *p == '[')
    {
      char close = *p == '{' ? '}' : ']';
      int obj = *p == '{';
      p = ws (p + 1);
      if (*p == close)
        return p + 1;
      for (;;)
        {
          if (obj)
            {
              p = json_string (ws (p));
              if (p == NULL || *(p = ws (p)) != ':')
                return NULL;
              p++;
            }
          p = json_value (p);
          if (p == NULL)
            return NULL;
          p = ws (p);
          if (*p == close)
            return p + 1;
          if (*p++ != ',')
            return NULL;
        }
    }
  if (*p == '"')
    return json_string (p);
  if (strncmp (p, "true", 4) == 0 || strncmp (p, "null", 4) == 0)
    return p + 4;
  if (strncmp (p, "false", 5) == 0)
    return p + 5;
  const char *s = p;
  if (*p == '-')
    p++;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++)
      ;
  return p > s && p[-1] != '-' ? p : NULL;
}

static int
json_valid (const char *text)
{
  const char *end = json_value (text);
  return end != NULL && *ws (end) == '\0';
}

/* ------------------------------------------ a tiny XML well-formedness */

static int
xml_well_formed (const char *p)
{
  const char *stack[256];
  size_t len[256], depth = 0;
  int root_seen = 0;
  while (*p)
    {
      if (*p == '&')
        {
          const char *ents[] = { "&lt;", "&gt;", "&amp;", "&quot;", "&apos;" };
          int ok = 0;
          for (int i = 0; i < 5; i++)
            if (strncmp (p, ents[i], strlen (ents[i])) == 0)
              ok = 1;
          if (!ok)
            return 0;
          p++;
          continue;
        }
      if (*p != '<')
        {
          if (*p == '>' || (depth == 0 && *p > ' ' && root_seen))
            return 0;
          p++;
          continue;
        }
      if (p[1] == '?')
        {
          p = strstr (p, "?>");
          if (p == NULL)
            return 0;
          p += 2;
          continue;
        }
      int closing = p[1] == '/';
      const char *name = p + 1 + closing;
      size_t n = strcspn (name, " \t\n/>");
      if (n == 0)
        return 0;
      const char *q = name + n;
      /* attributes: name="value" with no '<' or raw '&' in the value */
      for (;;)
        {
          q = ws (q);
          if (*q == '>' || (*q == '/' && q[1] == '>'))
            break;
          if (closing)
            return 0;
          size_t an = strcspn (q, "= \t\n/>");
          if (an == 0 || q[an] != '=' || q[an + 1] != '"')
            return 0;
          q += an + 2;
          while (*q && *q != '"')
            {
              if (*q == '<')
                return 0;
              if (*q == '&' && !(strncmp (q, "&lt;", 4) == 0
                                 || strncmp (q, "&gt;", 4) == 0
                                 || strncmp (q, "&amp;", 5) == 0
                                 || strncmp (q, "&quot;", 6) == 0
                                 || strncmp (q, "&apos;", 6) == 0))
                return 0;
              q++;
            }
          if (*q++ != '"')
            return 0;
        }
      int empty = *q == '/';
      p = q + (empty ? 2 : 1);
      if (closing)
        {
          if (depth == 0 || len[depth - 1] != n
              || strncmp (stack[depth - 1], name, n) != 0)
            return 0;
          depth--;
        }
      else if (!empty)
        {
          if (depth == 0 && root_seen)
            return 0;
          if (depth == 256)
            return 0;
          root_seen = 1;
          stack[depth] = name;
          len[depth++] = n;
        }
    }
  return depth == 0 && root_seen;
}

/* ------------------------------------------------------------ the job */

static mu_event_member_t members[2] = {
  { .node = (char *)"n<1>", .first_rank = 0, .nproc = 2 },
  { .node = (char *)"n2", .first_rank = 2, .nproc = 2 },
};

#define S 1000000ull /* a second, in microseconds */

static mu_event_info_t
ev (uint64_t seq, uint64_t t, const char *kind, uint64_t epoch)
{
  return (mu_event_info_t){ .seq = seq, .time_us = 5 * S + t,
                            .kind = (char *)kind, .job = (char *)"j&1",
                            .epoch = epoch, .rank = -1 };
}

/* A job on 2 nodes x 2 ranks: a checkpoint, rank 3 crashes, a restart,
 * node n2 lost in epoch 2, a third epoch on n<1> alone, success. */
static size_t
crash_job (mu_event_info_t *v)
{
  size_t n = 0;
  v[n++] = ev (1, 0, "job.created", 0);
  v[n++] = ev (2, 0, "rdzv.opened", 1);
  v[n++] = ev (3, S / 10, "rdzv.closed", 1);
  v[n] = ev (4, S / 10, "epoch.started", 1);
  v[n].members.v = members;
  v[n++].members.n = 2;
  v[n] = ev (5, S, "ckpt.committed", 1);
  v[n++].step = 50;
  v[n] = ev (6, 2 * S, "worker.exited", 1);
  v[n].node = (char *)"n2";
  v[n].rank = 3;
  v[n].code = 3;
  v[n++].cause = (char *)"user";
  v[n] = ev (7, 2 * S, "job.recovering", 1);
  v[n++].cause = (char *)"user";
  for (int r = 0; r < 3; r++)
    {
      v[n] = ev (8 + (uint64_t)r, 2 * S + S / 10, "worker.exited", 1);
      v[n].node = r < 2 ? (char *)"n<1>" : (char *)"n2";
      v[n].rank = r;
      v[n].signal = 15;
      v[n++].cause = (char *)"stopped";
    }
  v[n++] = ev (11, 2 * S + S / 5, "rdzv.opened", 2);
  v[n++] = ev (12, 2 * S + S / 5, "rdzv.closed", 2);
  v[n] = ev (13, 2 * S + S / 5, "epoch.started", 2);
  v[n].members.v = members;
  v[n++].members.n = 2;
  v[n] = ev (14, 3 * S, "node.lost", 2);
  v[n++].node = (char *)"n2";
  v[n] = ev (15, 3 * S, "epoch.started", 3);
  v[n].members.v = members;
  v[n++].members.n = 1;
  v[n] = ev (16, 4 * S, "job.finished", 3);
  v[n++].state = (char *)"succeeded";
  return n;
}

static void
test_model (void **state)
{
  (void)state;
  mu_event_info_t v[32];
  size_t n = crash_job (v);
  mu_timeline_t *t = NULL;
  assert_int_equal (mu_timeline_build ("j&1", v, n, &t), 0);
  assert_int_equal (t->nnodes, 2);
  assert_string_equal (t->nodes[0], "n<1>");
  assert_int_equal (t->nlanes, 4);
  for (size_t i = 0; i < 4; i++)
    {
      assert_int_equal (t->lanes[i].rank, (int64_t)i);
      assert_int_equal (t->lanes[i].node, i < 2 ? 0 : 1);
    }
  assert_int_equal (t->span_us, 4 * S);
  assert_int_equal (t->epochs, 3);
  /* 4 bars in epochs 1 and 2, 2 in epoch 3 */
  assert_int_equal (t->nbars, 10);
  int crash_bar = 0;
  for (size_t i = 0; i < t->nbars; i++)
    {
      const mu_tl_bar_t *b = &t->bars[i];
      if (b->epoch == 1 && t->lanes[b->lane].rank == 3)
        {
          crash_bar = 1;
          assert_string_equal (b->end, "user");
          assert_int_equal (b->end_us, 2 * S);
          assert_int_equal (b->code, 3);
        }
      else if (b->epoch == 1)
        {
          assert_string_equal (b->end, "stopped");
          assert_int_equal (b->end_us, 2 * S + S / 10);
        }
      else if (b->epoch == 2)
        {
          assert_string_equal (b->end, "epoch-ended");
          assert_int_equal (b->end_us, 3 * S);
        }
      else
        {
          assert_string_equal (b->end, "job-ended");
          assert_int_equal (b->end_us, 4 * S);
          assert_int_equal (t->lanes[b->lane].node, 0);
        }
    }
  assert_true (crash_bar);
  assert_int_equal (t->nrounds, 2);
  assert_int_equal (t->rounds[0].end_us, S / 10);
  /* marks: the crash on rank 3's lane only (not the stopped ranks), the
   * node loss on n2, the rest on the job's lane */
  int crash = 0, lost = 0, ckpt = 0, restart = 0;
  for (size_t i = 0; i < t->nmarks; i++)
    {
      const mu_tl_mark_t *m = &t->marks[i];
      if (m->scope == MU_TL_RANK)
        {
          crash++;
          assert_int_equal (t->lanes[m->index].rank, 3);
          assert_string_equal (m->ev->kind, "worker.exited");
        }
      else if (m->scope == MU_TL_NODE)
        {
          lost++;
          assert_int_equal (m->index, 1);
        }
      else if (strcmp (m->ev->kind, "ckpt.committed") == 0)
        ckpt++;
      else if (strcmp (m->ev->kind, "job.recovering") == 0)
        restart++;
    }
  assert_int_equal (crash, 1);
  assert_int_equal (lost, 1);
  assert_int_equal (ckpt, 1);
  assert_int_equal (restart, 1);
  mu_timeline_destroy (&t);
  assert_null (t);
  assert_int_equal (mu_timeline_build ("x", v, 0, &t), MUSTER_EINVAL);
}

/* Ranks met out of order (a node lane first, ranks descending) come out
 * grouped by node, ascending. */
static void
test_lane_order (void **state)
{
  (void)state;
  mu_event_member_t m[2] = { { .node = (char *)"b", .first_rank = 0, .nproc = 1 },
                             { .node = (char *)"a", .first_rank = 1, .nproc = 1 } };
  mu_event_member_t m2[2] = { { .node = (char *)"a", .first_rank = 0, .nproc = 1 },
                              { .node = (char *)"b", .first_rank = 1, .nproc = 1 } };
  mu_event_info_t v[4];
  v[0] = ev (1, 0, "node.joined", 0);
  v[0].node = (char *)"c";
  v[1] = ev (2, 1, "epoch.started", 1);
  v[1].members.v = m;
  v[1].members.n = 2;
  v[2] = ev (3, 2, "epoch.started", 2);
  v[2].members.v = m2;
  v[2].members.n = 2;
  mu_timeline_t *t = NULL;
  assert_int_equal (mu_timeline_build ("j", v, 3, &t), 0);
  assert_int_equal (t->nlanes, 5);
  const char *want_node[] = { "c", "b", "b", "a", "a" };
  int64_t want_rank[] = { -1, 0, 1, 0, 1 };
  for (size_t i = 0; i < 5; i++)
    {
      assert_string_equal (t->nodes[t->lanes[i].node], want_node[i]);
      assert_int_equal (t->lanes[i].rank, want_rank[i]);
    }
  for (size_t i = 0; i < t->nbars; i++)
    if (t->bars[i].epoch == 1)
      assert_string_equal (t->nodes[t->lanes[t->bars[i].lane].node],
                           t->lanes[t->bars[i].lane].rank == 0 ? "b" : "a");
  mu_timeline_destroy (&t);
}

static char *
render (const mu_timeline_t *t, int svg)
{
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&buf, &len);
  assert_non_null (f);
  assert_int_equal (svg ? mu_timeline_write_svg (t, f)
                        : mu_timeline_write_json (t, f), 0);
  fclose (f);
  return buf;
}

static size_t
count (const char *hay, const char *needle)
{
  size_t n = 0;
  for (const char *p = hay; (p = strstr (p, needle)) != NULL; p++)
    n++;
  return n;
}

static void
test_json (void **state)
{
  (void)state;
  mu_event_info_t v[32];
  size_t n = crash_job (v);
  v[4].detail = (char *)"dir \"q\"\\ \n\x01 end";
  mu_timeline_t *t = NULL;
  assert_int_equal (mu_timeline_build ("j&1", v, n, &t), 0);
  char *j = render (t, 0);
  assert_true (json_valid (j));
  /* one thread per rank, named */
  for (int r = 0; r < 4; r++)
    {
      char want[64];
      snprintf (want, sizeof want, "\"args\":{\"name\":\"rank %d\"}", r);
      assert_int_equal (count (j, want), 1);
    }
  assert_int_equal (count (j, "\"ph\":\"X\",\"cat\":\"epoch\""), 10);
  assert_int_equal (count (j, "\"s\":\"t\",\"pid\":2,\"tid\":3"), 1);
  free (j);
  /* the validator refuses what it should */
  assert_false (json_valid ("{\"a\":1,}"));
  assert_false (json_valid ("{\"a\":\"x\ny\"}"));
  assert_false (json_valid ("[1 2]"));
  mu_timeline_destroy (&t);
}

static void
test_svg (void **state)
{
  (void)state;
  mu_event_info_t v[32];
  size_t n = crash_job (v);
  v[4].detail = (char *)"<script>&\"'";
  mu_timeline_t *t = NULL;
  assert_int_equal (mu_timeline_build ("j&1", v, n, &t), 0);
  char *s = render (t, 1);
  assert_true (xml_well_formed (s));
  assert_non_null (strstr (s, "n&lt;1&gt;"));
  assert_null (strstr (s, "<script"));
  assert_int_equal (count (s, "<rect class=\"epoch\""), 10);
  assert_int_equal (count (s, "<g class=\"crash\""), 1);
  assert_int_equal (count (s, "class=\"ckpt-committed\""), 1);
  assert_int_equal (count (s, "class=\"node-lost\""), 1);
  free (s);
  assert_false (xml_well_formed ("<a><b></a></b>"));
  assert_false (xml_well_formed ("<a x=1></a>"));
  assert_false (xml_well_formed ("<a>&</a>"));
  assert_false (xml_well_formed ("<a></a><b></b>"));
  assert_true (xml_well_formed ("<?xml version=\"1.0\"?>\n<a><b/>x &amp; y</a>\n"));
  mu_timeline_destroy (&t);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_model),
    cmocka_unit_test (test_lane_order),
    cmocka_unit_test (test_json),
    cmocka_unit_test (test_svg),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
