#!/usr/bin/env bash
# System libraries the Python packages of `make` need and pip cannot install.
#
# LightGBM's wheel (extra `ml`) links the GNU OpenMP runtime, libgomp.so.1, which a slim
# Debian or Ubuntu image may lack: `import lightgbm` then fails with "libgomp.so.1: cannot
# open shared object file". Installed with apt-get when missing and we are root; otherwise
# the command to run is printed and the set-up goes on (everything but stratopt.ml works).
set -euo pipefail

has_gomp() {
    ldconfig -p 2>/dev/null | grep -q 'libgomp\.so\.1' && return 0
    for dir in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /lib; do
        [ -e "$dir/libgomp.so.1" ] && return 0
    done
    return 1
}

if [ "$(uname -s)" != "Linux" ] || has_gomp; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the OpenMP runtime (libgomp1) for LightGBM"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends libgomp1 >/dev/null
    has_gomp || { echo "libgomp1 was installed but libgomp.so.1 is still not found" >&2; exit 1; }
else
    echo "warning: libgomp.so.1 (OpenMP) is missing; stratopt.ml needs it:" \
         "sudo apt-get install libgomp1" >&2
fi
