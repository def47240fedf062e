#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
# the browser tests drive Debian's Chromium through Playwright (never `playwright install`); the shared-state
# tests start their own redis-server (Debian's) on a free port
MISSING=""
[ -x /usr/bin/chromium ] || MISSING="$MISSING chromium"
[ -x /usr/bin/redis-server ] || MISSING="$MISSING redis-server"
[ -x /usr/sbin/nginx ] || MISSING="$MISSING nginx"  # the class-deployment test puts deploy/nginx.conf in front
if [ -n "$MISSING" ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update
    # shellcheck disable=SC2086  # one word per package
    $SUDO apt-get install -y $MISSING
fi
python3 -m pip install --quiet --disable-pip-version-check -e '.[test]'
python3 -m pytest "$@"
