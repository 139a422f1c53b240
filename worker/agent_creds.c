/*
 * agent_creds.c — where an agent's join token and key pair come from.
 *
 * muster-agent and a joining `muster run` take the token from, in order:
 * --join-token, --join-token-file, $MUSTER_JOIN_TOKEN, then the join-token
 * file of a musterd sharing the default state directory (root's agent and
 * root's musterd on one machine need no flag).  $MUSTER_JOIN_TOKEN is
 * removed from the environment as soon as it is read, so it never reaches
 * a worker (env.c drops it too).  The key pair is kept in the agent's state
 * directory when one is usable (so a restarted agent is the same node to
 * the coordinator), else made fresh for this process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/state_dir.h"
#include "common/util.h"
#include "worker/agent.h"

int
mu_agent_creds_load (const mu_agent_creds_opts_t *o, mu_token_t *tok,
                     mu_keypair_t *key, int *have_key, char *err,
                     size_t errlen)
{
  *have_key = 0;
  char *envtok = getenv ("MUSTER_JOIN_TOKEN");
  char envcopy[MU_TOKEN_LEN + 64] = "";
  if (envtok != NULL)
    {
      mu_strlcpy (envcopy, envtok, sizeof envcopy);
      memset (envtok, 0, strlen (envtok));
      unsetenv ("MUSTER_JOIN_TOKEN");
    }
  int rc;
  char dflt[4096] = "";
  if (o->token != NULL)
    rc = mu_token_parse (o->token, tok, err, errlen);
  else if (o->token_file != NULL)
    rc = mu_token_load (o->token_file, tok, err, errlen);
  else if (envcopy[0] != '\0')
    rc = mu_token_parse (envcopy, tok, err, errlen);
  else
    {
      char dir[4000];
      rc = o->state_dir ? (mu_strlcpy (dir, o->state_dir, sizeof dir), 0)
                        : mu_state_dir_default (dir, sizeof dir);
      if (rc == 0)
        snprintf (dflt, sizeof dflt, "%s/join-token", dir);
      if (rc == 0 && access (dflt, R_OK) == 0)
        rc = mu_token_load (dflt, tok, err, errlen);
      else
        {
          snprintf (err, errlen,
                    "no join token: give --join-token-file FILE (musterd "
                    "writes the cluster's to STATE_DIR/join-token; `muster "
                    "run --host` prints its job's), --join-token TOKEN or "
                    "$MUSTER_JOIN_TOKEN; or --insecure for a coordinator "
                    "started with --insecure");
          rc = MUSTER_EAUTH;
        }
    }
  memset (envcopy, 0, sizeof envcopy);
  if (rc != 0)
    return rc;
  if (o->key_file != NULL)
    {
      mu_cert_t cert;
      int created = 0;
      char kerr[512];
      char dir[4096];
      mu_strlcpy (dir, o->key_file, sizeof dir);
      char *slash = strrchr (dir, '/');
      if (slash != NULL && slash != dir)
        {
          *slash = '\0';
          mu_mkdir_p (dir, 0700);
        }
      if (mu_cert_load_or_create (o->key_file, &cert, &created, kerr,
                                  sizeof kerr) == 0)
        {
          *key = cert.kp;
          *have_key = 1;
        }
      memset (&cert, 0, sizeof cert);
    }
  return 0;
}
