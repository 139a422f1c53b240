/*
 * service.h — service jobs in musterd: independent replicas restarted
 * alone, rolling updates, load figures and the autoscaler's wiring.
 * Internal to coordinator/ (docs/services.md; decisions 86-89).
 *
 * A job of kind `service` runs one replica per member node.  The job
 * machine (job_machine.h J9) decides that a failed replica is restarted
 * alone, in the same epoch, charged to the budget of its cause; this file
 * carries that out: it stops what is left of the replica (job.stop of the
 * epoch to its node only), waits for the backoff and for its workers to be
 * reported down, and sends its node the job.start of the running epoch
 * again (same ranks, same MUSTER_RANK), feeding the machine REPLICA_START.
 * The other replicas are never told anything: their pids and epoch stay.
 *
 * service.c          replicas: restart, readiness, the sweep, ctl.get
 * service_rollout.c  rolling update (ctl.update)
 * service_load.c     load figures (worker.load, ctl.load), autoscaler
 * ctl_update.c       the control port's ctl.update and ctl.load
 *
 * A replica is *ready* when its workers have all been reported running
 * and one of them reported a load since it started
 * (muster_worker_report_load).  A replica that never reported a load (a
 * program that does not use libmuster) is ready once it has run
 * MU_SERVICE_READY_MS without an exit; one that did report before but is
 * silent now, after MU_SERVICE_READY_MAX_MS.  Nothing here is journaled: a coordinator restarted from its
 * journal finds the service's replicas as members of the running epoch,
 * without a rollout in progress or load figures (they come back with the
 * next reports).
 */
#ifndef MU_SERVICE_H
#define MU_SERVICE_H

#include "coordinator/autoscale.h"
#include "coordinator/coord.h"

#define MU_SERVICE_READY_MS 1000
#define MU_SERVICE_READY_MAX_MS 30000

typedef struct mu_svc_rep {
  uint32_t key;         /* its node */
  int restarting;       /* its workers are being stopped or wait to start */
  uint64_t due_ms;      /* not started again before (backoff) */
  int updated;          /* runs the rolling update's spec */
  uint64_t started_ms;  /* its workers were (re)started */
  int loaded;           /* reported a load since */
  int ever_loaded;      /* reported a load at some time (readiness) */
  double load;          /* sum of its workers' last reports */
  int load_set;
} mu_svc_rep_t;

typedef struct mu_service {
  mu_svc_rep_t *reps;
  size_t nreps, cap;
  uint64_t replica_restarts;
  /* loads (service_load.c) */
  double ext_load;      /* ctl.load: the job as a whole */
  uint64_t ext_ms;      /* when (0 = never) */
  double *rank_load;    /* per rank of the epoch, NAN = none */
  size_t nrank_load;
  int as_on;
  mu_as_t as;
  char autoscale[256];
  /* rolling update (service_rollout.c) */
  mu_job_spec_t *new_spec; /* the update's spec (updated replicas run it) */
  int rolling;
  int cur_active;       /* the replica being updated now */
  uint32_t cur_key;
  uint32_t nupdated, ntotal;
  char rollout[512];
} mu_service_t;

/* service.c */
int mu_service_is (const mu_job_t *j);
/* j's service state, allocated on first use; NULL for a job that is not
 * a service or out of memory. */
mu_service_t *mu_service_of (mu_job_t *j);
void mu_service_free (mu_job_t *j);
/* The replica of node key `key`, or NULL. */
mu_svc_rep_t *mu_service_rep (mu_service_t *s, uint32_t key);
/* The spec node n's workers run: the update's for an updated replica,
 * else the job's.  Any job. */
const mu_job_spec_t *mu_service_spec_for (const mu_job_t *j,
                                          const mu_node_t *n);
/* A new epoch started (job.start to every member): every replica runs. */
void mu_service_epoch_started (mu_job_t *j);
/* A worker of n failed (why) in a running service.  1 when the exit is
 * not to be charged: its replica was being stopped on purpose, or it was
 * the rolling update's new version failing (the update stops, the replica
 * goes back to the old version).  0: charge it (J9). */
int mu_service_on_failure (mu_job_t *j, mu_node_t *n, const char *why);
/* Was n's replica stopped on purpose (its exits are not charged)? */
int mu_service_restarting (mu_job_t *j, const mu_node_t *n);
/* RESTART_REPLICA: restart n's replica alone after ms. */
void mu_service_restart_replica (mu_job_t *j, mu_node_t *n, uint64_t ms);
/* Restart n's replica now (stop what runs first), not charged. */
void mu_service_cycle (mu_job_t *j, mu_node_t *n, uint64_t ms);
/* Is the replica ready (the header's definition)? */
int mu_service_ready (mu_job_t *j, const mu_svc_rep_t *r, uint64_t now);
/* From the coordinator's sweep: restarts due, rollout steps, autoscaler. */
void mu_service_sweep (mu_coord_t *c);
/* ctl.get: the service's fields of the reply and its members'. */
void mu_service_fill_get (mu_job_t *j, mu_ctl_get_reply_t *g, char *load,
                          size_t cap, mu_member_info_t *mem, size_t nmem,
                          char (*mload)[32]);

/* service_rollout.c: start a rolling update (argv NULL/empty = same
 * program, env merged over the job's).  0, or a code with err naming
 * the field. */
int mu_service_update (mu_job_t *j, const mu_strlist_t *argv,
                       const mu_strmap_t *env, char *field, size_t fcap,
                       char *err, size_t errlen);
/* A step of the rollout in progress (sweep). */
void mu_service_rollout_step (mu_job_t *j, uint64_t now);

/* service_load.c */
/* worker.load from an agent. */
void mu_service_load (mu_coord_t *c, mu_node_t *n, const mu_load_t *l);
/* ctl.load: the whole job's figure. */
void mu_service_set_load (mu_job_t *j, double load);
/* The job's figure: ctl.load's while fresh, else the replicas' sum;
 * 0 with none reported (*any = 0). */
double mu_service_load_of (mu_job_t *j, int *any);
/* The autoscaler's turn (sweep). */
void mu_service_autoscale (mu_job_t *j, uint64_t now);

#endif
