#!/usr/bin/env bash
# Makes a Python 3 with the `jsonschema` package available for the cross-language contract test
# (packages/node/test/ContractsPython.test.ts runs docs/contracts.md's Python producer): the system's
# python3 when it has jsonschema, else a virtual environment in node_modules/.cache. Idempotent,
# and quick when everything is already there. `bash scripts/install-python.sh --print` prints
# the interpreter to use.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/node_modules/.cache/effect-faktory-python"
say() { printf 'install-python: %s\n' "$*" >&2; }

# shellcheck source=lib/apt.sh
. "$root/scripts/lib/apt.sh"

has_jsonschema() { [ -x "$1" ] && "$1" -c 'import jsonschema' >/dev/null 2>&1; }

found() {
  [ "${1:-}" = "--print" ] && printf '%s\n' "$2"
  exit 0
}

has_jsonschema "$venv/bin/python" && found "${1:-}" "$venv/bin/python"
system="$(command -v python3 2>/dev/null || true)"
[ -n "$system" ] && has_jsonschema "$system" && found "${1:-}" "$system"

if [ -z "$system" ]; then
  say "installing python3"
  apt_install python3 python3-venv
  system="$(command -v python3)"
fi

make_venv() { rm -rf "$venv" && "$system" -m venv "$venv" >/dev/null 2>&1 && [ -x "$venv/bin/python" ]; }

say "installing jsonschema in $venv"
# Debian and Ubuntu ship venv apart from python3.
if make_venv || { apt_install python3-venv && make_venv; }; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'jsonschema>=4.18,<5'
  has_jsonschema "$venv/bin/python" && found "${1:-}" "$venv/bin/python"
else
  rm -rf "$venv"
  say "no virtual environment; installing jsonschema for this user"
  "$system" -m pip install --quiet --disable-pip-version-check --user 'jsonschema>=4.18,<5'
  has_jsonschema "$system" && found "${1:-}" "$system"
fi
say "jsonschema could not be installed"
exit 1
