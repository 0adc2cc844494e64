#!/usr/bin/env bash
# Debian's qemu-user, for tests/common/test_emulated_cpus.py: the test suite runs the models,
# pycaffe and the oracle under an emulated AMD CPU and an AVX2-only Intel CPU. Installed with apt
# (root or sudo) where missing; a second run does nothing.
set -euo pipefail
command -v qemu-x86_64 >/dev/null && exit 0
"$(dirname "$(readlink -f "$0")")/apt_install.sh" qemu-user || {
  echo "       or run the tests without the emulated CPUs: make test SKIP_EMULATION=1" >&2
  exit 1; }
