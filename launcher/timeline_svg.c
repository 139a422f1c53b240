/*
 * timeline_svg.c — a timeline as one self-contained SVG picture that a
 * browser (or any image viewer) shows without another tool.
 *
 * From the top: a title with the job's figures; a time axis in seconds
 * from the first event, with gridlines; the job's own row (rendezvous
 * rounds as grey spans, checkpoints as diamonds — green committed, orange
 * aborted —, restarts as red triangles, preemption, resume and the finish
 * as labelled marks); then one row per rank, grouped under its node, with
 * one bar per epoch coloured by epoch, a red cross where a worker failed
 * (cause user or infra), and a dashed line across a node's rows where it
 * was lost (red) or left (orange); a legend at the bottom.  Every shape
 * carries a <title> (the event's sentence), shown as a tooltip.  Text is
 * XML-escaped; no scripts, no external references.
 */
#include "launcher/timeline.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define W 1100
#define LX 190     /* left: row labels */
#define RM 30      /* right margin */
#define PW (W - LX - RM)
#define AXIS_Y 70
#define JOB_Y 86
#define JOB_H 26
#define ROW_H 22
#define LANE_Y (JOB_Y + JOB_H + 12)

static const char *const palette[] = { "#4e79a7", "#59a14f", "#9c755f",
                                       "#76b7b2", "#edc948", "#b07aa1",
                                       "#ff9da7", "#bab0ac" };
#define NPAL (sizeof palette / sizeof palette[0])

static double
x_of (const mu_timeline_t *t, uint64_t us)
{
  double span = t->span_us ? (double)t->span_us : 1.0;
  return LX + (double)us * PW / span;
}

static double
lane_y (size_t lane)
{
  return LANE_Y + (double)lane * ROW_H;
}

/* A tick step of 1, 2 or 5 x 10^k microseconds giving at most 10 ticks. */
static uint64_t
tick_step (uint64_t span)
{
  uint64_t step = 1;
  for (;;)
    {
      if (span / step <= 10)
        return step;
      if (span / (step * 2) <= 10)
        return step * 2;
      if (span / (step * 5) <= 10)
        return step * 5;
      step *= 10;
    }
}

static void
title_of (FILE *f, const mu_event_info_t *e)
{
  fprintf (f, "<title>#%" PRIu64 " %s", e->seq, e->kind);
  if (e->epoch)
    fprintf (f, " epoch %" PRIu64, e->epoch);
  if (e->step)
    fprintf (f, " step %" PRIu64, e->step);
  if (e->cause)
    {
      fputs (" (", f);
      mu_xml_text (f, e->cause);
      fputc (')', f);
    }
  if (e->detail)
    {
      fputs (": ", f);
      mu_xml_text (f, e->detail);
    }
  fputs ("</title>", f);
}

static void
axis (FILE *f, const mu_timeline_t *t, double bottom)
{
  uint64_t step = tick_step (t->span_us ? t->span_us : 1);
  fprintf (f, "<g class=\"axis\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
           "y2=\"%d\" stroke=\"#333\"/>\n", LX, AXIS_Y, LX + PW, AXIS_Y);
  for (uint64_t us = 0; us <= t->span_us; us += step)
    {
      double x = x_of (t, us);
      fprintf (f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%d\" "
               "text-anchor=\"middle\">%.*f s</text>\n", x, AXIS_Y, x, bottom,
               x, AXIS_Y - 6, step >= 1000000 ? 0 : step >= 100000 ? 1
                                              : step >= 10000 ? 2 : 3,
               (double)us / 1e6);
      if (t->span_us == 0)
        break;
    }
  fputs ("</g>\n", f);
}

static void
row_labels (FILE *f, const mu_timeline_t *t)
{
  fprintf (f, "<text x=\"8\" y=\"%d\" font-weight=\"bold\">job events</text>\n",
           JOB_Y + 17);
  for (size_t i = 0; i < t->nlanes; i++)
    {
      const mu_tl_lane_t *l = &t->lanes[i];
      double y = lane_y (i);
      int first = i == 0 || t->lanes[i - 1].node != l->node;
      if (first)
        {
          fprintf (f, "<line x1=\"4\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                   "stroke=\"#999\"/>\n<text x=\"8\" y=\"%.1f\" "
                   "font-weight=\"bold\">", y - 1, W - RM, y - 1, y + 15);
          mu_xml_text (f, t->nodes[l->node]);
          fputs ("</text>\n", f);
        }
      if (l->rank >= 0)
        fprintf (f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">rank "
                 "%lld</text>\n", LX - 8, y + 15, (long long)l->rank);
    }
}

static void
bars (FILE *f, const mu_timeline_t *t)
{
  for (size_t i = 0; i < t->nbars; i++)
    {
      const mu_tl_bar_t *b = &t->bars[i];
      const mu_tl_lane_t *l = &t->lanes[b->lane];
      double x0 = x_of (t, b->start_us), x1 = x_of (t, b->end_us);
      double w = x1 - x0 < 1.5 ? 1.5 : x1 - x0;
      double y = lane_y (b->lane) + 3;
      fprintf (f, "<rect class=\"epoch\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
               "height=\"%d\" rx=\"3\" fill=\"%s\"><title>rank %lld, epoch %"
               PRIu64 ": %.3f s to %.3f s, ended: ", x0, y, w, ROW_H - 6,
               palette[(b->epoch ? b->epoch - 1 : 0) % NPAL],
               (long long)l->rank, b->epoch, (double)b->start_us / 1e6,
               (double)b->end_us / 1e6);
      mu_xml_text (f, b->end);
      if (b->code || b->signal)
        fprintf (f, " (code %" PRId64 ", signal %" PRId64 ")", b->code,
                 b->signal);
      fputs ("</title></rect>\n", f);
      if (w > 60)
        fprintf (f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#fff\" "
                 "font-size=\"11\">epoch %" PRIu64 "</text>\n", x0 + 4,
                 y + 12, b->epoch);
    }
}

static void
job_mark (FILE *f, const mu_timeline_t *t, const mu_tl_mark_t *m)
{
  const mu_event_info_t *e = m->ev;
  double x = x_of (t, m->t_us), y = JOB_Y + JOB_H / 2.0;
  const char *k = e->kind;
  if (strcmp (k, "ckpt.committed") == 0 || strcmp (k, "ckpt.aborted") == 0)
    {
      const char *col = k[5] == 'c' ? "#2ca02c" : "#ff7f0e";
      fprintf (f, "<polygon class=\"%s\" points=\"%.1f,%.1f %.1f,%.1f %.1f,"
               "%.1f %.1f,%.1f\" fill=\"%s\" stroke=\"#333\">", k[5] == 'c'
               ? "ckpt-committed" : "ckpt-aborted", x, y - 7, x + 6, y, x,
               y + 7, x - 6, y, col);
      title_of (f, e);
      fputs ("</polygon>\n", f);
    }
  else if (strcmp (k, "job.recovering") == 0)
    {
      fprintf (f, "<polygon class=\"restart\" points=\"%.1f,%.1f %.1f,%.1f "
               "%.1f,%.1f\" fill=\"#d62728\">", x - 6, y - 8, x + 6, y - 8, x,
               y + 4);
      title_of (f, e);
      fputs ("</polygon>\n", f);
    }
  else if (strcmp (k, "epoch.started") == 0 || strcmp (k, "ckpt.requested") == 0
           || strcmp (k, "job.created") == 0)
    {
      fprintf (f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
               "stroke=\"%s\" stroke-width=\"2\">", x, y - 9, x, y + 9,
               k[0] == 'e' ? "#4e79a7" : "#9bd39b");
      title_of (f, e);
      fputs ("</line>\n", f);
    }
  else
    {
      const char *col = strcmp (k, "preempt.requested") == 0 ? "#9467bd"
                        : strcmp (k, "job.resumed") == 0     ? "#1f77b4"
                        : strcmp (k, "job.finished") == 0    ? "#000"
                                                             : "#888";
      fprintf (f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\">", x,
               y, col);
      title_of (f, e);
      fputs ("</circle>\n", f);
      if (strcmp (k, "job.finished") == 0 || strcmp (k, "preempt.requested") == 0
          || strcmp (k, "job.resumed") == 0)
        {
          fprintf (f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" "
                   "text-anchor=\"end\">", x - 7, JOB_Y + 9);
          mu_xml_text (f, k[0] == 'p' ? "preempt" : k + 4);
          if (e->state)
            {
              fputc (' ', f);
              mu_xml_text (f, e->state);
            }
          fputs ("</text>\n", f);
        }
    }
}

static void
marks (FILE *f, const mu_timeline_t *t)
{
  for (size_t i = 0; i < t->nrounds; i++)
    {
      const mu_tl_round_t *r = &t->rounds[i];
      double x0 = x_of (t, r->start_us), x1 = x_of (t, r->end_us);
      fprintf (f, "<rect class=\"rdzv\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
               "height=\"%d\" fill=\"%s\"><title>rendezvous for epoch %"
               PRIu64 ": %.3f s%s</title></rect>\n", x0, JOB_Y + 2,
               x1 - x0 < 2 ? 2 : x1 - x0, JOB_H - 4,
               r->failed ? "#f4a6a6" : "#ccc", r->epoch,
               (double)(r->end_us - r->start_us) / 1e6,
               r->failed ? ", failed" : "");
    }
  for (size_t i = 0; i < t->nmarks; i++)
    {
      const mu_tl_mark_t *m = &t->marks[i];
      double x = x_of (t, m->t_us);
      if (m->scope == MU_TL_JOB)
        job_mark (f, t, m);
      else if (m->scope == MU_TL_RANK)
        {
          double y = lane_y (m->index) + ROW_H / 2.0;
          fprintf (f, "<g class=\"crash\" stroke=\"#d62728\" "
                   "stroke-width=\"3\"><line x1=\"%.1f\" y1=\"%.1f\" "
                   "x2=\"%.1f\" y2=\"%.1f\"/><line x1=\"%.1f\" y1=\"%.1f\" "
                   "x2=\"%.1f\" y2=\"%.1f\"/>", x - 6, y - 6, x + 6, y + 6,
                   x - 6, y + 6, x + 6, y - 6);
          title_of (f, m->ev);
          fputs ("</g>\n", f);
        }
      else
        {
          size_t first = SIZE_MAX, last = 0;
          for (size_t l = 0; l < t->nlanes; l++)
            if (t->lanes[l].node == m->index)
              {
                if (first == SIZE_MAX)
                  first = l;
                last = l;
              }
          if (first == SIZE_MAX)
            continue;
          const char *k = m->ev->kind;
          const char *col = strcmp (k, "node.lost") == 0   ? "#d62728"
                            : strcmp (k, "node.left") == 0 ? "#ff7f0e"
                                                           : "#aaa";
          fprintf (f, "<line class=\"%s\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                   "y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
                   "stroke-dasharray=\"4 3\">", strcmp (k, "node.lost") == 0
                   ? "node-lost" : "node-event", x, lane_y (first), x,
                   lane_y (last) + ROW_H, col);
          title_of (f, m->ev);
          fputs ("</line>\n", f);
        }
    }
}

static void
legend (FILE *f, const mu_timeline_t *t, double y)
{
  fprintf (f, "<g class=\"legend\" font-size=\"11\">\n");
  double x = LX;
  uint64_t n = t->epochs < NPAL ? t->epochs : NPAL;
  for (uint64_t e = 0; e < n; e++, x += 70)
    fprintf (f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" "
             "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">epoch %" PRIu64
             "%s</text>\n", x, y, palette[e], x + 18, y + 10, e + 1,
             e + 1 == NPAL && t->epochs > NPAL ? "+" : "");
  y += 20;
  x = LX;
  fprintf (f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"12\" "
           "fill=\"#ccc\"/><text x=\"%.1f\" y=\"%.1f\">rendezvous</text>\n",
           x, y, x + 18, y + 10);
  x += 100;
  fprintf (f, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" "
           "fill=\"#2ca02c\"/><text x=\"%.1f\" y=\"%.1f\">checkpoint "
           "committed</text>\n", x + 6, y, x + 12, y + 6, x + 6, y + 12, x,
           y + 6, x + 18, y + 10);
  x += 160;
  fprintf (f, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" "
           "fill=\"#ff7f0e\"/><text x=\"%.1f\" y=\"%.1f\">checkpoint "
           "aborted</text>\n", x + 6, y, x + 12, y + 6, x + 6, y + 12, x,
           y + 6, x + 18, y + 10);
  x += 150;
  fprintf (f, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" "
           "fill=\"#d62728\"/><text x=\"%.1f\" y=\"%.1f\">restart</text>\n",
           x, y, x + 12, y, x + 6, y + 12, x + 18, y + 10);
  x += 80;
  fprintf (f, "<g stroke=\"#d62728\" stroke-width=\"3\"><line x1=\"%.1f\" "
           "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/><line x1=\"%.1f\" y1=\"%.1f\" "
           "x2=\"%.1f\" y2=\"%.1f\"/></g><text x=\"%.1f\" y=\"%.1f\">worker "
           "failed</text>\n", x, y, x + 12, y + 12, x, y + 12, x + 12, y,
           x + 18, y + 10);
  x += 110;
  fprintf (f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
           "stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"4 3\"/>"
           "<text x=\"%.1f\" y=\"%.1f\">node lost</text>\n", x + 6, y - 2,
           x + 6, y + 14, x + 14, y + 10);
  fputs ("</g>\n", f);
}

int
mu_timeline_write_svg (const mu_timeline_t *t, FILE *f)
{
  size_t ranks = 0;
  for (size_t i = 0; i < t->nlanes; i++)
    ranks += t->lanes[i].rank >= 0;
  double bottom = lane_y (t->nlanes) + 4;
  double height = bottom + 70;
  fprintf (f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
           "height=\"%.0f\" viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" "
           "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
           "fill=\"#fff\"/>\n<text x=\"8\" y=\"22\" font-size=\"16\" "
           "font-weight=\"bold\">muster timeline: job ", W, height, W, height);
  mu_xml_text (f, t->job);
  fprintf (f, "</text>\n<text x=\"8\" y=\"42\">%" PRIu64 " epoch(s), %zu "
           "rank lane(s) on %zu node(s), %.3f s from the first event to the "
           "last; times in seconds from the first</text>\n", t->epochs, ranks,
           t->nnodes, (double)t->span_us / 1e6);
  axis (f, t, bottom);
  row_labels (f, t);
  bars (f, t);
  marks (f, t);
  legend (f, t, bottom + 16);
  fputs ("</svg>\n", f);
  return ferror (f) ? -EIO : 0;
}
