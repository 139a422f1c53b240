/*
 * netaddr.h — endpoints as users write them, and honest binds.
 *
 * Every place muster takes a TCP endpoint (muster run --rdzv-endpoint,
 * musterd --agent-bind/--ctl-bind, muster-agent --coordinator, muster
 * status --endpoint) accepts "HOST:PORT" and "tcp://HOST:PORT", IPv6
 * literals in brackets ("[::1]:29400"), and answers a bad one with a
 * sentence naming it and the expected form instead of ZeroMQ's "Invalid
 * argument".  A bind address is bound as given: it is resolved, checked
 * against this machine's interfaces (getifaddrs), and an address that is
 * not here is an error that lists the ones that are, never a silent
 * fallback to all interfaces.  Only "0.0.0.0", "*" and "[::]" mean all
 * interfaces.  Pure functions of their input and the interface list, so
 * they are unit-tested (netaddr_test.c).
 */
#ifndef MU_NETADDR_H
#define MU_NETADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Flags of mu_endpoint_parse. */
#define MU_EP_ANY_PORT 0x1   /* a bind: port 0 or '*' (ephemeral) allowed */
#define MU_EP_OTHER_TRANSPORT 0x2 /* ipc:// and inproc:// pass unchanged */

typedef struct mu_endpoint {
  char host[256]; /* without brackets; "" for ipc/inproc */
  char port[8];   /* as written: "29400", "0" or "*" */
  int ipv6;       /* the host was written in brackets */
  char other[512]; /* ipc:// or inproc:// endpoint, verbatim ("" for tcp) */
} mu_endpoint_t;

/* Parse "HOST:PORT", "tcp://HOST:PORT" or "[V6]:PORT" (and with
 * MU_EP_OTHER_TRANSPORT "ipc://..." and "inproc://...").  0, or
 * MUSTER_EINVAL with "'S': expected HOST:PORT or tcp://HOST:PORT"-style
 * text in err. */
int mu_endpoint_parse (const char *s, int flags, mu_endpoint_t *ep, char *err,
                       size_t errlen);

/* "tcp://HOST:PORT" ("tcp://[V6]:PORT"), or the verbatim other transport;
 * 0 or MUSTER_ETOOBIG. */
int mu_endpoint_format (const mu_endpoint_t *ep, char *out, size_t outlen);

/* Parse `s` and write its tcp:// form to out: what the CLI hands ZeroMQ
 * for a connect.  0 or MUSTER_EINVAL with a sentence in err. */
int mu_endpoint_normalize (const char *s, int flags, char *out, size_t outlen,
                           char *err, size_t errlen);

/* 1 if `sa` (AF_INET or AF_INET6) is an address of this machine, 0 if not,
 * a negative errno if the interfaces cannot be listed.  An address equal
 * to an interface's is local; so is any address inside the network of a
 * loopback interface (on Linux lo carries 127.0.0.1/8 and the kernel
 * routes all of 127/8 to it: 127.0.0.2 can be bound, so it is local). */
int mu_netaddr_is_local (const struct sockaddr *sa);

/* This machine's addresses, ", "-separated (IPv4 first, link-local IPv6
 * left out), into out; 0 or a negative errno. */
int mu_netaddr_list_local (char *out, size_t outlen);

typedef enum mu_bind_scope {
  MU_BIND_LOOPBACK, /* only this machine can connect */
  MU_BIND_ADDRESS,  /* one (non-loopback) address of this machine */
  MU_BIND_ALL,      /* all interfaces: 0.0.0.0, '*' or [::] given */
  MU_BIND_OTHER     /* ipc:// or inproc:// */
} mu_bind_scope_t;

/* Resolve a parsed bind endpoint: a numeric address or a name (its first
 * local IPv4 address, else its first local IPv6 one) becomes the
 * "tcp://ADDR:PORT" ZeroMQ binds.  0; -EADDRNOTAVAIL when none of its
 * addresses is here ("1.2.3.4 is not an address of this machine (addresses
 * here: ...); use one of them, or 0.0.0.0 to listen on all"); MUSTER_ENOTFOUND
 * when the name does not resolve.  `scope` may be NULL. */
int mu_netaddr_bind (const mu_endpoint_t *ep, char *out, size_t outlen,
                     mu_bind_scope_t *scope, char *err, size_t errlen);

/* "(loopback only)", "(all interfaces)", "(one address)", "" — for logs. */
const char *mu_bind_scope_text (mu_bind_scope_t scope);

/* The scope of an already bound ZeroMQ endpoint ("tcp://127.0.0.1:5"). */
mu_bind_scope_t mu_netaddr_endpoint_scope (const char *zmq_endpoint);

/* Set ZMQ_IPV6 on `sock` when `endpoint` names an IPv6 address
 * ("tcp://[::1]:P"); ZeroMQ sockets are IPv4-only otherwise.  0 or a
 * negative errno. */
int mu_netaddr_zmq_prepare (void *sock, const char *endpoint);

#endif
