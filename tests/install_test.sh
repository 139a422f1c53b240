#!/bin/sh
# install_test.sh — libmuster is linkable by any build system.
#
# Installs the build into a temporary prefix (cmake --install BUILD
# --prefix T) and, against that prefix alone, builds a C program and a C++
# program that use <muster/worker.h>, each two ways:
#   * pkg-config (muster.pc, found through PKG_CONFIG_PATH), and
#   * a tiny CMake project doing find_package(muster) and linking
#     muster::muster (whose include directory comes with the target);
# then runs all four: each prints muster_strerror() of a code and the
# error a worker gets outside muster (MUSTER_ENOENV), and must say exactly
# that.  Last, the installed Python package imports from the prefix and
# loads the prefix's libmuster.
#
# Usage: install_test.sh BUILD_DIR [C_COMPILER CXX_COMPILER]
# With MUSTER_SANITIZED=1 (an ASan/UBSan build) the programs are built
# with the sanitizers too, as libmuster carries their runtime.
set -eu
BUILD=$(cd "$1" && pwd)
CC=${2:-cc}
CXX=${3:-c++}
T=$(mktemp -d "${TMPDIR:-/tmp}/muster-install-XXXXXX")
trap 'rm -rf "$T"' EXIT INT TERM
P=$T/prefix
SAN=
if [ "${MUSTER_SANITIZED:-0}" = 1 ] || [ "${MUSTER_SANITIZED:-}" = ON ]; then
  SAN=-fsanitize=address,undefined
fi

fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== cmake --install $BUILD --prefix $P"
cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1 \
  || { cat "$T/install.log"; fail "cmake --install"; }

mkdir "$T/src"
cat >"$T/src/use_muster.c" <<'C'
/* Uses libmuster's public API only: a code's text, and a worker opened
 * outside muster, which must fail cleanly with MUSTER_ENOENV. */
#include <stdio.h>
#include <muster/worker.h>

int
main (void)
{
  muster_worker_t *w = NULL;
  int rc = muster_worker_init (&w, NULL);
  printf ("%s | %s | %s\n", muster_strerror (MUSTER_ETIMEDOUT),
          muster_err_name (rc), w == NULL ? "no handle" : "handle?!");
  muster_worker_finalize (&w);
  return rc == MUSTER_ENOENV ? 0 : 1;
}
C
cat >"$T/src/use_muster.cpp" <<'CPP'
// The same from C++: the header is usable as is (extern "C").
#include <cstdio>
#include <string>
#include <muster/worker.h>

int
main ()
{
  muster_worker_t *w = nullptr;
  int rc = muster_worker_init (&w, nullptr);
  std::string text = muster_strerror (MUSTER_ETIMEDOUT);
  std::printf ("%s | %s | %s\n", text.c_str (), muster_err_name (rc),
               w == nullptr ? "no handle" : "handle?!");
  muster_worker_finalize (&w);
  return rc == MUSTER_ENOENV ? 0 : 1;
}
CPP
cat >"$T/src/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(use_muster C CXX)
find_package(muster 0.1 REQUIRED)
add_executable(use_muster_c use_muster.c)
target_link_libraries(use_muster_c PRIVATE muster::muster)
add_executable(use_muster_cxx use_muster.cpp)
target_link_libraries(use_muster_cxx PRIVATE muster::muster)
CM

WANT="operation timed out | MUSTER_ENOENV | no handle"
check_run() { # NAME PROGRAM
  out=$(env -u MUSTER_AGENT_ENDPOINT -u MUSTER_JOB_ID -u RANK -u MUSTER_RANK \
        -u MUSTER_EPOCH "$2") || fail "$1 exited $?: $out"
  [ "$out" = "$WANT" ] || fail "$1 printed '$out', want '$WANT'"
  echo "ok: $1: $out"
}

echo "== pkg-config"
export PKG_CONFIG_PATH="$P/lib/pkgconfig:$P/lib64/pkgconfig:$P/share/pkgconfig"
FLAGS=$(pkg-config --cflags --libs muster) || fail "pkg-config does not know muster"
LIBDIR=$(pkg-config --variable=libdir muster)
echo "pkg-config --cflags --libs muster: $FLAGS"
case "$LIBDIR" in "$P"/*) ;; *) fail "muster.pc's libdir $LIBDIR is not in $P" ;; esac
# shellcheck disable=SC2086
$CC $SAN -Wall -Werror -o "$T/c_pc" "$T/src/use_muster.c" $FLAGS -Wl,-rpath,"$LIBDIR" \
  || fail "C program against pkg-config"
# shellcheck disable=SC2086
$CXX $SAN -Wall -Werror -o "$T/cxx_pc" "$T/src/use_muster.cpp" $FLAGS -Wl,-rpath,"$LIBDIR" \
  || fail "C++ program against pkg-config"
check_run "C (pkg-config)" "$T/c_pc"
check_run "C++ (pkg-config)" "$T/cxx_pc"

echo "== find_package(muster)"
cmake -S "$T/src" -B "$T/cm" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_C_FLAGS="$SAN" -DCMAKE_CXX_FLAGS="$SAN" \
  >"$T/cm.log" 2>&1 || { cat "$T/cm.log"; fail "configuring with find_package(muster)"; }
cmake --build "$T/cm" >"$T/cmb.log" 2>&1 || { cat "$T/cmb.log"; fail "building against muster::muster"; }
grep -q "muster_DIR:PATH=$P/" "$T/cm/CMakeCache.txt" || fail "find_package found a muster outside $P"
check_run "C (find_package)" "$T/cm/use_muster_c"
check_run "C++ (find_package)" "$T/cm/use_muster_cxx"

echo "== the Python package"
INIT=$(find "$P" -path '*/dist-packages/muster/__init__.py' | head -n 1)
[ -n "$INIT" ] || fail "no muster Python package under $P"
SITE=$(dirname "$(dirname "$INIT")")
PRE=
if [ -n "$SAN" ]; then # python has no sanitizer runtime: preload it first
  PRE="LD_PRELOAD=$($CC -print-file-name=libasan.so):$($CC -print-file-name=libubsan.so) ASAN_OPTIONS=detect_leaks=0"
fi
# shellcheck disable=SC2086
out=$(env -u MUSTER_LIBRARY $PRE PYTHONPATH="$SITE" PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -c \
  'import muster, muster._lib as l; print(l.lib()._name, muster.strerror(-10008))') \
  || fail "import muster from $SITE: $out"
case "$out" in
  "$P"/*"libmuster.so.0 operation timed out") echo "ok: python: $out" ;;
  *) fail "python loaded '$out', want the prefix's libmuster" ;;
esac
echo "PASS"
