/*
 * epoch.c — one epoch of a job from start to end (see epoch.h): the shell
 * of the job lifecycle machine (job_machine.h).
 *
 * Messages and timers become the machine's events here (mu_epoch_feed):
 * a round closed, a worker exited, a node was lost, a held failure is
 * charged, the drain deadline or the backoff passed, a stop for good.
 * The machine's decisions are carried out in order (carry_out): job.start
 * to every member, job.stop to recover or for good, the backoff timer, a
 * new round, job.done with the outcome, and the journal records.  The
 * rules themselves (budgets, backoff, exit codes, restart versus in
 * place, waiting for the last exit before finishing) are the machine's.
 *
 * What stays here is what needs I/O or the node table: the first failure
 * of the epoch as the root cause (j->failure), holding a worker failure a
 * moment so a node loss that explains it becomes the cause (failure.c),
 * the drain deadline after a stop, and a command that cannot be sent
 * (coord.c: its node is lost on the next loop turn).
 */
#include "coordinator/epoch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <muster/error.h>

#include "common/job_defaults.h"
#include "common/util.h"
#include "coordinator/ckpt.h"
#include "coordinator/coord_metrics.h"
#include "coordinator/ctl_ops.h"
#include "coordinator/journal.h"
#include "coordinator/mem_trim.h"
#include "coordinator/ps_plan.h"
#include "coordinator/event_stream.h"
#include "coordinator/service.h"


static uint64_t
grace_of (const mu_job_t *j)
{
  return mu_job_default_or (j->spec->grace_ms, MU_JD_GRACE_MS);
}

static mu_peer_node_t *
build_peer_nodes (mu_job_t *j, const mu_rdzv_member_t *mem, size_t n)
{
  mu_coord_t *c = j->coord;
  mu_peer_node_t *pn = calloc (n ? n : 1, sizeof *pn);
  if (pn == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++)
    {
      mu_node_t *node = mu_coord_node (c, mem[i].key);
      pn[i].node_id = node ? node->node_id : (char *)"?";
      pn[i].host = node ? node->host : (char *)"?";
      pn[i].role = j->spec->roles.v[mem[i].role].name;
      pn[i].node_rank = mem[i].node_rank;
      pn[i].first_rank = mem[i].first_rank;
      pn[i].role_first_rank = mem[i].role_first_rank;
      pn[i].nproc = mem[i].nproc;
      pn[i].port_base = node ? node->port_base : 0;
    }
  return pn;
}

static void cache_members (mu_job_t *j, mu_peer_node_t *all, size_t n);

static int
has_ps_role (const mu_job_t *j)
{
  for (size_t i = 0; i < j->spec->roles.n; i++)
    if (strcmp (j->spec->roles.v[i].name, "ps") == 0)
      return 1;
  return 0;
}

/* Send node its job.start: tmpl with its own part filled in; through
 * `split` (the part every member shares, encoded once: send_starts) when
 * not NULL, else encoded whole. */
static int
send_start (mu_job_t *j, mu_node_t *node, const mu_rdzv_member_t *me,
            mu_msg_t *tmpl, mu_peer_node_t *all, size_t nall, int full,
            const mu_msg_split_t *split)
{
  node->live = me->nproc;
  node->live_epoch = j->epoch;
  mu_assign_t *as = calloc (me->nproc, sizeof *as);
  if (as == NULL)
    {
      mu_coord_unreachable (j->coord, node, MU_MSG_START, -ENOMEM);
      return -ENOMEM;
    }
  for (uint32_t i = 0; i < me->nproc; i++)
    {
      as[i].rank = me->first_rank + i;
      as[i].local_rank = i;
      as[i].role = j->spec->roles.v[me->role].name;
      as[i].role_rank = me->role_first_rank + i;
    }
  mu_start_t *s = &tmpl->u.start;
  s->spec = (mu_job_spec_t *)mu_service_spec_for (j, node); /* service */
  s->node_rank = me->node_rank;
  s->assign.v = as;
  s->assign.n = me->nproc;
  mu_peer_node_t two[2];
  if (full)
    {
      s->nodes.v = all;
      s->nodes.n = nall;
    }
  else
    {
      two[0] = all[0];
      two[1] = all[me->node_rank];
      s->nodes.v = two;
      s->nodes.n = me->node_rank == 0 ? 1 : 2;
    }
  int rc;
  if (split == NULL)
    rc = mu_coord_send_node (j->coord, node, tmpl);
  else
    {
      char *buf = NULL;
      size_t len = 0;
      rc = mu_msg_split_finish (split, tmpl, &buf, &len);
      if (rc == 0)
        rc = mu_coord_send_node_encoded (j->coord, node, MU_MSG_START, buf,
                                         len);
      else
        mu_coord_unreachable (j->coord, node, MU_MSG_START, rc);
      free (buf);
    }
  free (as);
  return rc;
}

/* The root cause reported for a failed job is the first failure of its
 * last epoch: earlier epochs' failures were recovered from. */
static void
clear_failure_for_epoch (mu_job_t *j)
{
  free (j->failure.node_id);
  free (j->failure.stderr_tail);
  free (j->failure.reason);
  memset (&j->failure, 0, sizeof j->failure);
  mu_failure_free (&j->held);
}

/* Lowest rank of the new epoch on a node that also ran the previous one:
 * whom new members copy their state from (in-place mode). */
static int64_t
sync_source (const mu_job_t *j, const mu_rdzv_member_t *mem, size_t n)
{
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < j->nmembers; k++)
      if (j->members[k] == mem[i].key)
        return (int64_t)mem[i].first_rank;
  return -1;
}

/* What the feeder prepared for a decision: mu_epoch_start for
 * START_EPOCH, mu_jobs_worker_state for JOURNAL_EXIT. */
typedef struct exit_ctx {
  mu_node_t *n;
  uint64_t rank;
  int ok;
} exit_ctx_t;

/* What mu_epoch_start prepared for the START_EPOCH decision. */
typedef struct start_prep {
  const mu_rdzv_member_t *mem;
  size_t n;
  uint32_t *keys;
  mu_peer_node_t *all;
} start_prep_t;

/* The job.start every member of the epoch gets (pointers into j, roles
 * and all); send_start fills in each node's part. */
static void
fill_start (mu_job_t *j, mu_msg_t *m, mu_role_world_t *roles,
            const mu_rdzv_member_t *mem, size_t n, mu_peer_node_t *all,
            int in_place)
{
  size_t nroles = mu_rdzv_nroles (j->rdzv);
  for (size_t r = 0; r < nroles; r++)
    {
      uint32_t nodes = 0;
      roles[r].name = j->spec->roles.v[r].name;
      roles[r].world = mu_rdzv_role_world (j->rdzv, (uint32_t)r, &nodes);
      roles[r].nodes = nodes;
    }
  memset (m, 0, sizeof *m);
  m->type = MU_MSG_START;
  mu_start_t *s = &m->u.start;
  s->job = j->id;
  s->epoch = j->epoch;
  s->restart_count = j->restarts;
  s->max_restarts = j->spec->max_restarts;
  s->world = j->world;
  s->nnodes = n;
  s->master_addr = all[0].host;
  s->master_port = all[0].port_base ? all[0].port_base + all[0].nproc : 0;
  s->roles.v = roles;
  s->roles.n = nroles;
  s->spec = j->spec;
  s->in_place = in_place;
  s->reason = j->epoch_reason;
  s->sync_from = in_place ? sync_source (j, mem, n) : -1;
  s->restore_dir = j->restore_dir;
  s->restore_step = j->restore_dir ? j->restore_step : 0;
  s->restore_created_us = j->restore_dir ? j->restore_created_us : 0;
  /* A previous run of this id had finished: the first epoch says so (the
   * launcher's "starting fresh" notice). */
  s->finished_step = j->finished_us ? j->finished_step : 0;
  s->finished_us = j->finished_us;
  s->finished_moved = j->finished_moved;
  s->owner_uid = j->owner_uid;
  s->owner_gid = j->owner_gid;
  s->owner = j->owner;
}

static void
send_starts (mu_job_t *j, start_prep_t *p)
{
  mu_coord_t *c = j->coord;
  const mu_rdzv_member_t *mem = p->mem;
  size_t n = p->n;
  mu_peer_node_t *all = p->all;
  mu_role_world_t roles[MU_RDZV_MAX_ROLES];
  int in_place = j->in_place && j->epoch > 1;
  mu_ps_plan_epoch (j, mem, n, in_place);
  mu_msg_t m;
  fill_start (j, &m, roles, mem, n, all, in_place);
  int full = n <= c->opts.full_members_max || has_ps_role (j);
  if (!full)
    cache_members (j, all, n);
  else
    {
      free (j->members_buf);
      j->members_buf = NULL;
    }
  /* zsim (decision 108): what every member's job.start shares (the spec,
   * the roles, with every member the whole membership) is encoded once;
   * each start adds its node's own fields.  The fencing term is stamped
   * here, as mu_coord_send_node would. */
  static const char *const own_part[] = { "node_rank", "assign", "nodes",
                                          NULL };
  static const char *const own_full[] = { "node_rank", "assign", NULL };
  /* A service's spec may differ by node (service.h): its own too. */
  static const char *const own_part_svc[] = { "node_rank", "assign",
                                              "nodes", "spec", NULL };
  static const char *const own_full_svc[] = { "node_rank", "assign", "spec",
                                              NULL };
  const char *const *own = j->svc != NULL ? (full ? own_full_svc : own_part_svc)
                                          : (full ? own_full : own_part);
  m.u.start.term = c->opts.term;
  if (full)
    {
      m.u.start.nodes.v = all; /* shared: every member gets them all */
      m.u.start.nodes.n = n;
    }
  mu_msg_split_t split;
  int split_ok = mu_msg_split_encode (&m, own, &split) == 0;
  /* A start that cannot be sent marks its node unreachable (coord.c):
   * it is declared lost on the next loop turn and the job recovers
   * without it, instead of the node waiting for a start forever. */
  for (size_t i = 0; i < n; i++)
    {
      mu_node_t *node = mu_coord_node (c, mem[i].key);
      if (node != NULL)
        send_start (j, node, &mem[i], &m, all, n, full,
                    split_ok ? &split : NULL);
    }
  if (split_ok)
    mu_msg_split_free (&split);
  /* zsim: the round as musterd saw it, from its opening (the first join
   * of a first round) until the last start was handed to the transport
   * (before the journal record and its sync below). */
  uint64_t handed_us = mu_now_us ();
  double round_ms = j->round_open_us && handed_us >= j->round_open_us
                        ? (double)(handed_us - j->round_open_us) / 1e3
                        : -1.0;
  j->round_open_us = 0;
  free (j->members);
  j->members = p->keys;
  p->keys = NULL;
  j->nmembers = n;
  j->finished_us = 0;
  mu_jhook_epoch (j);
  mu_ckpt_epoch_started (j);
  mu_log_notice (c->log, "EPOCH-START",
                 "job %s epoch %llu: %zu node(s), world %llu, restart %llu; "
                 "round %.1f ms to the last start sent",
                 j->id, (unsigned long long)j->epoch, n,
                 (unsigned long long)j->world,
                 (unsigned long long)j->restarts, round_ms);
  mu_ev_epoch_started (j);
  mu_service_epoch_started (j); /* service: every replica runs */
  /* Nodes that did not make it into the round hear that they wait (mem:
   * the job's own nodes, from its machine, not every node's). */
  uint32_t pos = 0, key;
  int waiting;
  while (mu_rdzv_next_key (j->rdzv, &pos, &key, &waiting))
    {
      mu_node_t *w = waiting ? mu_coord_node (c, key) : NULL;
      if (w && w->in_use && w->alive && w->job == j)
        mu_epoch_send_progress (j, w);
    }
  mu_join_progress_clear (j); /* zsim: members have their start */
  mu_mem_trim_soon (c); /* the round's buffers are free: give pages back */
}

void
mu_epoch_start (mu_job_t *j)
{
  mu_coord_t *c = j->coord;
  size_t n = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &n);
  start_prep_t p = { mem, n, malloc ((n ? n : 1) * sizeof (uint32_t)),
                     build_peer_nodes (j, mem, n) };
  if (p.keys == NULL || p.all == NULL || n == 0)
    {
      free (p.keys);
      free (p.all);
      mu_jm_event_t ev = { .type = MU_JM_E_FAIL,
                           .why = "out of memory starting the epoch" };
      mu_epoch_feed (j, &ev, NULL);
      return;
    }
  uint64_t live = 0;
  for (size_t i = 0; i < n; i++)
    {
      p.keys[i] = mem[i].key;
      if (mu_coord_node (c, mem[i].key) != NULL)
        live += mem[i].nproc;
    }
  j->epoch_started_ms = mu_now_ms ();
  clear_failure_for_epoch (j);
  mu_kv_reset (j, MUSTER_EMEMBERSHIP);
  mu_jm_event_t ev = { .type = MU_JM_E_ROUND_CLOSED,
                       .epoch = mu_rdzv_epoch (j->rdzv),
                       .world = mu_rdzv_world (j->rdzv),
                       .live = live };
  mu_epoch_feed (j, &ev, &p);
  free (p.keys);
  free (p.all);
}

int
mu_epoch_start_node (mu_job_t *j, mu_node_t *node, const char *why,
                     uint64_t *nproc)
{
  size_t n = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &n);
  size_t me = n;
  for (size_t i = 0; i < n; i++)
    if (mem[i].key == node->key)
      me = i;
  if (me == n || j->state != MU_JOB_RUNNING)
    return MUSTER_ENOTFOUND;
  mu_peer_node_t *all = build_peer_nodes (j, mem, n);
  if (all == NULL)
    return -ENOMEM;
  mu_role_world_t roles[MU_RDZV_MAX_ROLES];
  mu_msg_t m;
  fill_start (j, &m, roles, mem, n, all, 0);
  m.u.start.reason = (char *)why;
  int full = j->members_buf == NULL;
  int rc = send_start (j, node, &mem[me], &m, all, n, full, NULL);
  free (all);
  *nproc = mem[me].nproc;
  return rc;
}

void
mu_epoch_send_progress (mu_job_t *j, mu_node_t *n)
{
  mu_rdzv_status_t p;
  mu_rdzv_get_progress (j->rdzv, mu_now_ms (), &p);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_RDZV_PROGRESS;
  m.u.rdzv_progress.job = j->id;
  m.u.rdzv_progress.epoch = p.epoch;
  m.u.rdzv_progress.joined = p.joined;
  m.u.rdzv_progress.min_nodes = p.min_nodes;
  m.u.rdzv_progress.max_nodes = p.max_nodes;
  m.u.rdzv_progress.last_call_ms = p.last_call_left;
  m.u.rdzv_progress.join_left_ms = p.join_left;
  /* Before the first round opens (a restore point is being looked up)
   * every node waits in line; that is not "the job is full". */
  m.u.rdzv_progress.waiting = mu_rdzv_is_waiting (j->rdzv, n->key) != 0
                              && p.state != MU_RDZV_IDLE;
  /* Display only, and sent again every second: a failure is logged and
   * counted by mu_coord_send_node. */
  (void)mu_coord_send_node (j->coord, n, &m);
}

void
mu_epoch_broadcast_progress (mu_job_t *j)
{
  /* (mem) The job's nodes from its machine: each job's progress tick is
   * O(its nodes), not O(every node), with many jobs in rendezvous.  A
   * node cordoned out of the round hears nothing meanwhile (display). */
  mu_coord_t *c = j->coord;
  uint32_t pos = 0, key;
  mu_join_progress_clear (j); /* zsim: everyone hears it now */
  while (mu_rdzv_next_key (j->rdzv, &pos, &key, NULL))
    {
      mu_node_t *n = mu_coord_node (c, key);
      if (n && n->in_use && n->alive && n->job == j)
        mu_epoch_send_progress (j, n);
    }
}

/* Every worker of a stopped epoch must be reported gone before the job
 * moves on; an agent that lost a report (or hangs) must not hold the job
 * forever: past the grace period plus the time to declare a node lost,
 * the workers still unreported are taken as gone. */
static void
on_drain_deadline (uv_timer_t *t)
{
  mu_job_t *j = t->data;
  if ((j->state != MU_JOB_RECOVERING && j->state != MU_JOB_STOPPING)
      || j->live == 0)
    return;
  mu_log_warn (j->coord->log, "DRAIN-TIMEOUT",
               "job %s epoch %llu: %llu worker(s) never reported their exit; "
               "taking them as gone",
               j->id, (unsigned long long)j->epoch,
               (unsigned long long)j->live);
  for (size_t i = 0; i < j->nmembers; i++)
    {
      mu_node_t *n = mu_coord_node (j->coord, j->members[i]);
      if (n != NULL && n->job == j)
        n->live = 0;
    }
  mu_jm_event_t ev = { .type = MU_JM_E_DRAIN_TIMEOUT };
  mu_epoch_feed (j, &ev, NULL);
}

static void
send_stop (mu_job_t *j, const char *why, int recover)
{
  mu_coord_t *c = j->coord;
  uint64_t bound = grace_of (j) + c->hb_limit_ms + 1000;
  uv_timer_start (&j->kick_timer, on_drain_deadline, bound, 0);
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_STOP;
  m.u.stop.job = j->id;
  m.u.stop.epoch = j->epoch;
  m.u.stop.grace_ms = grace_of (j);
  m.u.stop.reason = (char *)why;
  m.u.stop.recover = recover != 0;
  /* A recovery is told to every member, even one whose workers are all
   * down: its launcher says why the epoch ended (a lost node, not its own
   * worker's exit).  A final stop is told with the outcome (job.done).
   * A stop that cannot be sent marks the node unreachable (coord.c); the
   * drain deadline above bounds the wait for its workers either way. */
  for (size_t i = 0; i < j->nmembers; i++)
    {
      mu_node_t *n = mu_coord_node (j->coord, j->members[i]);
      if (n != NULL && n->job == j && (n->live > 0 || recover))
        mu_coord_send_node (j->coord, n, &m);
    }
}

void
mu_epoch_resend_stop (mu_job_t *j, mu_node_t *n)
{
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_STOP;
  m.u.stop.job = j->id;
  m.u.stop.epoch = j->epoch;
  m.u.stop.grace_ms = grace_of (j);
  m.u.stop.reason = j->reason ? j->reason : j->epoch_reason;
  m.u.stop.recover = j->state == MU_JOB_RECOVERING;
  mu_coord_send_node (j->coord, n, &m);
}

/* The job.done of a finished job (pointers into j). */
static void
fill_done (const mu_job_t *j, mu_msg_t *m)
{
  memset (m, 0, sizeof *m);
  m->type = MU_MSG_JOB_DONE;
  mu_job_done_t *d = &m->u.job_done;
  d->job = j->id;
  d->state = (char *)mu_job_state_name (j->state);
  d->exit_code = j->final_exit_code;
  d->reason = j->reason;
  d->failed_rank = j->failure.set ? j->failure.rank : -1;
  d->failed_node = j->failure.node_id;
  d->failed_signal = j->failure.signal;
  d->stderr_tail = j->failure.stderr_tail;
  if (j->state == MU_JOB_SUSPENDED)
    {
      d->failed_rank = -1;
      d->resume_step = j->restore_step;
      d->resumable = j->restore_dir != NULL;
    }
}

void
mu_epoch_send_done (mu_job_t *j, const mu_route_t *to)
{
  mu_msg_t m;
  fill_done (j, &m);
  mu_coord_send_route (j->coord, j->coord->agent_sock, to, &m);
}

/* FINISH: the machine has set the final state and exit code. */
static void
finish (mu_job_t *j)
{
  mu_coord_t *c = j->coord;
  j->finished_ms = mu_now_ms ();
  if (j->state == MU_JOB_SUCCEEDED)
    mu_ckpt_job_succeeded (j);
  mu_ckpt_job_ended (j);
  mu_msg_t m;
  fill_done (j, &m);
  for (size_t k = 0; k < c->nodes_used; k++)
    {
      mu_node_t *n = c->nodes[k];
      if (n && n->in_use && n->job == j)
        {
          /* Not sent: the node is unreachable, lost next turn; its agent
           * hears the outcome when it registers again (reconcile.h C2). */
          mu_coord_send_node (c, n, &m);
          mu_rdzv_decision_t rd;
          mu_rdzv_leave (j->rdzv, mu_now_ms (), n->key, &rd);
          n->job = NULL;
          n->live = 0;
        }
    }
  mu_kv_reset (j, MUSTER_EJOBDONE);
  mu_log_notice (c->log, "JOB-DONE", "job %s %s after %llu restart(s): %s",
                 j->id, mu_job_state_name (j->state),
                 (unsigned long long)j->restarts,
                 j->reason ? j->reason : "");
  mu_ev_job_finished (j);
  mu_jhook_finished (j);
  mu_jobs_finished (c, j);
}

static void
set_reason (char **slot, const char *why)
{
  char *r = strdup (why ? why : "");
  if (r != NULL)
    {
      free (*slot);
      *slot = r;
    }
}

static void
on_backoff (uv_timer_t *t)
{
  mu_jm_event_t ev = { .type = MU_JM_E_BACKOFF_DONE };
  mu_epoch_feed (t->data, &ev, NULL);
}

static const char *
recover_word (mu_jm_charge_t kind)
{
  return kind == MU_JM_CHARGE_USER    ? "user"
         : kind == MU_JM_CHARGE_INFRA ? "infra"
                                      : "uncharged";
}

/* Carry out one decision of the machine. */
static void
carry_out (mu_job_t *j, const mu_jm_decision_t *d, const mu_jm_out_t *out,
           void *ctx)
{
  switch (d->action)
    {
    case MU_JM_D_JOURNAL_EXIT:
      {
        const exit_ctx_t *x = ctx;
        mu_jhook_exit (j, x->n, x->rank, x->ok);
        break;
      }
    case MU_JM_D_RECOVER:
      set_reason (&j->epoch_reason, out->reason);
      mu_cm_restart (j, d->kind == MU_JM_CHARGE_USER    ? MU_RECOVER_USER
                        : d->kind == MU_JM_CHARGE_INFRA ? MU_RECOVER_INFRA
                                                        : MU_RECOVER_SCALE_UP);
      mu_jhook_recover (j);
      mu_log_notice (j->coord->log, "JOB-RECOVER",
                     "job %s epoch %llu: %s; %s %llu (%s)", j->id,
                     (unsigned long long)j->epoch, out->reason,
                     j->in_place ? "re-forming in place, change" : "restart",
                     (unsigned long long)j->restarts, recover_word (d->kind));
      mu_ev_recovering (j, (int)d->kind, out->reason);
      mu_kv_reset (j, MUSTER_EMEMBERSHIP);
      break;
    case MU_JM_D_OPEN_ROUND:
      mu_jobs_begin_round (j, d->reform);
      break;
    case MU_JM_D_START_EPOCH:
      mu_cm_epoch_started (j);
      send_starts (j, ctx);
      break;
    case MU_JM_D_RECOVERING:
      mu_jhook_state (j);
      send_stop (j, out->reason, 1);
      break;
    case MU_JM_D_STOPPING:
      set_reason (&j->reason, out->reason);
      mu_jhook_state (j);
      mu_ev_stopping (j, j->final_state, out->reason);
      uv_timer_stop (&j->rdzv_timer);
      uv_timer_stop (&j->kick_timer);
      mu_kv_reset (j, MUSTER_EJOBDONE);
      if (d->stop_workers)
        send_stop (j, out->reason, 0);
      break;
    case MU_JM_D_ARM_BACKOFF:
      uv_timer_start (&j->kick_timer, on_backoff, d->ms, 0);
      break;
    case MU_JM_D_RESTART_REPLICA: /* service (J9) */
      {
        /* The epoch goes on (its reason too): the worker's exit event
         * and the REPLICA-RESTART line say what happened. */
        const exit_ctx_t *x = ctx;
        mu_cm_restart (j, d->kind == MU_JM_CHARGE_USER ? MU_RECOVER_USER
                                                       : MU_RECOVER_INFRA);
        if (x != NULL)
          mu_service_restart_replica (j, x->n, d->ms);
        break;
      }
    case MU_JM_D_FINISH:
      if (out->reason != NULL && d->state == MU_JOB_SUCCEEDED)
        set_reason (&j->reason, out->reason);
      finish (j);
      break;
    }
}

void
mu_epoch_feed (mu_job_t *j, mu_jm_event_t *ev, void *ctx)
{
  ev->now_ms = mu_now_ms ();
  ev->resumable = j->restore_dir != NULL;
  mu_jm_out_t out;
  if (mu_jm_feed (&j->jm, ev, &out) != 0)
    return;
  for (size_t i = 0; i < out.n; i++)
    carry_out (j, &out.d[i], &out, ctx);
  if (j->coord != NULL)
    j->coord->sched_dirty = 1; /* schedwire: a pass reconciles (sched_glue.h) */
}

void
mu_epoch_fail (mu_job_t *j, const char *why, int infra)
{
  (void)infra;
  mu_jm_event_t ev = { .type = MU_JM_E_FAIL, .why = why };
  mu_epoch_feed (j, &ev, NULL);
}

void
mu_epoch_cancel (mu_job_t *j, const char *why)
{
  mu_jm_event_t ev = { .type = MU_JM_E_CANCEL, .why = why };
  mu_epoch_feed (j, &ev, NULL);
}

void
mu_epoch_suspend (mu_job_t *j, const char *why)
{
  mu_jm_event_t ev = { .type = MU_JM_E_SUSPEND, .why = why };
  mu_epoch_feed (j, &ev, NULL);
}

void
mu_epoch_recover (mu_job_t *j, mu_recover_kind_t kind, const char *why)
{
  mu_jm_event_t ev = { .type = MU_JM_E_RECOVER, .why = why };
  ev.charge = kind == MU_RECOVER_USER    ? MU_JM_CHARGE_USER
              : kind == MU_RECOVER_INFRA ? MU_JM_CHARGE_INFRA
                                         : MU_JM_CHARGE_SCALE;
  if (j->failure.set)
    {
      ev.exit_code = j->failure.exit_code;
      ev.signal = j->failure.signal;
    }
  mu_epoch_feed (j, &ev, NULL);
}

static void
record_failure (mu_job_t *j, mu_node_t *n, int64_t rank, int64_t code,
                int64_t sig, const char *tail, const char *reason)
{
  if (j->failure.set)
    return;
  mu_failure_set (&j->failure, n->node_id, rank, code, sig, tail, reason);
}

void
mu_jobs_worker_state (mu_coord_t *c, mu_node_t *n, const mu_worker_state_t *ws)
{
  mu_job_t *j = n->job;
  if (j == NULL || strcmp (ws->job, j->id) != 0 || ws->epoch != j->epoch
      || n->live_epoch != ws->epoch)
    {
      mu_log_debug (c->log, "STALE-EPOCH", "node %s: %s rank %llu epoch %llu ignored",
                    n->node_id, ws->state, (unsigned long long)ws->rank,
                    (unsigned long long)ws->epoch);
      /* Refused, and said so: a report of an epoch that is over (a fenced
       * node's, an in-place epoch's replaced worker) changes nothing. */
      mu_route_t to;
      mu_node_route (n, &to);
      if (j != NULL && strcmp (ws->job, j->id) == 0 && ws->epoch < j->epoch)
        mu_coord_send_error (c, c->agent_sock, &to, MUSTER_ESTALE_EPOCH,
                             "worker.state", "report of an epoch that is over");
      return;
    }
  if (strcmp (ws->state, "running") == 0)
    return;
  mu_ev_worker_exited (j, n, ws);
  int ok = ws->exit_code == 0 && ws->signal == 0
           && strcmp (ws->state, "exited") == 0;
  /* service: a replica stopped on purpose (restart, rolling update). */
  int svc = mu_service_is (j), svc_stopped = svc && mu_service_restarting (j, n);
  if (svc_stopped)
    ok = 0;
  mu_ps_plan_worker_gone (j, n, ws->rank);
  mu_jm_event_t ev = { .type = MU_JM_E_WORKER_EXIT, .ok = ok,
                       .counted = n->live > 0, .replica = svc,
                       .exit_code = ws->exit_code, .signal = ws->signal };
  if (n->live > 0)
    n->live--;
  char why[256];
  why[0] = '\0';
  if (!ok && j->state == MU_JOB_RUNNING && !svc_stopped)
    {
      if (strcmp (ws->state, "failed-to-start") == 0)
        snprintf (why, sizeof why, "rank %llu on node %s failed to start",
                  (unsigned long long)ws->rank, n->node_id);
      else if (strcmp (ws->state, "fenced") == 0)
        snprintf (why, sizeof why,
                  "node %s fenced rank %llu (its agent stalled past its "
                  "lease or lost the coordinator)",
                  n->node_id, (unsigned long long)ws->rank);
      else if (strcmp (ws->state, "hung") == 0)
        snprintf (why, sizeof why,
                  "rank %llu on node %s hung (no progress for %llu ms)",
                  (unsigned long long)ws->rank, n->node_id,
                  (unsigned long long)j->spec->progress_timeout_ms);
      else if (ws->signal != 0)
        snprintf (why, sizeof why, "rank %llu on node %s killed by signal %lld",
                  (unsigned long long)ws->rank, n->node_id,
                  (long long)ws->signal);
      else
        snprintf (why, sizeof why, "rank %llu on node %s exited with code %lld",
                  (unsigned long long)ws->rank, n->node_id,
                  (long long)ws->exit_code);
      mu_log_warn (c->log, "WORKER-FAILED", "job %s epoch %llu: %s", j->id,
                   (unsigned long long)j->epoch, why);
      ev.why = why;
      if (svc && mu_service_on_failure (j, n, why))
        ; /* service: stopped on purpose, or the update's failure */
      else if (strcmp (ws->state, "fenced") == 0)
        {
          /* Its agent killed it: the node's fault, not the program's. */
          record_failure (j, n, -1, 0, 0, NULL, why);
          ev.charge = MU_JM_CHARGE_INFRA;
          ev.exit_code = ev.signal = 0;
        }
      else if (!svc && !j->failure.set && mu_failure_hold (j, n, ws, why))
        ; /* held (or following one held): a node loss may explain it */
      else
        {
          record_failure (j, n, (int64_t)ws->rank, ws->exit_code, ws->signal,
                          ws->stderr_tail, why);
          mu_cordon_note_failure (j, n);
          ev.charge = MU_JM_CHARGE_USER;
        }
    }
  /* The exit is journaled (JOURNAL_EXIT) before what it causes (a
   * recovery), as the replay applies them. */
  exit_ctx_t x = { n, ws->rank, ok };
  mu_epoch_feed (j, &ev, &x);
}

/* Encode the epoch's whole membership once; agents of a large job fetch
 * it (job.members.get) when their workers first ask for peers. */
static void
cache_members (mu_job_t *j, mu_peer_node_t *all, size_t n)
{
  free (j->members_buf);
  j->members_buf = NULL;
  j->members_len = 0;
  mu_msg_t m;
  memset (&m, 0, sizeof m);
  m.type = MU_MSG_MEMBERS;
  m.u.members.job = j->id;
  m.u.members.epoch = j->epoch;
  m.u.members.nodes.v = all;
  m.u.members.nodes.n = n;
  if (mu_msg_encode (&m, &j->members_buf, &j->members_len) != 0)
    mu_log_err (j->coord->log, "ENCODE-FAILED", "job %s: membership of %zu nodes",
                j->id, n);
}

void
mu_jobs_members (mu_coord_t *c, mu_node_t *n, const mu_members_get_t *g)
{
  mu_job_t *j = n->job;
  mu_route_t to;
  mu_node_route (n, &to);
  if (j == NULL || strcmp (j->id, g->job) != 0 || g->epoch != j->epoch
      || j->members_buf == NULL)
    {
      mu_coord_send_error (c, c->agent_sock, &to,
                          j != NULL && g->epoch < j->epoch ? MUSTER_ESTALE_EPOCH
                                                           : MUSTER_ENOTFOUND,
                          "job.members.get", "no such job epoch membership");
      return;
    }
  /* Its workers wait for this membership: a reply that cannot be sent is
   * a command that cannot (the node is declared lost next turn). */
  int rc = mu_coord_agent_send_raw (c, &to, j->members_buf,
                                    j->members_len); /* zsrv */
  if (rc != 0)
    mu_coord_unreachable (c, n, MU_MSG_MEMBERS, rc);
}

void
mu_jobs_node_lost (mu_coord_t *c, mu_node_t *n, const char *why, int charged)
{
  mu_job_t *j = n->job;
  if (j == NULL)
    return;
  int was_member = 0;
  for (size_t i = 0; i < j->nmembers; i++)
    if (j->members[i] == n->key)
      {
        was_member = 1;
        j->members[i] = j->members[--j->nmembers];
        break;
      }
  size_t nmem = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &nmem);
  for (size_t i = 0; was_member && i < nmem; i++)
    if (mem[i].key == n->key)
      mu_ckpt_lost (j, mem[i].first_rank, mem[i].nproc);
  uint64_t live_lost = n->live_epoch == j->epoch ? n->live : 0;
  mu_ps_plan_node_gone (j, n, charged);
  n->live = 0;
  n->job = NULL;
  mu_rdzv_decision_t d;
  int rc = mu_rdzv_leave (j->rdzv, mu_now_ms (), n->key, &d);
  char msg[256];
  snprintf (msg, sizeof msg, "node %s %s (%s)", n->node_id,
            charged ? "lost" : "left", why);
  mu_log_warn (c->log, "NODE-LEFT-JOB", "job %s: %s", j->id, msg);
  mu_ev_node_left (j, n, msg, charged);
  int cordoned = n->cordoned;
  n->cordoned = 0;
  int rendezvous = j->state == MU_JOB_RENDEZVOUS;
  if (!cordoned && charged && j->state == MU_JOB_RUNNING && was_member)
    {
      mu_failure_attribute (j, n); /* a failure held: the loss caused it */
      if (!j->failure.set)
        {
          j->failure.set = 1;
          j->failure.rank = -1;
          j->failure.node_id = strdup (n->node_id);
          j->failure.reason = strdup (msg);
        }
    }
  mu_jm_event_t ev = { .type = MU_JM_E_NODE_LOST, .why = msg,
                       .live_lost = live_lost, .was_member = was_member,
                       .cordoned = cordoned,
                       .charge = charged ? MU_JM_CHARGE_INFRA
                                         : MU_JM_CHARGE_SCALE };
  mu_epoch_feed (j, &ev, NULL);
  if (!cordoned && rendezvous && rc == 0)
    mu_jobs_handle_decision (j, &d);
}

void
mu_epoch_free_job (mu_job_t *j)
{
  mu_kv_reset (j, MUSTER_ECLOSED);
  mu_smap_destroy (&j->kv);
  mu_smap_destroy (&j->barriers);
  mu_rdzv_destroy (&j->rdzv);
  free (j->members);
  free (j->failure.node_id);
  free (j->failure.stderr_tail);
  free (j->failure.reason);
  mu_failure_free (&j->held);
  free (j->reason);
  free (j->epoch_reason);
  free (j->owner);
  free (j->members_buf);
  mu_jq_free (&j->jp); /* zsim */
  mu_ps_plan_free (j);
  mu_ckpt_job_free (j);
  mu_ctl_job_free (j); /* ctl_ops.h: log ring, pids */
  free (j->sched_tenant); /* schedwire */
  free (j->sched_note);
  mu_service_free (j); /* service.h */
  mu_job_spec_free (&j->spec);
  free (j);
}

void
mu_epoch_restore_members (mu_job_t *j)
{
  size_t n = 0;
  const mu_rdzv_member_t *mem = mu_rdzv_members (j->rdzv, &n);
  if (n == 0 || n <= j->coord->opts.full_members_max || has_ps_role (j))
    return; /* job.start listed every node: nothing is fetched */
  mu_peer_node_t *all = build_peer_nodes (j, mem, n);
  if (all != NULL)
    cache_members (j, all, n);
  free (all);
}
