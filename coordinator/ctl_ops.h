/*
 * ctl_ops.h — the control port's requests beyond status/submit/cancel/
 * checkpoint/preempt/resume, and what they need from the rest of the
 * coordinator.  Internal to coordinator/.
 *
 * ctl.c decodes nothing itself (wire.c does) and routes each request here:
 *   ctl_list.c   ctl.list, ctl.get (jobs; members with pids and ranks)
 *   ctl_scale.c  ctl.scale (an elastic job's node range)
 *   ctl_nodes.c  ctl.nodes, ctl.cordon, ctl.uncordon, ctl.drain
 *   ctl_logs.c   agent.logs in, ctl.logs out (log_ring.h per job)
 *   ctl_error.c  structured errors: code, code name, the field at fault
 * Every handler answers exactly once: its reply, or an error naming the
 * field ("scale: field 'max' must be >= min (got 1 < 3)").
 */
#ifndef MU_CTL_OPS_H
#define MU_CTL_OPS_H

#include "coordinator/auth.h"
#include "coordinator/coord.h"

/* ctl_error.c: answer the request at hand (on c->ctl_reply_sock) with an
 * error naming `field` (NULL = none) and a formatted message. */
void mu_ctl_error (mu_coord_t *c, const mu_route_t *to, int code,
                   const char *in_reply_to, const char *field,
                   const char *fmt, ...) __attribute__ ((format (printf, 6, 7)));
/* The field and the message a decode error names ("ctl.scale: field
 * 'max': expected ..." -> "max", "ctl.scale"), copied into field and msg;
 * "" when it names none. */
void mu_ctl_decode_field (const char *err, char *field, size_t cap,
                          char *msg, size_t msgcap);
/* ctl.reply with status 0 and a message. */
void mu_ctl_ok (mu_coord_t *c, const mu_route_t *to, const char *message);
/* May `who` see and act on job j (its owner, or an admin)? */
int mu_ctl_may_act (const mu_principal_t *who, const mu_job_t *j);
/* The job named by a request, checked: NULL after answering the error
 * (no such job: MUSTER_ENOTFOUND; another user's: MUSTER_EPERM). */
mu_job_t *mu_ctl_job (mu_coord_t *c, const mu_route_t *from,
                      const mu_principal_t *who, const char *id,
                      const char *what);

/* ctl.c: a job's summary; reason is a buffer of MU_CTL_REASON_CAP bytes
 * the caller keeps until the reply is sent; *free_cache is the free node
 * count of this request (UINT32_MAX: not counted yet). */
#define MU_CTL_REASON_CAP 512
/* ctl.c: nodes registered, alive, without a job and not cordoned. */
uint32_t mu_ctl_free_nodes (const mu_coord_t *c);
void mu_ctl_fill_info (const mu_coord_t *c, const mu_job_t *j,
                       mu_job_info_t *info, char *reason, uint32_t *free_cache);

/* ctl_list.c */
void mu_ctl_list (mu_coord_t *c, const mu_route_t *from,
                  const mu_principal_t *who, const mu_ctl_list_t *q);
void mu_ctl_get (mu_coord_t *c, const mu_route_t *from,
                 const mu_principal_t *who, const mu_ctl_get_t *q);
/* A worker.state of n: remember a running worker's pid (for ctl.get). */
void mu_ctl_note_worker (mu_coord_t *c, mu_node_t *n,
                         const mu_worker_state_t *ws);

/* service: ctl_update.c: ctl.update (rolling update), ctl.load. */
void mu_ctl_update (mu_coord_t *c, const mu_route_t *from,
                    const mu_principal_t *who, const mu_ctl_update_t *q);
void mu_ctl_load (mu_coord_t *c, const mu_route_t *from,
                  const mu_principal_t *who, const mu_ctl_load_t *q);

/* ctl_scale.c */
void mu_ctl_scale (mu_coord_t *c, const mu_route_t *from,
                   const mu_principal_t *who, const mu_ctl_scale_t *q);

/* A restart job's shrink waiting for its checkpoint: applied once the
 * attempt is over (called from the coordinator's sweep). */
void mu_ctl_sweep (mu_coord_t *c);

/* ctl_nodes.c */
void mu_ctl_nodes (mu_coord_t *c, const mu_route_t *from,
                   const mu_principal_t *who, const mu_ctl_nodes_t *q);
void mu_ctl_node_op (mu_coord_t *c, const mu_route_t *from,
                     const mu_principal_t *who, const mu_msg_t *m);

/* ctl_logs.c */
void mu_ctl_logs (mu_coord_t *c, const mu_route_t *from,
                  const mu_principal_t *who, const mu_ctl_logs_t *q);
/* agent.logs from node n: append the lines to their job's ring. */
void mu_ctl_agent_logs (mu_coord_t *c, mu_node_t *n,
                        const mu_agent_logs_t *l);
/* Release what the control port keeps for a job (its log ring, pids). */
void mu_ctl_job_free (mu_job_t *j);

#endif
