/*
 * state_dir.h — where muster keeps its keys and sockets by default.
 *
 * musterd keeps its key pair, the cluster join token, the enrolled node
 * keys and its local control socket in one state directory; muster-agent
 * keeps its own key pair there; the CLI finds the local control socket
 * there.  Root uses /var/lib/muster (as a packaged daemon would); any
 * other user $XDG_STATE_HOME/muster, else ~/.local/state/muster, so a user
 * running their own musterd needs no privileges and no flags.
 * $MUSTER_STATE_DIR (an absolute path) overrides both, for every program.
 */
#ifndef MU_STATE_DIR_H
#define MU_STATE_DIR_H

#include <stddef.h>

/* The default state directory of the calling user, in buf.  0, or
 * -ENAMETOOLONG, or -ENOENT when no home directory is known. */
int mu_state_dir_default (char *buf, size_t cap);

/* mkdir -p with `mode` for the directories it creates.  0 or -errno. */
int mu_mkdir_p (const char *path, unsigned mode);

#endif
