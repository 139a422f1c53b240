/*
 * zmq_probe.c — a raw ZeroMQ DEALER for the scenario tests, used when
 * python3-zmq is not installed (harness.zmq_request).
 *
 *   zmq_probe ENDPOINT TIMEOUT_MS [--routing-id HEX] < FRAMES
 *
 * Connects a DEALER to ENDPOINT and sends the frames read from standard
 * input as one multipart message: hex, frames separated by '\n', no newline
 * after the last, an empty line for an empty frame (stdin rather than
 * arguments, as a frame may exceed the size of one argument).  Waits up to
 * TIMEOUT_MS for one answer and prints each of its frames as a line
 * "F <hex>".  Exit status: 0 answered, 3 no answer in time, 2 usage, input
 * or ZeroMQ error.  It knows nothing of muster's protocol: the tests encode
 * and decode msgpack themselves, which is what lets them send malformed
 * messages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int
unhex (const char *s, unsigned char *out, size_t *n)
{
  size_t len = strlen (s);
  if (len % 2 != 0)
    return -1;
  for (size_t i = 0; i < len / 2; i++)
    {
      unsigned v;
      if (sscanf (s + 2 * i, "%2x", &v) != 1)
        return -1;
      out[i] = (unsigned char)v;
    }
  *n = len / 2;
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc != 3 && argc != 5)
    {
      fprintf (stderr, "usage: zmq_probe ENDPOINT TIMEOUT_MS "
                       "[--routing-id HEX] < FRAMES\n");
      return 2;
    }
  const char *ep = argv[1];
  long timeout = strtol (argv[2], NULL, 10);
  void *ctx = zmq_ctx_new ();
  void *s = zmq_socket (ctx, ZMQ_DEALER);
  int linger = 0;
  zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger);
  if (argc == 5 && strcmp (argv[3], "--routing-id") == 0)
    {
      unsigned char id[256];
      size_t n;
      if (strlen (argv[4]) > 2 * sizeof id || unhex (argv[4], id, &n) != 0)
        {
          fprintf (stderr, "zmq_probe: bad routing id\n");
          return 2;
        }
      zmq_setsockopt (s, ZMQ_ROUTING_ID, id, n);
    }
  if (zmq_connect (s, ep) != 0)
    {
      fprintf (stderr, "zmq_probe: connect %s: %s\n", ep, zmq_strerror (zmq_errno ()));
      return 2;
    }
  /* Read all frames first: a multipart message goes out whole. */
  size_t cap = 1 << 16, len = 0;
  char *in = malloc (cap);
  size_t n;
  while (in != NULL && (n = fread (in + len, 1, cap - len - 1, stdin)) > 0)
    {
      len += n;
      if (cap - len - 1 == 0)
        {
          char *bigger = realloc (in, cap * 2);
          if (bigger == NULL)
            free (in);
          in = bigger;
          cap *= 2;
        }
    }
  if (in == NULL)
    {
      fprintf (stderr, "zmq_probe: out of memory\n");
      return 2;
    }
  in[len] = '\0';
  unsigned char *buf = malloc (len / 2 + 1);
  if (buf == NULL)
    {
      fprintf (stderr, "zmq_probe: out of memory\n");
      return 2;
    }
  for (char *line = in, *next; line != NULL; line = next)
    {
      next = strchr (line, '\n');
      if (next != NULL)
        *next++ = '\0';
      size_t fl;
      if (unhex (line, buf, &fl) != 0)
        {
          fprintf (stderr, "zmq_probe: a frame is not hex\n");
          return 2;
        }
      if (zmq_send (s, buf, fl, next != NULL ? ZMQ_SNDMORE : 0) < 0)
        {
          fprintf (stderr, "zmq_probe: send: %s\n", zmq_strerror (zmq_errno ()));
          return 2;
        }
    }
  free (buf);
  free (in);
  zmq_pollitem_t it = { .socket = s, .events = ZMQ_POLLIN };
  if (zmq_poll (&it, 1, timeout) <= 0)
    return 3;
  int more = 1;
  while (more)
    {
      zmq_msg_t m;
      zmq_msg_init (&m);
      if (zmq_msg_recv (&m, s, 0) < 0)
        return 2;
      const unsigned char *d = zmq_msg_data (&m);
      printf ("F ");
      for (size_t i = 0; i < zmq_msg_size (&m); i++)
        printf ("%02x", d[i]);
      printf ("\n");
      more = zmq_msg_more (&m);
      zmq_msg_close (&m);
    }
  zmq_close (s);
  zmq_ctx_term (ctx);
  return 0;
}
