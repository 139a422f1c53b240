/*
 * proto_fuzz.c — fuzz target for the wire decoder.
 *
 * LLVMFuzzerTestOneInput() feeds arbitrary bytes to mu_msg_decode(), the one
 * function that reads what peers send.  Besides "never crash, never leak",
 * it checks a property: whatever decodes must encode again, and that
 * encoding must decode to the same type and encode to the same bytes (the
 * encoding is canonical).  A violation aborts, which is how a fuzzer is told.
 *
 * Built with clang -fsanitize=fuzzer, libFuzzer drives it:
 *     clang -fsanitize=fuzzer,address -Iinclude -I. common/proto_fuzz.c \
 *         common/proto.c common/proto_decode.c common/error.c -lmsgpackc
 *     ./a.out common/fuzz_corpus
 * With -DMU_FUZZ_REPLAY_MAIN=1 it has its own main() that replays files
 * given on the command line (a directory means every file in it), so the
 * corpus and any crash file can be rerun under gcc, ASan or valgrind.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  mu_msg_t m, again;
  char err[256];
  if (mu_msg_decode (data, size, &m, err, sizeof err) != 0)
    {
      if (m.type != MU_MSG_NONE || err[0] == '\0')
        abort (); /* a failure must leave nothing and say why */
      return 0;
    }
  char *buf = NULL, *buf2 = NULL;
  size_t len = 0, len2 = 0;
  if (mu_msg_encode (&m, &buf, &len) != 0)
    abort ();
  if (mu_msg_decode (buf, len, &again, err, sizeof err) != 0
      || again.type != m.type)
    abort ();
  if (mu_msg_encode (&again, &buf2, &len2) != 0 || len2 != len
      || memcmp (buf, buf2, len) != 0)
    abort ();
  free (buf);
  free (buf2);
  mu_msg_clear (&m);
  mu_msg_clear (&again);
  return 0;
}

#if defined(MU_FUZZ_REPLAY_MAIN) && MU_FUZZ_REPLAY_MAIN
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>

/* Run one file through the target; returns 0, or -1 if it is unreadable. */
static int
mu_fuzz_replay_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  if (!f)
    return -1;
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc (cap);
  size_t n;
  while (buf && (n = fread (buf + len, 1, cap - len, f)) > 0)
    {
      len += n;
      if (len == cap)
        {
          uint8_t *grown = realloc (buf, cap *= 2);
          if (!grown)
            free (buf);
          buf = grown;
        }
    }
  int bad = ferror (f) || !buf;
  fclose (f);
  if (!bad)
    LLVMFuzzerTestOneInput (buf, len);
  free (buf);
  return bad ? -1 : 0;
}

/* Replay every regular file of a directory (not recursive). */
static int
mu_fuzz_replay_dir (const char *dir, int *count)
{
  DIR *d = opendir (dir);
  if (!d)
    return -1;
  int rc = 0;
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      char path[4096];
      struct stat st;
      snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
      if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
        continue;
      if (mu_fuzz_replay_file (path) != 0)
        rc = -1;
      else
        (*count)++;
    }
  closedir (d);
  return rc;
}

int
main (int argc, char **argv)
{
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE|DIR...\n", argv[0]);
      return 2;
    }
  int count = 0, rc = 0;
  for (int i = 1; i < argc; i++)
    {
      struct stat st;
      int r = stat (argv[i], &st) != 0 ? -1
              : S_ISDIR (st.st_mode)   ? mu_fuzz_replay_dir (argv[i], &count)
                                       : mu_fuzz_replay_file (argv[i]);
      if (r != 0)
        {
          fprintf (stderr, "%s: cannot read %s\n", argv[0], argv[i]);
          rc = 1;
        }
      else if (!S_ISDIR (st.st_mode))
        count++;
    }
  printf ("%s: %d inputs replayed\n", argv[0], count);
  return rc;
}
#endif
