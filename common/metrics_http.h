/*
 * metrics_http.h — serve a daemon's metrics (metrics.h) at
 * http://ADDR:PORT/metrics with libmicrohttpd.
 *
 * Threads: libmicrohttpd runs its own thread (internal polling) and never
 * touches the daemon's state.  For each scrape it asks the daemon's loop
 * thread, through a uv_async_t, to render the exposition text, and waits
 * (at most MU_METRICS_HTTP_WAIT_MS) on a condition variable for it; the
 * loop thread renders with the caller's callback and hands the text over
 * under a mutex.  Requests arriving together share one rendering.  A loop
 * that does not answer in time (stalled) gets the last text served again,
 * or 503 before any; a scrape therefore never blocks the loop and the loop
 * never blocks on a scrape.
 *
 * Authentication follows the control port's rule (docs/security.md): a
 * loopback bind serves this machine's users, as the local control socket
 * does; any other bind requires a bearer token (token_file, 0600, at least
 * 16 bytes), checked in constant time against "Authorization: Bearer
 * TOKEN" (401 otherwise).  A token file given with a loopback bind is
 * enforced too.
 */
#ifndef MU_METRICS_HTTP_H
#define MU_METRICS_HTTP_H

#include <stddef.h>
#include <uv.h>

#define MU_METRICS_HTTP_WAIT_MS 2000
#define MU_METRICS_TOKEN_MIN 16

/* Called on the loop thread: the exposition text in *text (malloc'd, the
 * server takes it) and *len; 0 or a negative code. */
typedef int (*mu_metrics_render_fn) (void *arg, char **text, size_t *len);

typedef struct mu_metrics_http_opts
{
  const char *bind;       /* "HOST:PORT" or "tcp://HOST:PORT"; port 0 = any */
  const char *token_file; /* bearer token; NULL = none (loopback only) */
  mu_metrics_render_fn render;
  void *arg;
} mu_metrics_http_opts_t;

typedef struct mu_metrics_http mu_metrics_http_t;

/* Check the bind and the token rule, bind, and serve on a thread of its
 * own; the loop must run for scrapes to be answered.  0, or a negative
 * code with one sentence in err (a non-loopback bind without a token
 * file, a token file readable by others, an address not of this machine,
 * a port in use).  *out is owned by the caller (mu_metrics_http_stop). */
int mu_metrics_http_start (uv_loop_t *loop, const mu_metrics_http_opts_t *o,
                           mu_metrics_http_t **out, char *err, size_t errlen);
/* "http://ADDR:PORT/metrics", the port resolved. */
const char *mu_metrics_http_url (const mu_metrics_http_t *h);
/* "(loopback only)", "(all interfaces)" or "(one address)", for logs. */
const char *mu_metrics_http_scope (const mu_metrics_http_t *h);
/* 1 if requests must carry the token. */
int mu_metrics_http_needs_token (const mu_metrics_http_t *h);
/* Stop serving (joins the server's thread) and close the loop handle; the
 * memory goes when the loop has run the close.  Accepts NULL and a pointer
 * to NULL; sets *h_p to NULL.  Call on the loop thread. */
void mu_metrics_http_stop (mu_metrics_http_t **h_p);

#endif
