#!/usr/bin/env bash
# Install those of the named apt packages that are missing (root or sudo; the package lists
# updated first, as a fresh container has none). A second run does nothing.
#   scripts/apt_install.sh gcc python3.11-venv
set -u
missing=$(for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"; done)
[ -z "$missing" ] && exit 0
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
echo "==> installing apt packages: $(echo $missing)"
{ $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null; } || {
  echo "error: apt-get could not install $(echo $missing): install them by hand" >&2; exit 1; }
