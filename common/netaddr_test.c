/*
 * netaddr_test.c — endpoint parsing (both forms, IPv6 brackets, ports, the
 * error sentences) and bind checks against this machine's real interfaces:
 * loopback is local (all of 127/8 on Linux, see netaddr.h), a TEST-NET
 * address is not, names resolve or fail with their name in the message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <cmocka.h>

#include <muster/error.h>

#include "common/netaddr.h"

static void
test_parse_forms (void **state)
{
  (void)state;
  mu_endpoint_t ep;
  char err[256], out[300];
  assert_int_equal (mu_endpoint_parse ("10.0.0.5:29400", 0, &ep, err, sizeof err), 0);
  assert_string_equal (ep.host, "10.0.0.5");
  assert_string_equal (ep.port, "29400");
  assert_int_equal (ep.ipv6, 0);
  assert_int_equal (mu_endpoint_parse ("tcp://node0:1", 0, &ep, err, sizeof err), 0);
  assert_string_equal (ep.host, "node0");
  assert_string_equal (ep.port, "1");
  assert_int_equal (mu_endpoint_format (&ep, out, sizeof out), 0);
  assert_string_equal (out, "tcp://node0:1");
  assert_int_equal (mu_endpoint_parse ("[::1]:29400", 0, &ep, err, sizeof err), 0);
  assert_string_equal (ep.host, "::1");
  assert_int_equal (ep.ipv6, 1);
  assert_int_equal (mu_endpoint_format (&ep, out, sizeof out), 0);
  assert_string_equal (out, "tcp://[::1]:29400");
  assert_int_equal (mu_endpoint_normalize ("tcp://[fd00::2]:7", 0, out, sizeof out,
                                           err, sizeof err), 0);
  assert_string_equal (out, "tcp://[fd00::2]:7");
  assert_int_equal (mu_endpoint_normalize ("127.0.0.1:9", 0, out, sizeof out,
                                           err, sizeof err), 0);
  assert_string_equal (out, "tcp://127.0.0.1:9");
}

static void
test_parse_ports (void **state)
{
  (void)state;
  mu_endpoint_t ep;
  char err[256];
  /* a connect needs a real port; a bind may ask for an ephemeral one */
  assert_int_equal (mu_endpoint_parse ("h:0", 0, &ep, err, sizeof err), MUSTER_EINVAL);
  assert_int_equal (mu_endpoint_parse ("h:*", 0, &ep, err, sizeof err), MUSTER_EINVAL);
  assert_int_equal (mu_endpoint_parse ("tcp://h:0", MU_EP_ANY_PORT, &ep, err, sizeof err), 0);
  assert_int_equal (mu_endpoint_parse ("tcp://*:*", MU_EP_ANY_PORT, &ep, err, sizeof err), 0);
  assert_string_equal (ep.host, "*");
  assert_string_equal (ep.port, "*");
  assert_int_equal (mu_endpoint_parse ("h:65536", MU_EP_ANY_PORT, &ep, err, sizeof err),
                    MUSTER_EINVAL);
  assert_int_equal (mu_endpoint_parse ("h:12x", 0, &ep, err, sizeof err), MUSTER_EINVAL);
  assert_int_equal (mu_endpoint_parse ("h:", 0, &ep, err, sizeof err), MUSTER_EINVAL);
}

static void
test_parse_errors_name_it (void **state)
{
  (void)state;
  mu_endpoint_t ep;
  char err[256];
  static const char *const bad[]
      = { "", "node0", ":29400", "tcp://", "udp://h:1", "::1:29400",
          "[::1]29400", "[::1", "a b:1", "tcp://h/x:1", NULL };
  for (int i = 0; bad[i]; i++)
    {
      err[0] = '\0';
      assert_int_equal (mu_endpoint_parse (bad[i], 0, &ep, err, sizeof err),
                        MUSTER_EINVAL);
      assert_non_null (strstr (err, "expected HOST:PORT or tcp://HOST:PORT"));
      char quoted[64];
      snprintf (quoted, sizeof quoted, "'%s'", bad[i]);
      assert_non_null (strstr (err, quoted));
    }
  assert_int_equal (mu_endpoint_parse ("::1:29400", 0, &ep, err, sizeof err),
                    MUSTER_EINVAL);
  assert_non_null (strstr (err, "brackets"));
}

static void
test_other_transports (void **state)
{
  (void)state;
  mu_endpoint_t ep;
  char err[256], out[300];
  assert_int_equal (mu_endpoint_parse ("ipc:///tmp/x", 0, &ep, err, sizeof err),
                    MUSTER_EINVAL);
  assert_int_equal (mu_endpoint_parse ("ipc:///tmp/x", MU_EP_OTHER_TRANSPORT, &ep,
                                       err, sizeof err), 0);
  mu_bind_scope_t scope;
  assert_int_equal (mu_netaddr_bind (&ep, out, sizeof out, &scope, err, sizeof err), 0);
  assert_string_equal (out, "ipc:///tmp/x");
  assert_int_equal (scope, MU_BIND_OTHER);
}

static int
local4 (const char *a)
{
  struct sockaddr_in sin;
  memset (&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  assert_int_equal (inet_pton (AF_INET, a, &sin.sin_addr), 1);
  return mu_netaddr_is_local ((struct sockaddr *)&sin);
}

/* Whether the kernel lets us bind `a` (the ground truth is_local models). */
static int
bindable4 (const char *a)
{
  int s = socket (AF_INET, SOCK_STREAM, 0);
  assert_true (s >= 0);
  struct sockaddr_in sin;
  memset (&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  inet_pton (AF_INET, a, &sin.sin_addr);
  int ok = bind (s, (struct sockaddr *)&sin, sizeof sin) == 0;
  close (s);
  return ok;
}

static void
test_is_local (void **state)
{
  (void)state;
  assert_int_equal (local4 ("127.0.0.1"), 1);
  /* Linux routes 127/8 to lo (127.0.0.1/8), and binding 127.0.0.2 works:
   * is_local says so too, deliberately (netaddr.h). */
  assert_int_equal (local4 ("127.0.0.2"), bindable4 ("127.0.0.2"));
  assert_int_equal (local4 ("127.0.0.2"), 1);
  /* TEST-NET addresses are never assigned, except on a test network: the
   * expectation follows what the kernel says about this machine. */
  assert_int_equal (local4 ("192.0.2.1"), bindable4 ("192.0.2.1"));
  assert_int_equal (local4 ("198.51.100.77"), 0);
  char here[512];
  assert_int_equal (mu_netaddr_list_local (here, sizeof here), 0);
  assert_non_null (strstr (here, "127.0.0.1"));
}

static void
test_bind (void **state)
{
  (void)state;
  mu_endpoint_t ep;
  mu_bind_scope_t scope;
  char err[1024], out[300];
  assert_int_equal (mu_endpoint_parse ("127.0.0.1:29400", 0, &ep, err, sizeof err), 0);
  assert_int_equal (mu_netaddr_bind (&ep, out, sizeof out, &scope, err, sizeof err), 0);
  assert_string_equal (out, "tcp://127.0.0.1:29400");
  assert_int_equal (scope, MU_BIND_LOOPBACK);

  assert_int_equal (mu_endpoint_parse ("localhost:5", 0, &ep, err, sizeof err), 0);
  assert_int_equal (mu_netaddr_bind (&ep, out, sizeof out, &scope, err, sizeof err), 0);
  assert_int_equal (scope, MU_BIND_LOOPBACK);

  assert_int_equal (mu_endpoint_parse ("tcp://*:0", MU_EP_ANY_PORT, &ep, err, sizeof err), 0);
  assert_int_equal (mu_netaddr_bind (&ep, out, sizeof out, &scope, err, sizeof err), 0);
  assert_string_equal (out, "tcp://0.0.0.0:0");
  assert_int_equal (scope, MU_BIND_ALL);

  assert_int_equal (mu_endpoint_parse ("[::]:7", 0, &ep, err, sizeof err), 0);
  assert_int_equal (mu_netaddr_bind (&ep, out, sizeof out, &scope, err, sizeof err), 0);
  assert_string_equal (out, "tcp://[::]:7");
  assert_int_equal (scope, MU_BIND_ALL);

  assert_int_equal (mu_endpoint_parse ("198.51.100.77:29400", 0, &ep, err, sizeof err), 0);
  assert_int_equal (mu_netaddr_bind (&ep, out, sizeof out, &scope, err, sizeof err),
                    -EADDRNOTAVAIL);
  assert_non_null (strstr (err, "198.51.100.77 is not an address of this machine"));
  assert_non_null (strstr (err, "127.0.0.1"));
  assert_non_null (strstr (err, "0.0.0.0 to listen on all"));
  assert_null (strchr (err, '\n'));

  assert_int_equal (mu_endpoint_parse ("no-such-host.invalid:1", 0, &ep, err, sizeof err), 0);
  assert_int_equal (mu_netaddr_bind (&ep, out, sizeof out, &scope, err, sizeof err),
                    MUSTER_ENOTFOUND);
  assert_non_null (strstr (err, "no-such-host.invalid"));
}

static void
test_endpoint_scope (void **state)
{
  (void)state;
  assert_int_equal (mu_netaddr_endpoint_scope ("tcp://127.0.0.1:5"), MU_BIND_LOOPBACK);
  assert_int_equal (mu_netaddr_endpoint_scope ("tcp://[::1]:5"), MU_BIND_LOOPBACK);
  assert_int_equal (mu_netaddr_endpoint_scope ("tcp://0.0.0.0:5"), MU_BIND_ALL);
  assert_int_equal (mu_netaddr_endpoint_scope ("tcp://[::]:5"), MU_BIND_ALL);
  assert_int_equal (mu_netaddr_endpoint_scope ("tcp://10.1.2.3:5"), MU_BIND_ADDRESS);
  assert_int_equal (mu_netaddr_endpoint_scope ("ipc:///x"), MU_BIND_OTHER);
  assert_string_equal (mu_bind_scope_text (MU_BIND_LOOPBACK), "(loopback only)");
  assert_string_equal (mu_bind_scope_text (MU_BIND_ALL), "(all interfaces)");
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_parse_forms),
    cmocka_unit_test (test_parse_ports),
    cmocka_unit_test (test_parse_errors_name_it),
    cmocka_unit_test (test_other_transports),
    cmocka_unit_test (test_is_local),
    cmocka_unit_test (test_bind),
    cmocka_unit_test (test_endpoint_scope),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
