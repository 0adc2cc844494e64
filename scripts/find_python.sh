#!/usr/bin/env bash
# Print the path of a working Python X.Y interpreter (exit 1 if none): pythonX.Y on PATH,
# then pyenv's versions. A pyenv shim that is not the selected version fails the check.
#   scripts/find_python.sh 3.7
set -u
want=${1:?usage: find_python.sh X.Y}
for candidate in "python$want" "$HOME"/.pyenv/versions/"$want".*/bin/python"$want" \
                 /usr/bin/python"$want" /usr/local/bin/python"$want"; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if "$path" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" \
      >/dev/null 2>&1; then
    echo "$path"
    exit 0
  fi
done
exit 1
