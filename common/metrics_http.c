/*
 * metrics_http.c — the /metrics endpoint over libmicrohttpd, and the hand
 * over between its thread and the daemon's loop (metrics_http.h).
 *
 * The listening socket is made here (bound, CLOEXEC, so spawned workers
 * never inherit it) and given to libmicrohttpd: errors then name the real
 * cause (EADDRINUSE), and a port 0 bind reads its port back.
 *
 * Shared between the two threads, under `mu`: asked (scrapes that want a
 * fresh text), done (the last one rendered), text/len (the last text),
 * closing.  The server thread bumps `asked`, sends the async and waits
 * until `done` reaches its number; the loop thread, woken by the async,
 * renders outside the lock and publishes.  Nothing else crosses.
 */
#include "common/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <muster/error.h>

#include "common/netaddr.h"
#include "common/util.h"

#define TOKEN_MAX 4096
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct mu_metrics_http
{
  uv_async_t async;
  struct MHD_Daemon *mhd;
  mu_metrics_render_fn render;
  void *arg;
  char url[320];
  int scope;   /* mu_bind_scope_t */
  char *token; /* "" = none */
  size_t token_len;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t asked, done;
  char *text;
  size_t len;
  int closing;
};

/* Read the token: the file's first line, trimmed; refused when others may
 * read it, or when it is short. */
static int
read_token (const char *path, char **out, char *err, size_t errlen)
{
  FILE *f = fopen (path, "r");
  if (f == NULL)
    {
      int e = errno;
      snprintf (err, errlen, "cannot read the metrics token file %s: %s", path,
                strerror (e));
      return -e;
    }
  struct stat st;
  if (fstat (fileno (f), &st) == 0 && (st.st_mode & 077) != 0)
    {
      snprintf (err, errlen,
                "the metrics token file %s is readable by other "
                "users (mode %04o): chmod 600 it",
                path, (unsigned)(st.st_mode & 07777));
      fclose (f);
      return MUSTER_EAUTH;
    }
  char *buf = malloc (TOKEN_MAX + 2);
  if (buf == NULL)
    {
      fclose (f);
      return -ENOMEM;
    }
  size_t n = fread (buf, 1, TOKEN_MAX + 1, f);
  fclose (f);
  buf[n] = '\0';
  buf[strcspn (buf, "\r\n")] = '\0';
  size_t l = strlen (buf);
  while (l > 0 && (buf[l - 1] == ' ' || buf[l - 1] == '\t'))
    buf[--l] = '\0';
  char *s = buf + strspn (buf, " \t");
  l = strlen (s);
  if (n > TOKEN_MAX || l < MU_METRICS_TOKEN_MIN)
    {
      snprintf (err, errlen,
                "the metrics token in %s is %s (%zu bytes; "
                "%d to %d)",
                path, l < MU_METRICS_TOKEN_MIN ? "too short" : "too long", l,
                MU_METRICS_TOKEN_MIN, TOKEN_MAX);
      free (buf);
      return MUSTER_EAUTH;
    }
  memmove (buf, s, l + 1);
  *out = buf;
  return 0;
}

/* Constant time in the length of what is expected: every byte of the
 * token is compared whatever the header holds. */
static int
token_ok (const mu_metrics_http_t *h, const char *header)
{
  static const char pre[] = "Bearer ";
  if (header == NULL || strncmp (header, pre, sizeof pre - 1) != 0)
    return 0;
  const char *got = header + sizeof pre - 1;
  size_t gl = strlen (got);
  unsigned char diff = (unsigned char)(gl != h->token_len);
  for (size_t i = 0; i < h->token_len; i++)
    diff |= (unsigned char)(h->token[i] ^ (i < gl ? got[i] : 0));
  return diff == 0;
}

static enum MHD_Result
reply (struct MHD_Connection *conn, unsigned status, const char *body,
       size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
  struct MHD_Response *r
      = MHD_create_response_from_buffer (len, (void *)body, mode);
  if (r == NULL)
    {
      if (mode == MHD_RESPMEM_MUST_FREE)
        free ((void *)body);
      return MHD_NO;
    }
  MHD_add_response_header (r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (status == MHD_HTTP_UNAUTHORIZED)
    MHD_add_response_header (r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                             "Bearer realm=\"muster\"");
  enum MHD_Result ret = MHD_queue_response (conn, status, r);
  MHD_destroy_response (r);
  return ret;
}

static enum MHD_Result
reply_text (struct MHD_Connection *conn, unsigned status, const char *msg)
{
  return reply (conn, status, msg, strlen (msg), MHD_RESPMEM_PERSISTENT,
                "text/plain; charset=utf-8");
}

/* On the server's thread: a fresh text from the loop, or the last one. */
static char *
fetch_text (mu_metrics_http_t *h, size_t *len)
{
  struct timespec until;
  clock_gettime (CLOCK_MONOTONIC, &until);
  until.tv_sec += MU_METRICS_HTTP_WAIT_MS / 1000;
  until.tv_nsec += (long)(MU_METRICS_HTTP_WAIT_MS % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L)
    {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  pthread_mutex_lock (&h->mu);
  uint64_t mine = ++h->asked;
  uv_async_send (&h->async);
  while (h->done < mine && !h->closing)
    if (pthread_cond_timedwait (&h->cv, &h->mu, &until) == ETIMEDOUT)
      break;
  char *copy = NULL;
  if (h->text != NULL && (copy = malloc (h->len + 1)) != NULL)
    {
      memcpy (copy, h->text, h->len + 1);
      *len = h->len;
    }
  pthread_mutex_unlock (&h->mu);
  return copy;
}

static enum MHD_Result
on_request (void *cls, struct MHD_Connection *conn, const char *url,
            const char *method, const char *version, const char *upload,
            size_t *upload_size, void **con_cls)
{
  (void)version;
  (void)upload;
  mu_metrics_http_t *h = cls;
  if (*con_cls == NULL)
    {
      /* First call: headers only.  Bodies are not read. */
      *con_cls = h;
      return MHD_YES;
    }
  *upload_size = 0;
  if (strcmp (method, "GET") != 0 && strcmp (method, "HEAD") != 0)
    return reply_text (conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "muster: only GET /metrics is served here\n");
  if (h->token_len > 0
      && !token_ok (
          h, MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                          MHD_HTTP_HEADER_AUTHORIZATION)))
    return reply_text (conn, MHD_HTTP_UNAUTHORIZED,
                       "muster: this metrics endpoint needs "
                       "'Authorization: Bearer TOKEN' (the token of "
                       "--metrics-token-file)\n");
  if (strcmp (url, "/metrics") != 0)
    return reply_text (conn, MHD_HTTP_NOT_FOUND,
                       "muster: the metrics are at /metrics\n");
  size_t len = 0;
  char *text = fetch_text (h, &len);
  if (text == NULL)
    return reply_text (conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                       "muster: the daemon has not rendered its metrics "
                       "yet (its loop is busy); try again\n");
  return reply (conn, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE,
                CONTENT_TYPE);
}

/* On the loop thread: render for every scrape waiting now. */
static void
on_async (uv_async_t *a)
{
  mu_metrics_http_t *h = a->data;
  pthread_mutex_lock (&h->mu);
  uint64_t want = h->asked;
  pthread_mutex_unlock (&h->mu);
  char *text = NULL;
  size_t len = 0;
  int rc = h->render (h->arg, &text, &len);
  pthread_mutex_lock (&h->mu);
  if (rc == 0 && text != NULL)
    {
      free (h->text);
      h->text = text;
      h->len = len;
      text = NULL;
    }
  h->done = want;
  pthread_cond_broadcast (&h->cv);
  pthread_mutex_unlock (&h->mu);
  free (text);
}

/* Bind a listening socket at the resolved "tcp://ADDR:PORT"; its fd, or a
 * negative errno with err filled. */
static int
listen_at (const char *zep, int *v6, char *url, size_t urlcap, char *err,
           size_t errlen)
{
  mu_endpoint_t e;
  char why[512];
  if (mu_endpoint_parse (zep, MU_EP_ANY_PORT, &e, why, sizeof why) != 0)
    {
      snprintf (err, errlen, "%s", why);
      return MUSTER_EINVAL;
    }
  uint64_t port = 0;
  if (strcmp (e.port, "*") != 0 && mu_parse_u64 (e.port, &port) != 0)
    port = 65536;
  if (port > 65535)
    {
      snprintf (err, errlen, "bad port in %s", zep);
      return MUSTER_EINVAL;
    }
  struct sockaddr_storage ss;
  memset (&ss, 0, sizeof ss);
  socklen_t sl;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton (AF_INET, e.host, &s4->sin_addr) == 1)
    {
      s4->sin_family = AF_INET;
      s4->sin_port = htons ((uint16_t)port);
      sl = sizeof *s4;
      *v6 = 0;
    }
  else if (inet_pton (AF_INET6, e.host, &s6->sin6_addr) == 1)
    {
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons ((uint16_t)port);
      sl = sizeof *s6;
      *v6 = 1;
    }
  else
    {
      snprintf (err, errlen, "'%s' is not a numeric address", e.host);
      return MUSTER_EINVAL;
    }
  int fd = socket (ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int er = errno;
      snprintf (err, errlen, "socket: %s", strerror (er));
      return -er;
    }
  int one = 1;
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (*v6)
    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind (fd, (struct sockaddr *)&ss, sl) != 0 || listen (fd, 64) != 0)
    {
      int er = errno;
      snprintf (err, errlen, "%s:%s: %s", e.host, e.port, strerror (er));
      close (fd);
      return -er;
    }
  sl = sizeof ss;
  getsockname (fd, (struct sockaddr *)&ss, &sl);
  unsigned bound = ntohs (*v6 ? s6->sin6_port : s4->sin_port);
  snprintf (url, urlcap,
            *v6 ? "http://[%s]:%u/metrics" : "http://%s:%u/metrics", e.host,
            bound);
  return fd;
}

int
mu_metrics_http_start (uv_loop_t *loop, const mu_metrics_http_opts_t *o,
                       mu_metrics_http_t **out, char *err, size_t errlen)
{
  *out = NULL;
  if (o->bind == NULL || o->render == NULL)
    {
      snprintf (err, errlen, "no bind address");
      return MUSTER_EINVAL;
    }
  mu_endpoint_t e;
  char why[1024], zep[300];
  mu_bind_scope_t scope;
  if (mu_endpoint_parse (o->bind, MU_EP_ANY_PORT, &e, why, sizeof why) != 0)
    {
      snprintf (err, errlen, "%s", why);
      return MUSTER_EINVAL;
    }
  int rc = mu_netaddr_bind (&e, zep, sizeof zep, &scope, why, sizeof why);
  if (rc != 0)
    {
      snprintf (err, errlen, "cannot bind the metrics port at %s: %s", o->bind,
                why);
      return rc;
    }
  if (scope != MU_BIND_LOOPBACK && o->token_file == NULL)
    {
      snprintf (err, errlen,
                "the metrics port %s is not loopback-only: "
                "give --metrics-token-file FILE (a bearer token every "
                "scrape must carry), or bind 127.0.0.1",
                o->bind);
      return MUSTER_EAUTH;
    }
  mu_metrics_http_t *h = calloc (1, sizeof *h);
  if (h == NULL)
    return -ENOMEM;
  h->render = o->render;
  h->scope = (int)scope;
  h->arg = o->arg;
  if (o->token_file != NULL
      && (rc = read_token (o->token_file, &h->token, err, errlen)) != 0)
    {
      free (h);
      return rc;
    }
  h->token_len = h->token ? strlen (h->token) : 0;
  int v6 = 0;
  int fd = listen_at (zep, &v6, h->url, sizeof h->url, why, sizeof why);
  if (fd < 0)
    {
      snprintf (err, errlen, "cannot bind the metrics port at %s: %s", o->bind,
                why);
      free (h->token);
      free (h);
      return fd;
    }
  pthread_condattr_t ca;
  pthread_condattr_init (&ca);
  pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
  pthread_cond_init (&h->cv, &ca);
  pthread_condattr_destroy (&ca);
  pthread_mutex_init (&h->mu, NULL);
  uv_async_init (loop, &h->async, on_async);
  h->async.data = h;
  /* Serving metrics is no reason for the loop to keep running. */
  uv_unref ((uv_handle_t *)&h->async);
  /* AUTO: epoll on Linux.  select() would refuse descriptors past
   * FD_SETSIZE, and musterd holds thousands (one per agent). */
  h->mhd = MHD_start_daemon (
      MHD_USE_AUTO_INTERNAL_THREAD | (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL,
      on_request, h, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)32, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
      MHD_OPTION_END);
  if (h->mhd == NULL)
    {
      /* (libmicrohttpd may have closed fd already: left alone.) */
      snprintf (err, errlen, "cannot start the metrics server at %s", o->bind);
      mu_metrics_http_stop (&h);
      return MUSTER_EINVAL;
    }
  *out = h;
  return 0;
}

const char *
mu_metrics_http_url (const mu_metrics_http_t *h)
{
  return h ? h->url : "";
}

const char *
mu_metrics_http_scope (const mu_metrics_http_t *h)
{
  return h ? mu_bind_scope_text ((mu_bind_scope_t)h->scope) : "";
}

int
mu_metrics_http_needs_token (const mu_metrics_http_t *h)
{
  return h != NULL && h->token_len > 0;
}

static void
on_closed (uv_handle_t *hd)
{
  mu_metrics_http_t *h = hd->data;
  pthread_mutex_destroy (&h->mu);
  pthread_cond_destroy (&h->cv);
  free (h->text);
  free (h->token);
  free (h);
}

void
mu_metrics_http_stop (mu_metrics_http_t **h_p)
{
  if (h_p == NULL || *h_p == NULL)
    return;
  mu_metrics_http_t *h = *h_p;
  *h_p = NULL;
  /* Release a scrape waiting for the loop, then join the server. */
  pthread_mutex_lock (&h->mu);
  h->closing = 1;
  pthread_cond_broadcast (&h->cv);
  pthread_mutex_unlock (&h->mu);
  if (h->mhd != NULL)
    MHD_stop_daemon (h->mhd);
  h->mhd = NULL;
  uv_close ((uv_handle_t *)&h->async, on_closed);
}
