/*
 * state_dir.c — the default state directory (see state_dir.h).
 */
#include "common/state_dir.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
mu_state_dir_default (char *buf, size_t cap)
{
  int n;
  const char *over = getenv ("MUSTER_STATE_DIR");
  if (over != NULL && over[0] == '/')
    {
      n = snprintf (buf, cap, "%s", over);
      return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
    }
  const char *xdg = getenv ("XDG_STATE_HOME");
  const char *home = getenv ("HOME");
  if (geteuid () == 0)
    n = snprintf (buf, cap, "/var/lib/muster");
  else if (xdg != NULL && xdg[0] == '/')
    n = snprintf (buf, cap, "%s/muster", xdg);
  else
    {
      if (home == NULL || home[0] != '/')
        {
          struct passwd *pw = getpwuid (geteuid ());
          home = pw ? pw->pw_dir : NULL;
        }
      if (home == NULL)
        return -ENOENT;
      n = snprintf (buf, cap, "%s/.local/state/muster", home);
    }
  return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int
mu_mkdir_p (const char *path, unsigned mode)
{
  char tmp[4096];
  size_t len = strlen (path);
  if (len == 0 || len >= sizeof tmp)
    return -ENAMETOOLONG;
  memcpy (tmp, path, len + 1);
  for (char *p = tmp + 1; *p; p++)
    if (*p == '/')
      {
        *p = '\0';
        if (mkdir (tmp, 0755) != 0 && errno != EEXIST)
          return -errno;
        *p = '/';
      }
  if (mkdir (tmp, mode) != 0 && errno != EEXIST)
    return -errno;
  return 0;
}
