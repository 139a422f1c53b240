/*
 * journal_image_test.c — the replay machine: a job's history of records
 * gives the image it describes (state, counters, membership and exits,
 * restore point, outcome); an "image" record of that image replays to the
 * same dump (what compaction relies on); records it cannot take (another
 * format version, an unknown kind, a job never created, not msgpack) are
 * refused with a sentence naming the problem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include <muster/error.h>

#include "common/util.h"
#include "coordinator/journal_image.h"

static mu_job_spec_t *
spec_of (const char *id)
{
  static mu_role_spec_t role = {
    .name = (char *)"worker", .min_nodes = 1, .max_nodes = 2, .nproc = 2
  };
  static char *argv[] = { (char *)"train", (char *)"--fast" };
  static char *ek[] = { (char *)"A" }, *ev[] = { (char *)"1" };
  mu_job_spec_t s;
  memset (&s, 0, sizeof s);
  s.id = (char *)id;
  s.roles.v = &role;
  s.roles.n = 1;
  s.argv.v = argv;
  s.argv.n = 2;
  s.env.keys = ek;
  s.env.vals = ev;
  s.env.n = 1;
  s.max_restarts = 3;
  s.ckpt_dir = (char *)"/ck";
  s.elastic_mode = (char *)"restart";
  s.resume = true;
  s.mpi = true;
  return mu_job_spec_dup (&s);
}

static void
apply_ok (mu_jimage_t *img, int rc, char *buf, size_t len)
{
  char err[256] = "";
  assert_int_equal (rc, 0);
  int arc = mu_jimage_apply (img, buf, len, err, sizeof err);
  if (arc != 0)
    fail_msg ("apply: %s", err);
  free (buf);
}

/* Build a record (expr fills buf and len), then apply it: two statements,
 * as function arguments are evaluated in no fixed order. */
#define REC(img, expr, buf, len)                                               \
  do                                                                           \
    {                                                                          \
      int rc_ = (expr);                                                        \
      apply_ok ((img), rc_, (buf), (len));                                     \
    }                                                                          \
  while (0)

static char *
dump (const mu_jimage_t *img)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream (&text, &len);
  mu_jimage_dump (img, f);
  fclose (f);
  return text;
}

/* created, rendezvous, epoch 1 of two nodes, one exit, a checkpoint, a
 * restart charged, epoch 2, two ok exits, finished. */
static void
history (mu_jimage_t *img, const char *id)
{
  char *b;
  size_t l;
  mu_jjob_t v;
  memset (&v, 0, sizeof v);
  v.spec = spec_of (id);
  v.uid = 1000;
  v.gid = 100;
  v.owner = (char *)"alice";
  v.submitted = 1;
  REC (img, mu_jrec_created (id, &v, &b, &l), b, l);
  REC (img, mu_jrec_state (id, "rendezvous", NULL, NULL, &b, &l), b, l);
  mu_jmember_t m[2] = {
    { .node = (char *)"a",
      .pub = (char *)"K1",
      .host = (char *)"h1",
      .port_base = 4000,
      .role = 0,
      .node_rank = 0,
      .first_rank = 0,
      .role_first_rank = 0,
      .nproc = 2 },
    { .node = (char *)"b",
      .pub = (char *)"K2",
      .host = (char *)"h2",
      .port_base = 5000,
      .role = 0,
      .node_rank = 1,
      .first_rank = 2,
      .role_first_rank = 2,
      .nproc = 2 },
  };
  v.epoch = 1;
  v.world = 4;
  v.members = m;
  v.nmembers = 2;
  REC (img, mu_jrec_epoch (id, &v, &b, &l), b, l);
  REC (img, mu_jrec_exit (id, "b", 3, 1, &b, &l), b, l);
  mu_jjob_t *jj = mu_smap_get (img->jobs, id);
  assert_non_null (jj);
  assert_string_equal (jj->state, "running");
  assert_int_equal (jj->nmembers, 2);
  assert_string_equal (jj->members[1].node, "b");
  assert_string_equal (jj->members[1].pub, "K2");
  assert_int_equal (jj->members[1].first_rank, 2);
  assert_int_equal (jj->members[1].exited, 1);
  assert_int_equal (jj->members[0].exited, 0);
  assert_int_equal (jj->ok_exits, 1);
  assert_int_equal (jj->uid, 1000);
  assert_true (jj->submitted);
  assert_string_equal (jj->spec->argv.v[1], "--fast");
  assert_string_equal (mu_strmap_get (&jj->spec->env, "A"), "1");
  assert_true (jj->spec->resume);
  assert_true (jj->spec->mpi); /* muster run --mpi survives a restart */
  REC (img, mu_jrec_ckpt (id, 120, "/ck/x/step-120", 77, &b, &l), b, l);
  v.restarts = 1;
  v.user_failures = 1;
  v.epoch_reason = (char *)"rank 0 on node a exited with code 3";
  REC (img, mu_jrec_recover (id, &v, &b, &l), b, l);
  REC (img, mu_jrec_state (id, "recovering", NULL, NULL, &b, &l), b, l);
  assert_int_equal (jj->nmembers, 0); /* only a running epoch keeps them */
  v.epoch = 2;
  v.nmembers = 1;
  REC (img, mu_jrec_epoch (id, &v, &b, &l), b, l);
  assert_int_equal (jj->ok_exits, 0);
  REC (img, mu_jrec_exit (id, "a", 0, 1, &b, &l), b, l);
  REC (img, mu_jrec_exit (id, "a", 1, 1, &b, &l), b, l);
  mu_strlcpy (v.state, "succeeded", sizeof v.state);
  v.exit_code = 0;
  v.reason = (char *)"all 2 workers exited 0";
  REC (img, mu_jrec_finished (id, &v, &b, &l), b, l);
  mu_job_spec_free (&v.spec);
}

static void
test_history (void **state)
{
  (void)state;
  mu_jimage_t img;
  assert_int_equal (mu_jimage_init (&img), 0);
  history (&img, "j1");
  mu_jjob_t *jj = mu_smap_get (img.jobs, "j1");
  assert_string_equal (jj->state, "succeeded");
  assert_int_equal (jj->epoch, 2);
  assert_int_equal (jj->restarts, 1);
  assert_int_equal (jj->user_failures, 1);
  assert_int_equal (jj->ok_exits, 2);
  assert_int_equal (jj->nmembers, 0);
  assert_int_equal (jj->ckpt_step, 120);
  assert_string_equal (jj->ckpt_dir, "/ck/x/step-120");
  assert_string_equal (jj->reason, "all 2 workers exited 0");
  assert_string_equal (jj->epoch_reason, "rank 0 on node a exited with code 3");
  assert_true (jj->finish_order > jj->order);
  /* Retired: gone from the table. */
  char *b;
  size_t l;
  REC (&img, mu_jrec_retired ("j1", &b, &l), b, l);
  assert_null (mu_smap_get (img.jobs, "j1"));
  mu_jimage_free (&img);
}

static void
test_image_round_trip (void **state)
{
  (void)state;
  mu_jimage_t a, b;
  assert_int_equal (mu_jimage_init (&a), 0);
  assert_int_equal (mu_jimage_init (&b), 0);
  history (&a, "j1");
  /* A second job left running, with exits, and one stopping. */
  char *buf;
  size_t len;
  mu_jjob_t v;
  memset (&v, 0, sizeof v);
  v.spec = spec_of ("j2");
  mu_jmember_t m = {
    .node = (char *)"c", .pub = (char *)"", .host = (char *)"h3", .nproc = 2
  };
  v.epoch = 4;
  v.world = 2;
  v.members = &m;
  v.nmembers = 1;
  REC (&a, mu_jrec_created ("j2", &v, &buf, &len), buf, len);
  REC (&a, mu_jrec_epoch ("j2", &v, &buf, &len), buf, len);
  REC (&a, mu_jrec_exit ("j2", "c", 1, 0, &buf, &len), buf, len);
  mu_job_spec_free (&v.spec);
  v.spec = spec_of ("j3");
  REC (&a, mu_jrec_created ("j3", &v, &buf, &len), buf, len);
  REC (&a,
       mu_jrec_state ("j3", "stopping", "cancelled", "by request", &buf, &len),
       buf, len);
  mu_job_spec_free (&v.spec);
  /* Every job as an "image" record (a snapshot) into a fresh image. */
  size_t pos = 0;
  const char *id;
  void *val;
  while (mu_smap_next (a.jobs, &pos, &id, &val))
    REC (&b, mu_jrec_image (id, val, &buf, &len), buf, len);
  char *da = dump (&a), *db = dump (&b);
  assert_string_equal (da, db);
  assert_non_null (strstr (da, "\"final\":\"cancelled\""));
  assert_non_null (strstr (da, "\"exited\":1"));
  free (da);
  free (db);
  mu_jimage_free (&a);
  mu_jimage_free (&b);
}

/* schedwire: the spec file's fields (tenant, priority, kind, labels, the
 * role's own argv and env, autoscaling, spares) survive the journal, so a
 * restarted musterd schedules the job as submitted. */
static void
test_spec_file_fields (void **state)
{
  (void)state;
  static char *labels[] = { (char *)"zone=a", (char *)"gpu=h100" };
  static char *rargv[] = { (char *)"serve", (char *)"--port" };
  static char *rek[] = { (char *)"R" }, *rev[] = { (char *)"2" };
  mu_job_spec_t *s = spec_of ("sf");
  s->roles.v[0].slots = 4;
  s->roles.v[0].labels.v = labels;
  s->roles.v[0].labels.n = 2;
  s->roles.v[0].argv.v = rargv;
  s->roles.v[0].argv.n = 2;
  s->roles.v[0].env.keys = rek;
  s->roles.v[0].env.vals = rev;
  s->roles.v[0].env.n = 1;
  s->tenant = (char *)"recsys";
  s->priority = -5;
  s->kind = (char *)"service";
  s->name = (char *)"serve-ctr";
  s->restart_policy = (char *)"never";
  s->autoscale_min = 1;
  s->autoscale_max = 6;
  s->autoscale_target = 100;
  s->autoscale_cooldown_ms = 30000;
  s->spares = 2;
  mu_job_spec_t *copy = mu_job_spec_dup (s);
  /* spec_of's strings are static; free only what the dup made */
  s->roles.v[0].labels.n = s->roles.v[0].argv.n = s->roles.v[0].env.n = 0;
  s->roles.v[0].labels.v = s->roles.v[0].argv.v = NULL;
  s->roles.v[0].env.keys = s->roles.v[0].env.vals = NULL;
  s->tenant = s->kind = s->name = s->restart_policy = NULL;
  mu_job_spec_free (&s);
  assert_non_null (copy);
  mu_jimage_t img;
  assert_int_equal (mu_jimage_init (&img), 0);
  mu_jjob_t v;
  memset (&v, 0, sizeof v);
  v.spec = copy;
  char *buf;
  size_t len;
  REC (&img, mu_jrec_created ("sf", &v, &buf, &len), buf, len);
  mu_job_spec_free (&copy);
  const mu_jjob_t *jj = mu_smap_get (img.jobs, "sf");
  assert_non_null (jj);
  const mu_job_spec_t *g = jj->spec;
  assert_string_equal (g->tenant, "recsys");
  assert_int_equal (g->priority, -5);
  assert_string_equal (g->kind, "service");
  assert_string_equal (g->name, "serve-ctr");
  assert_string_equal (g->restart_policy, "never");
  assert_int_equal (g->autoscale_min, 1);
  assert_int_equal (g->autoscale_max, 6);
  assert_int_equal (g->autoscale_target, 100);
  assert_int_equal (g->autoscale_cooldown_ms, 30000);
  assert_int_equal (g->spares, 2);
  const mu_role_spec_t *r = &g->roles.v[0];
  assert_int_equal (r->slots, 4);
  assert_int_equal (r->labels.n, 2);
  assert_string_equal (r->labels.v[1], "gpu=h100");
  assert_int_equal (r->argv.n, 2);
  assert_string_equal (r->argv.v[0], "serve");
  assert_int_equal (r->env.n, 1);
  assert_string_equal (r->env.keys[0], "R");
  assert_string_equal (r->env.vals[0], "2");
  mu_jimage_free (&img);
}

static char *
raw_record (int version, const char *kind, const char *id, size_t *len)
{
  msgpack_sbuffer sb;
  msgpack_sbuffer_init (&sb);
  msgpack_packer pk;
  msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map (&pk, 3);
  msgpack_pack_str_with_body (&pk, "v", 1);
  msgpack_pack_uint64 (&pk, (uint64_t)version);
  msgpack_pack_str_with_body (&pk, "t", 1);
  msgpack_pack_str_with_body (&pk, kind, strlen (kind));
  msgpack_pack_str_with_body (&pk, "id", 2);
  msgpack_pack_str_with_body (&pk, id, strlen (id));
  *len = sb.size;
  return msgpack_sbuffer_release (&sb);
}

static void
test_bad_records (void **state)
{
  (void)state;
  mu_jimage_t img;
  assert_int_equal (mu_jimage_init (&img), 0);
  char err[256];
  size_t len;
  char *r = raw_record (2, "created", "x", &len);
  assert_int_equal (mu_jimage_apply (&img, r, len, err, sizeof err),
                    MUSTER_EVERSION);
  assert_non_null (strstr (err, "format version 2"));
  free (r);
  r = raw_record (MU_JREC_VERSION, "teleported", "x", &len);
  history (&img, "x");
  assert_int_equal (mu_jimage_apply (&img, r, len, err, sizeof err),
                    MUSTER_EPROTO);
  assert_non_null (strstr (err, "unknown record kind"));
  assert_non_null (strstr (err, "teleported"));
  free (r);
  r = raw_record (MU_JREC_VERSION, "state", "ghost", &len);
  assert_int_equal (mu_jimage_apply (&img, r, len, err, sizeof err),
                    MUSTER_EPROTO);
  assert_non_null (strstr (err, "job ghost"));
  assert_non_null (strstr (err, "no such job"));
  free (r);
  r = raw_record (MU_JREC_VERSION, "epoch", "x", &len);
  assert_int_equal (mu_jimage_apply (&img, r, len, err, sizeof err),
                    MUSTER_EPROTO);
  assert_non_null (strstr (err, "field epoch"));
  free (r);
  assert_int_equal (mu_jimage_apply (&img, "\xc1", 1, err, sizeof err),
                    MUSTER_EPROTO);
  assert_non_null (strstr (err, "not one msgpack map"));
  mu_jimage_free (&img);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_history),
    cmocka_unit_test (test_image_round_trip),
    cmocka_unit_test (test_spec_file_fields),
    cmocka_unit_test (test_bad_records),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
