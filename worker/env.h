/*
 * env.h — the environment a worker process is started with.
 *
 * From a job.start message and the index of one of its assignments this
 * builds the complete, NULL-terminated environment of that worker: the base
 * environment (the agent's own by default), overlaid by the job spec's env
 * map, overlaid by muster's variables, with no key appearing twice.  Muster's
 * variables are torchrun's (RANK, LOCAL_RANK, WORLD_SIZE, ..., so unmodified
 * PyTorch programs run), its own MUSTER_* set (read by libmuster), and, when
 * a role of the job is named "ps", TF_CONFIG and the DMLC_* variables of
 * TensorFlow-style and ps-lite-style parameter-server programs.
 */
#ifndef MU_ENV_H
#define MU_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "common/proto.h"

typedef struct mu_env_extra {
  const char *node_id;        /* MUSTER_NODE_ID; NULL = the node entry's id */
  const char *agent_endpoint; /* MUSTER_AGENT_ENDPOINT; NULL = not set */
  uint64_t peer_port;         /* MUSTER_PEER_PORT override; 0 = this node's
                                 port_base + local_rank */
  char *const *base_env;      /* NULL = environ */
} mu_env_extra_t;

/* Build the environment of worker start->assign.v[assign_idx].  `x` may be
 * NULL (all defaults).  On success *envp_out is a malloc'd NULL-terminated
 * array of malloc'd "KEY=VALUE" strings that the caller owns and releases
 * with mu_env_free(); its order is base, then spec, then muster's variables.
 * Returns 0, MUSTER_EINVAL if the message is inconsistent (assign_idx out of
 * range, a required string missing, no node entry holding the rank, the
 * rank's role missing from start->roles, a spec env key that is empty or
 * holds '='), or -ENOMEM. */
int mu_env_build (const mu_start_t *start, size_t assign_idx,
                  const mu_env_extra_t *x, char ***envp_out);

/* Free an array from mu_env_build() and set *envp_p to NULL; accepts NULL
 * and *envp_p == NULL. */
void mu_env_free (char ***envp_p);

/* Value of `key` in a NULL-terminated environment array, or NULL. */
const char *mu_env_get (char *const *envp, const char *key);

#endif
