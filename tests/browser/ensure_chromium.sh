#!/usr/bin/env bash
# The browser tests drive the Debian `chromium` package (Playwright never downloads a browser).
# Called by `make test`: nothing to do if it is there; as root with apt-get, install it;
# otherwise stop and say what to install.
set -euo pipefail
CHROMIUM="${MOTCUA_CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing the Debian package chromium for the browser tests…"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq chromium >/dev/null; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
  [ -x "$CHROMIUM" ] && exit 0
fi
echo "The browser tests need Chromium at $CHROMIUM. Install the Debian package: sudo apt-get install chromium" >&2
echo "(or point MOTCUA_CHROMIUM at a Chromium binary)." >&2
exit 1
