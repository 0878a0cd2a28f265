#!/usr/bin/env bash
# Install what hotspotd needs on a Debian machine: the Debian packages that are
# missing (apt-get, as root or through sudo) and the Python package with its
# dependencies in .venv/. With --test, also what the test suite needs.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=no
[ "${1:-}" = "--test" ] && want_tests=yes

sudo_cmd=()
[ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have redis-server || need+=(redis-server)
have freeradius || need+=(freeradius)
have radclient || need+=(freeradius-utils)
python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need+=(python3-venv)
if [ "$want_tests" = yes ]; then
    have chromium || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq \
        --no-install-recommends "${need[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
extras=""
[ "$want_tests" = yes ] && extras="[dev]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras}"
