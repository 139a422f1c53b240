/*
 * run_ha.h — `muster run --standby`: a job whose coordinator survives the
 * node that hosts it.
 *
 * Without --standby the hosting node embeds its coordinator, and the job
 * dies with that node.  With `--standby HOST:PORT` (the same command on
 * every node), the hosting node runs its coordinator as a real musterd
 * child with a journal that it streams to a standby (docs/standby.md),
 * and the node whose address is the standby's (the first such node on a
 * machine: a lock decides) runs `musterd --standby-of` as a child, which
 * takes over at HOST:PORT when the hosting node is gone.  Every node's
 * agent lists both endpoints, so it moves to the standby and its workers
 * carry on in their epoch; the lost hosting node's ranks are handled as
 * any node loss.
 *
 * Both children get a private state directory (0700, removed at the end)
 * holding the job secret's server key pair and a join token of its
 * enrolment key, so they are the same server to every node, and the
 * nodes enroll exactly as with an embedded coordinator.  A child dies
 * with its launcher (PR_SET_PDEATHSIG, SIGKILL): a killed launcher is a
 * lost node, and its coordinator with it, which is the case a standby is
 * for.
 */
#ifndef MU_RUN_HA_H
#define MU_RUN_HA_H

#include <stddef.h>
#include <sys/types.h>

#include "common/keys.h"

typedef struct mu_run_ha {
  pid_t pid;           /* the musterd child; 0 = none */
  char dir[512];       /* its private state directory; "" = none */
  char agent_ep[300];  /* its agent endpoint, once serving */
  int lock_fd;         /* the standby node's claim on its address; -1 */
  char lock_path[700];
  char err_path[600];  /* the primary's stderr, shown at the end; "" */
} mu_run_ha_t;

void mu_run_ha_init (mu_run_ha_t *h);

typedef struct mu_run_ha_opts {
  const char *job_id;
  const mu_token_t *secret; /* the job secret; NULL = --insecure */
  const char *agent_bind;   /* tcp://ADDR:PORT, checked to be ours */
  const char *stream_bind;  /* primary: tcp://ADDR:0 for the journal stream */
  const char *standby_of;   /* standby: the primary's journal stream */
  const char *ctl_socket;   /* primary: its local control socket, or NULL */
  const char *log_level;    /* musterd's --log-level, or NULL */
} mu_run_ha_opts_t;

/* Start the hosting node's musterd and wait (bounded) until it serves.
 * 0 with h->agent_ep set; -EADDRINUSE when the agent port is taken
 * (another node of the job hosts: join it); else a code with `err`. */
int mu_run_ha_primary (mu_run_ha_t *h, const mu_run_ha_opts_t *o, char *err,
                       size_t errlen);

/* Is this node the standby at `hostport`?  1 when the address is this
 * machine's and no other launcher here claimed it (the claim is held
 * until mu_run_ha_stop), 0 when not, a negative code with `err` on a bad
 * endpoint. */
int mu_run_ha_claim_standby (mu_run_ha_t *h, const char *hostport, char *err,
                             size_t errlen);

/* Start the standby musterd (it follows o->standby_of and serves at
 * o->agent_bind after a takeover).  0 or a code with `err`. */
int mu_run_ha_standby (mu_run_ha_t *h, const mu_run_ha_opts_t *o, char *err,
                       size_t errlen);

/* 1 while the child runs (reaps it when it has exited). */
int mu_run_ha_running (mu_run_ha_t *h);

/* 1 when the child serves (the primary; a standby after its takeover). */
int mu_run_ha_serving (mu_run_ha_t *h);

/* A child that serves (the primary, or a standby that took over) is the
 * coordinator of the other nodes too: before it stops, wait (up to
 * max_ms) until every node has left, so none is cut off from the job's
 * outcome.  The nodes still registered when it gives up. */
int mu_run_ha_linger (mu_run_ha_t *h, unsigned max_ms);

/* Stop the child (SIGTERM, then SIGKILL after 2 s), remove its state
 * directory, drop the claim.  Idempotent. */
void mu_run_ha_stop (mu_run_ha_t *h);

#endif
