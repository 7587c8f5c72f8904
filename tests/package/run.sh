#!/bin/bash
# Installs the rill built in $1 into a temporary prefix, then builds and runs
# the outside program in $2 (this directory) twice: with CMake's
# find_package(rill), and with a plain compiler line from `pkg-config rill`.
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d /tmp/rill-package-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/include/rill/rill.h"
test ! -e "$work/prefix/include/core"  # internal headers stay out

cmake -S "$src" -B "$work/cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/cmake" > "$work/build.log"
"$work/cmake/outside"

pc=$(dirname "$(find "$work/prefix" -name rill.pc | head -1)")
export PKG_CONFIG_PATH=$pc
# shellcheck disable=SC2046
c++ -std=c++20 -O2 "$src/main.cc" -o "$work/outside-pc" $(pkg-config --cflags --libs rill)
"$work/outside-pc"
echo "package: find_package(rill) and pkg-config rill $(pkg-config --modversion rill) both build and run"
