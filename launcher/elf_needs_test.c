/*
 * elf_needs_test.c — DT_NEEDED lookups on real files: this test program
 * itself (links cmocka, not libmuster), a shell script, a missing file,
 * and truncated copies of an ELF file (never a crash).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <muster/error.h>

#include "launcher/elf_needs.h"

static void
test_self (void **state)
{
  (void)state;
  assert_int_equal (mu_elf_needs ("/proc/self/exe", "libcmocka.so"), 1);
  assert_int_equal (mu_elf_needs ("/proc/self/exe", "libmuster.so"), 0);
}

static void
test_not_elf (void **state)
{
  (void)state;
  char path[] = "/tmp/elf_needs_XXXXXX";
  int fd = mkstemp (path);
  assert_true (fd >= 0);
  assert_int_equal (write (fd, "#!/bin/sh\necho hi\n", 18), 18);
  close (fd);
  assert_int_equal (mu_elf_needs (path, "libmuster.so"), MUSTER_EINVAL);
  unlink (path);
  assert_int_equal (mu_elf_needs ("/nonexistent/prog", "x"), -ENOENT);
}

static void
test_truncated (void **state)
{
  (void)state;
  FILE *f = fopen ("/proc/self/exe", "rb");
  assert_non_null (f);
  static unsigned char buf[1 << 20];
  size_t n = fread (buf, 1, sizeof buf, f);
  fclose (f);
  char path[] = "/tmp/elf_trunc_XXXXXX";
  int fd = mkstemp (path);
  assert_true (fd >= 0);
  close (fd);
  size_t cuts[] = { 1, 4, 16, 63, 64, 65, 200, 1000, 4096, n / 2, n - 1 };
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
    {
      if (cuts[i] >= n)
        continue;
      f = fopen (path, "wb");
      fwrite (buf, 1, cuts[i], f);
      fclose (f);
      int rc = mu_elf_needs (path, "libcmocka.so");
      assert_true (rc == MUSTER_EINVAL || rc == 0 || rc == 1);
    }
  unlink (path);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_self),
    cmocka_unit_test (test_not_elf),
    cmocka_unit_test (test_truncated),
  };
  return cmocka_run_group_tests (tests, NULL, NULL);
}
