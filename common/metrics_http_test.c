/*
 * metrics_http_test.c — the /metrics server against a real HTTP client on
 * another thread: the text is rendered on the loop's thread (never the
 * server's), other paths get 404, the token rules (no token off loopback
 * refuses to start; a token file others can read is refused; without the
 * token or with a wrong one, 401), and a loop that never answers gets 503
 * instead of a hung scrape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <muster/error.h>

#include "common/metrics_http.h"

typedef struct fixture
{
  uv_loop_t loop;
  uv_async_t stop;
  mu_metrics_http_t *h;
  pthread_t loop_thread;
  int renders;
  int wrong_thread;
  /* what the client thread asks and gets */
  int port;
  const char *reqs[4];
  int status[4];
  char body[4][256];
} fixture_t;

static int
render (void *arg, char **text, size_t *len)
{
  fixture_t *f = arg;
  if (!pthread_equal (pthread_self (), f->loop_thread))
    f->wrong_thread++;
  f->renders++;
  char buf[64];
  int n = snprintf (buf, sizeof buf, "x_total %d\n", f->renders);
  *text = strdup (buf);
  *len = (size_t)n;
  return *text ? 0 : -1;
}

/* One HTTP/1.0 request; the status and the body. */
static int
http (int port, const char *req, char *body, size_t cap)
{
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a
      = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
  inet_pton (AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect (fd, (struct sockaddr *)&a, sizeof a) != 0)
    {
      close (fd);
      return -1;
    }
  if (write (fd, req, strlen (req)) != (ssize_t)strlen (req))
    {
      close (fd);
      return -1;
    }
  char resp[4096];
  size_t got = 0;
  ssize_t r;
  while (got < sizeof resp - 1
         && (r = read (fd, resp + got, sizeof resp - 1 - got)) > 0)
    got += (size_t)r;
  close (fd);
  resp[got] = '\0';
  int status = -1;
  sscanf (resp, "HTTP/1.%*d %d", &status);
  const char *b = strstr (resp, "\r\n\r\n");
  snprintf (body, cap, "%s", b ? b + 4 : "");
  return status;
}

static void *
client (void *arg)
{
  fixture_t *f = arg;
  for (int i = 0; i < 4 && f->reqs[i]; i++)
    f->status[i] = http (f->port, f->reqs[i], f->body[i], sizeof f->body[i]);
  uv_async_send (&f->stop);
  return NULL;
}

static void
on_stop (uv_async_t *a)
{
  fixture_t *f = a->data;
  mu_metrics_http_stop (&f->h);
  uv_close ((uv_handle_t *)a, NULL);
}

static int
port_of (const mu_metrics_http_t *h)
{
  const char *u = mu_metrics_http_url (h);
  const char *c = strrchr (u, ':');
  return c ? atoi (c + 1) : -1;
}

/* Serve with opts, run the client's requests with the loop running. */
static void
serve (fixture_t *f, const char *bind, const char *token_file)
{
  assert_int_equal (uv_loop_init (&f->loop), 0);
  f->loop_thread = pthread_self ();
  mu_metrics_http_opts_t o
      = { .bind = bind, .token_file = token_file, .render = render, .arg = f };
  char err[512];
  assert_int_equal (
      mu_metrics_http_start (&f->loop, &o, &f->h, err, sizeof err), 0);
  f->port = port_of (f->h);
  assert_true (f->port > 0);
  uv_async_init (&f->loop, &f->stop, on_stop);
  f->stop.data = f;
  pthread_t t;
  assert_int_equal (pthread_create (&t, NULL, client, f), 0);
  uv_run (&f->loop, UV_RUN_DEFAULT);
  pthread_join (t, NULL);
  assert_int_equal (uv_loop_close (&f->loop), 0);
}

static void
test_renders_on_the_loop_thread (void **state)
{
  (void)state;
  fixture_t *f = calloc (1, sizeof *f);
  f->reqs[0] = "GET /metrics HTTP/1.0\r\n\r\n";
  f->reqs[1] = "GET /metrics HTTP/1.0\r\n\r\n";
  f->reqs[2] = "GET /other HTTP/1.0\r\n\r\n";
  f->reqs[3] = "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n";
  serve (f, "127.0.0.1:0", NULL);
  assert_int_equal (f->status[0], 200);
  assert_string_equal (f->body[0], "x_total 1\n");
  assert_int_equal (f->status[1], 200);
  assert_string_equal (f->body[1], "x_total 2\n"); /* fresh per scrape */
  assert_int_equal (f->status[2], 404);
  assert_int_equal (f->status[3], 405);
  assert_int_equal (f->renders, 2);
  assert_int_equal (f->wrong_thread, 0);
  free (f);
}

static char *
token_file (const char *text, mode_t mode)
{
  char *path = strdup ("/tmp/mu-metrics-token-XXXXXX");
  int fd = mkstemp (path);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
  fchmod (fd, mode);
  close (fd);
  return path;
}

static void
test_token_rules (void **state)
{
  (void)state;
  uv_loop_t loop;
  uv_loop_init (&loop);
  mu_metrics_http_t *h = NULL;
  char err[512];
  fixture_t dummy;
  mu_metrics_http_opts_t o
      = { .bind = "0.0.0.0:0", .render = render, .arg = &dummy };
  assert_int_equal (mu_metrics_http_start (&loop, &o, &h, err, sizeof err),
                    MUSTER_EAUTH);
  assert_null (h);
  assert_non_null (strstr (err, "--metrics-token-file"));
  char *loose = token_file ("0123456789abcdefXYZ\n", 0644);
  o.token_file = loose;
  assert_int_equal (mu_metrics_http_start (&loop, &o, &h, err, sizeof err),
                    MUSTER_EAUTH);
  assert_non_null (strstr (err, "chmod 600"));
  char *shorty = token_file ("abc\n", 0600);
  o.token_file = shorty;
  assert_int_equal (mu_metrics_http_start (&loop, &o, &h, err, sizeof err),
                    MUSTER_EAUTH);
  assert_non_null (strstr (err, "too short"));
  o.bind = "not an address";
  o.token_file = NULL;
  assert_int_equal (mu_metrics_http_start (&loop, &o, &h, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "not an address"));
  uv_run (&loop, UV_RUN_DEFAULT);
  uv_loop_close (&loop);
  unlink (loose);
  unlink (shorty);
  free (loose);
  free (shorty);

  char *good = token_file ("  0123456789abcdefXYZ  \nsecond line\n", 0600);
  fixture_t *f = calloc (1, sizeof *f);
  f->reqs[0] = "GET /metrics HTTP/1.0\r\n\r\n";
  f->reqs[1] = "GET /metrics HTTP/1.0\r\nAuthorization: Bearer "
               "0123456789abcdefXY\r\n\r\n";
  f->reqs[2] = "GET /metrics HTTP/1.0\r\nAuthorization: Bearer "
               "0123456789abcdefXYZ\r\n\r\n";
  f->reqs[3] = "GET /metrics HTTP/1.0\r\nAuthorization: Basic "
               "0123456789abcdefXYZ\r\n\r\n";
  serve (f, "0.0.0.0:0", good);
  assert_int_equal (f->status[0], 401);
  assert_non_null (strstr (f->body[0], "Bearer"));
  assert_int_equal (f->status[1], 401);
  assert_int_equal (f->status[2], 200);
  assert_string_equal (f->body[2], "x_total 1\n");
  assert_int_equal (f->status[3], 401);
  assert_int_equal (f->renders, 1); /* refused scrapes render nothing */
  unlink (good);
  free (good);
  free (f);
}

static void *
lone_client (void *arg)
{
  fixture_t *f = arg;
  f->status[0] = http (f->port, "GET /metrics HTTP/1.0\r\n\r\n", f->body[0],
                       sizeof f->body[0]);
  return NULL;
}

static void
test_stalled_loop_gets_503 (void **state)
{
  (void)state;
  fixture_t *f = calloc (1, sizeof *f);
  uv_loop_init (&f->loop);
  f->loop_thread = pthread_self ();
  mu_metrics_http_opts_t o
      = { .bind = "127.0.0.1:0", .render = render, .arg = f };
  char err[512];
  assert_int_equal (
      mu_metrics_http_start (&f->loop, &o, &f->h, err, sizeof err), 0);
  f->port = port_of (f->h);
  /* The loop does not run while the scrape waits: the server gives up
   * waiting and says so, rather than hanging. */
  pthread_t t;
  pthread_create (&t, NULL, lone_client, f);
  pthread_join (t, NULL);
  assert_int_equal (f->status[0], 503);
  assert_int_equal (f->renders, 0);
  mu_metrics_http_stop (&f->h);
  uv_run (&f->loop, UV_RUN_DEFAULT);
  assert_int_equal (uv_loop_close (&f->loop), 0);
  free (f);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_renders_on_the_loop_thread),
    cmocka_unit_test (test_token_rules),
    cmocka_unit_test (test_stalled_loop_gets_503),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
