/*
 * netaddr.c — parsing endpoints and checking bind addresses (see
 * netaddr.h).
 *
 * Why a module of its own: before it, `muster run --host` turned any
 * non-loopback endpoint into "tcp://(any):P", so a typo or another machine's
 * address silently listened on every interface, and each program parsed
 * endpoints its own way.  Here an address is resolved (getaddrinfo),
 * compared with getifaddrs' list, and bound exactly; errors are sentences
 * that name the endpoint.
 */
#include "common/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <muster/error.h>

#include "common/util.h"

#define EXPECTED "expected HOST:PORT or tcp://HOST:PORT"

static int
bad (char *err, size_t errlen, const char *s, const char *why)
{
  snprintf (err, errlen, "'%s': %s", s, why);
  return MUSTER_EINVAL;
}

static int
valid_port (const char *p, int flags)
{
  if (strcmp (p, "*") == 0)
    return (flags & MU_EP_ANY_PORT) != 0;
  uint64_t v;
  if (mu_parse_u64 (p, &v) != 0 || v > 65535)
    return 0;
  return v > 0 || (flags & MU_EP_ANY_PORT) != 0;
}

int
mu_endpoint_parse (const char *s, int flags, mu_endpoint_t *ep, char *err,
                   size_t errlen)
{
  memset (ep, 0, sizeof *ep);
  if (s == NULL || *s == '\0')
    return bad (err, errlen, s ? s : "", "empty endpoint; " EXPECTED);
  const char *h = s;
  const char *scheme = strstr (s, "://");
  if (scheme != NULL)
    {
      if (strncmp (s, "tcp://", 6) == 0)
        h = s + 6;
      else if ((flags & MU_EP_OTHER_TRANSPORT)
               && (strncmp (s, "ipc://", 6) == 0
                   || strncmp (s, "inproc://", 9) == 0))
        {
          if (mu_strlcpy (ep->other, s, sizeof ep->other) != 0)
            return bad (err, errlen, s, "endpoint too long");
          return 0;
        }
      else
        return bad (err, errlen, s, "only tcp:// is supported; " EXPECTED);
    }
  const char *colon;
  const char *hend;
  if (*h == '[')
    {
      hend = strchr (h, ']');
      if (hend == NULL || hend[1] != ':')
        return bad (err, errlen, s, EXPECTED " (IPv6: [ADDR]:PORT)");
      colon = hend + 1;
      h++;
      ep->ipv6 = 1;
    }
  else
    {
      colon = strrchr (h, ':');
      if (colon == NULL)
        return bad (err, errlen, s, "no port; " EXPECTED);
      hend = colon;
      if (memchr (h, ':', (size_t)(hend - h)) != NULL)
        return bad (err, errlen, s,
                    EXPECTED " (write IPv6 addresses in brackets: [::1]:PORT)");
    }
  size_t hl = (size_t)(hend - h);
  if (hl == 0)
    return bad (err, errlen, s, "no host; " EXPECTED);
  if (hl >= sizeof ep->host)
    return bad (err, errlen, s, "host name too long");
  if (memchr (h, '/', hl) != NULL || memchr (h, ' ', hl) != NULL)
    return bad (err, errlen, s, EXPECTED);
  memcpy (ep->host, h, hl);
  ep->host[hl] = '\0';
  const char *port = colon + 1;
  if (strlen (port) >= sizeof ep->port || !valid_port (port, flags))
    return bad (err, errlen, s,
                (flags & MU_EP_ANY_PORT)
                    ? "bad port (0-65535 or *); " EXPECTED
                    : "bad port (1-65535); " EXPECTED);
  strcpy (ep->port, port);
  return 0;
}

int
mu_endpoint_format (const mu_endpoint_t *ep, char *out, size_t outlen)
{
  if (ep->other[0] != '\0')
    return mu_strlcpy (out, ep->other, outlen);
  int ipv6 = ep->ipv6 || strchr (ep->host, ':') != NULL;
  int n = snprintf (out, outlen, ipv6 ? "tcp://[%s]:%s" : "tcp://%s:%s",
                    ep->host, ep->port);
  return n < 0 || (size_t)n >= outlen ? MUSTER_ETOOBIG : 0;
}

int
mu_endpoint_normalize (const char *s, int flags, char *out, size_t outlen,
                       char *err, size_t errlen)
{
  mu_endpoint_t ep;
  int rc = mu_endpoint_parse (s, flags, &ep, err, errlen);
  if (rc == 0 && mu_endpoint_format (&ep, out, outlen) != 0)
    rc = bad (err, errlen, s, "endpoint too long");
  return rc;
}

static void
addr_text (const struct sockaddr *sa, char *out, size_t outlen)
{
  const void *a = sa->sa_family == AF_INET
                      ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                      : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
  if (inet_ntop (sa->sa_family, a, out, (socklen_t)outlen) == NULL)
    snprintf (out, outlen, "?");
}

/* Does `a` equal `b`, or (for a loopback interface) fall inside b/mask? */
static int
matches (const struct sockaddr *a, const struct sockaddr *b,
         const struct sockaddr *mask, int loopback)
{
  if (b == NULL || a->sa_family != b->sa_family)
    return 0;
  const unsigned char *x, *y, *m = NULL;
  size_t n;
  if (a->sa_family == AF_INET)
    {
      x = (const unsigned char *)&((const struct sockaddr_in *)a)->sin_addr;
      y = (const unsigned char *)&((const struct sockaddr_in *)b)->sin_addr;
      if (mask)
        m = (const unsigned char *)&((const struct sockaddr_in *)mask)->sin_addr;
      n = 4;
    }
  else if (a->sa_family == AF_INET6)
    {
      x = (const unsigned char *)&((const struct sockaddr_in6 *)a)->sin6_addr;
      y = (const unsigned char *)&((const struct sockaddr_in6 *)b)->sin6_addr;
      if (mask)
        m = (const unsigned char *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
      n = 16;
    }
  else
    return 0;
  if (memcmp (x, y, n) == 0)
    return 1;
  if (!loopback || m == NULL || mask->sa_family != a->sa_family)
    return 0;
  for (size_t i = 0; i < n; i++)
    if ((x[i] & m[i]) != (y[i] & m[i]))
      return 0;
  return 1;
}

int
mu_netaddr_is_local (const struct sockaddr *sa)
{
  struct ifaddrs *ifs;
  if (getifaddrs (&ifs) != 0)
    return -errno;
  int local = 0;
  for (struct ifaddrs *i = ifs; i != NULL && !local; i = i->ifa_next)
    local = matches (sa, i->ifa_addr, i->ifa_netmask,
                     (i->ifa_flags & IFF_LOOPBACK) != 0);
  freeifaddrs (ifs);
  return local;
}

static void
append (char *out, size_t outlen, const char *s)
{
  size_t used = strlen (out);
  if (strstr (out, s) != NULL) /* an address on two interfaces: once */
    {
      const char *p = out;
      size_t sl = strlen (s);
      while ((p = strstr (p, s)) != NULL)
        {
          if ((p == out || p[-1] == ' ') && (p[sl] == '\0' || p[sl] == ','))
            return;
          p += sl;
        }
    }
  snprintf (out + used, outlen - used, "%s%s", used ? ", " : "", s);
}

int
mu_netaddr_list_local (char *out, size_t outlen)
{
  struct ifaddrs *ifs;
  if (outlen == 0)
    return MUSTER_ETOOBIG;
  out[0] = '\0';
  if (getifaddrs (&ifs) != 0)
    return -errno;
  for (int family = AF_INET; family != -1;
       family = family == AF_INET ? AF_INET6 : -1)
    for (struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next)
      {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family)
          continue;
        if (family == AF_INET6
            && IN6_IS_ADDR_LINKLOCAL (
                &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
          continue; /* needs a scope id to bind; not what a user means */
        char a[INET6_ADDRSTRLEN];
        addr_text (i->ifa_addr, a, sizeof a);
        append (out, outlen, a);
      }
  freeifaddrs (ifs);
  return 0;
}

static int
is_loopback (const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET)
    return (ntohl (((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
  if (sa->sa_family == AF_INET6)
    return IN6_IS_ADDR_LOOPBACK (&((const struct sockaddr_in6 *)sa)->sin6_addr);
  return 0;
}

int
mu_netaddr_bind (const mu_endpoint_t *ep, char *out, size_t outlen,
                 mu_bind_scope_t *scope, char *err, size_t errlen)
{
  mu_bind_scope_t dummy;
  if (scope == NULL)
    scope = &dummy;
  if (ep->other[0] != '\0')
    {
      *scope = MU_BIND_OTHER;
      return mu_strlcpy (out, ep->other, outlen);
    }
  mu_endpoint_t b = *ep;
  if (strcmp (ep->host, "*") == 0 || strcmp (ep->host, "0.0.0.0") == 0)
    {
      strcpy (b.host, "0.0.0.0");
      b.ipv6 = 0;
      *scope = MU_BIND_ALL;
      return mu_endpoint_format (&b, out, outlen);
    }
  struct addrinfo hints, *res = NULL;
  memset (&hints, 0, sizeof hints);
  hints.ai_family = ep->ipv6 ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int g = getaddrinfo (ep->host, NULL, &hints, &res);
  if (g != 0)
    {
      snprintf (err, errlen, "cannot resolve '%s': %s", ep->host,
                g == EAI_SYSTEM ? strerror (errno) : gai_strerror (g));
      return MUSTER_ENOTFOUND;
    }
  const struct addrinfo *pick = NULL;
  char first[INET6_ADDRSTRLEN] = "";
  int rc = 0;
  for (int family = AF_INET; family != -1 && pick == NULL && rc >= 0;
       family = family == AF_INET ? AF_INET6 : -1)
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next)
      {
        if (ai->ai_family != family)
          continue;
        if (first[0] == '\0')
          addr_text (ai->ai_addr, first, sizeof first);
        if (family == AF_INET6
            && IN6_IS_ADDR_UNSPECIFIED (
                &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr))
          {
            pick = ai; /* [::]: all interfaces */
            break;
          }
        rc = mu_netaddr_is_local (ai->ai_addr);
        if (rc < 0)
          break;
        if (rc == 1)
          {
            pick = ai;
            break;
          }
      }
  if (pick == NULL)
    {
      freeaddrinfo (res);
      if (rc < 0)
        {
          snprintf (err, errlen, "cannot list this machine's addresses: %s",
                    strerror (-rc));
          return rc;
        }
      char here[512];
      if (mu_netaddr_list_local (here, sizeof here) != 0)
        strcpy (here, "?");
      char named[600];
      if (strcmp (first, ep->host) == 0)
        snprintf (named, sizeof named, "%s", ep->host);
      else
        snprintf (named, sizeof named, "%s (%s)", ep->host, first);
      snprintf (err, errlen,
                "%s is not an address of this machine (addresses here: %s); "
                "use one of them, or 0.0.0.0 to listen on all",
                named, here);
      return -EADDRNOTAVAIL;
    }
  addr_text (pick->ai_addr, b.host, sizeof b.host);
  b.ipv6 = pick->ai_family == AF_INET6;
  if (b.ipv6 && IN6_IS_ADDR_UNSPECIFIED (
                    &((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr))
    *scope = MU_BIND_ALL;
  else
    *scope = is_loopback (pick->ai_addr) ? MU_BIND_LOOPBACK : MU_BIND_ADDRESS;
  freeaddrinfo (res);
  return mu_endpoint_format (&b, out, outlen);
}

const char *
mu_bind_scope_text (mu_bind_scope_t scope)
{
  switch (scope)
    {
    case MU_BIND_LOOPBACK:
      return "(loopback only)";
    case MU_BIND_ADDRESS:
      return "(this address only)";
    case MU_BIND_ALL:
      return "(all interfaces)";
    case MU_BIND_OTHER:
      break;
    }
  return "";
}

mu_bind_scope_t
mu_netaddr_endpoint_scope (const char *zmq_endpoint)
{
  mu_endpoint_t ep;
  char err[8];
  if (zmq_endpoint == NULL
      || mu_endpoint_parse (zmq_endpoint, MU_EP_ANY_PORT | MU_EP_OTHER_TRANSPORT,
                            &ep, err, sizeof err) != 0
      || ep.other[0] != '\0')
    return MU_BIND_OTHER;
  if (strcmp (ep.host, "0.0.0.0") == 0 || strcmp (ep.host, "*") == 0
      || strcmp (ep.host, "::") == 0)
    return MU_BIND_ALL;
  struct in6_addr a6;
  struct in_addr a4;
  if (inet_pton (AF_INET, ep.host, &a4) == 1)
    return (ntohl (a4.s_addr) >> 24) == 127 ? MU_BIND_LOOPBACK : MU_BIND_ADDRESS;
  if (inet_pton (AF_INET6, ep.host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK (&a6) ? MU_BIND_LOOPBACK : MU_BIND_ADDRESS;
  return MU_BIND_ADDRESS;
}

int
mu_netaddr_zmq_prepare (void *sock, const char *endpoint)
{
  int one = 1;
  if (endpoint != NULL && strncmp (endpoint, "tcp://[", 7) == 0
      && zmq_setsockopt (sock, ZMQ_IPV6, &one, sizeof one) != 0)
    return -errno;
  return 0;
}
