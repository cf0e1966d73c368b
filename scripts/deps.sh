#!/bin/sh
# Check (and, as root, install) the Debian packages ntkit needs.
#   deps.sh check-build   stop with the apt-get line if a build dependency is missing
#   deps.sh install       install what is missing when root, else print the line
set -u
mode=${1:-install}
build_pkgs="pkg-config libopenblas-dev liblapacke-dev libcjson-dev libgsl-dev libsleef-dev"
run_pkgs="python3-numpy python3-matplotlib"

missing=""
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
have_pc openblas || missing="$missing libopenblas-dev"
have_pc lapacke || missing="$missing liblapacke-dev"
have_pc libcjson || missing="$missing libcjson-dev"
have_pc gsl || missing="$missing libgsl-dev"
have_pc sleef || missing="$missing libsleef-dev"
if [ "$mode" = install ]; then
    /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || missing="$missing python3-numpy"
    /usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1 || missing="$missing python3-matplotlib"
fi
[ -z "$missing" ] && exit 0

line="apt-get install -y$missing"
if [ "$mode" = install ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ntkit: installing missing packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
        echo "ntkit: installing failed; run as root: apt-get update && $line" >&2
        exit 1
    }
    exit 0
fi
echo "ntkit: missing packages:$missing" >&2
echo "ntkit: run as root: apt-get update && $line" >&2
exit 1
