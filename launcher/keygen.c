/*
 * keygen.c — `muster keygen`: make a CURVE certificate pair.
 *
 * FILE gets the public certificate (0644, to hand to a coordinator's
 * users/ or authorized/ directory) and FILE_secret the pair (0600, never
 * to leave this machine).  --user NAME and --admin write the metadata a
 * coordinator reads from users/ certificates.  An existing FILE_secret is
 * never overwritten (that would lock its owner out): --force says so.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/keys.h"
#include "launcher/ctl_client.h"

static void
usage (FILE *f)
{
  fprintf (f,
           "usage: muster keygen [--user NAME] [--admin] [--force] FILE\n"
           "  writes FILE (public, 0644) and FILE_secret (0600): a CURVE key\n"
           "  pair for a TCP control client or an agent.  To let a user reach\n"
           "  a coordinator's TCP control port, copy FILE (never FILE_secret)\n"
           "  into the coordinator's STATE_DIR/users/ and restart it; the\n"
           "  client then runs `muster status --endpoint tcp://HOST:PORT\n"
           "  --key FILE --server-key SERVER.key`.\n"
           "  --user NAME  the user the key acts as (default: you)\n"
           "  --admin      the key may see and act on every user's jobs\n");
}

int
mu_keygen_main (int argc, char **argv)
{
  const char *user = NULL, *file = NULL;
  int admin = 0, force = 0;
  for (int i = 0; i < argc; i++)
    {
      if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0)
        {
          usage (stdout);
          return 0;
        }
      if (strcmp (argv[i], "--user") == 0 && i + 1 < argc)
        user = argv[++i];
      else if (strcmp (argv[i], "--admin") == 0)
        admin = 1;
      else if (strcmp (argv[i], "--force") == 0)
        force = 1;
      else if (argv[i][0] != '-' && file == NULL)
        file = argv[i];
      else
        {
          fprintf (stderr, "muster keygen: unexpected argument '%s'\n", argv[i]);
          usage (stderr);
          return 2;
        }
    }
  if (file == NULL)
    {
      fprintf (stderr, "muster keygen: which file?\n");
      usage (stderr);
      return 2;
    }
  char spath[4200];
  snprintf (spath, sizeof spath, "%s_secret", file);
  if (!force && access (spath, F_OK) == 0)
    {
      fprintf (stderr, "muster keygen: %s exists; --force replaces it (and "
               "locks out whoever uses it)\n", spath);
      return 1;
    }
  mu_cert_t cert;
  memset (&cert, 0, sizeof cert);
  int rc = mu_keypair_new (&cert.kp);
  char name[64];
  if (user == NULL)
    {
      const char *login = getlogin ();
      user = login ? login : NULL;
      if (user == NULL)
        {
          snprintf (name, sizeof name, "%u", (unsigned)geteuid ());
          mu_cert_set_meta (&cert, "uid", name);
        }
    }
  if (rc == 0 && user != NULL)
    rc = mu_cert_set_meta (&cert, "user", user);
  if (rc == 0 && admin)
    rc = mu_cert_set_meta (&cert, "admin", "true");
  if (rc == 0)
    rc = mu_cert_save (file, &cert);
  if (rc != 0)
    {
      fprintf (stderr, "muster keygen: cannot write %s: %s\n", file,
               muster_strerror (rc));
      return 1;
    }
  printf ("public key %s\nwrote %s (public) and %s (secret, 0600)\n",
          cert.kp.pub, file, spath);
  memset (&cert, 0, sizeof cert);
  return 0;
}
