#!/usr/bin/env bash
# Makes the pinned Faktory server, redis-server and openssl available for tests and the demo.
# Idempotent and quick when everything is already there. The pinned version lives in
# FAKTORY_VERSION at the repository root, and only there.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(tr -d '[:space:]' < "$root/FAKTORY_VERSION")"
say() { printf 'install-faktory: %s\n' "$*" >&2; }

# shellcheck source=lib/apt.sh
. "$root/scripts/lib/apt.sh"

command -v redis-server >/dev/null 2>&1 || { say "installing redis-server"; apt_install redis-server; }
command -v openssl >/dev/null 2>&1 || { say "installing openssl"; apt_install openssl; }

# grep reads all of the output (no -q): stopping at the version line could kill the binary
# with SIGPIPE while it still prints its copyright, and pipefail would read that as a failure.
has_version() { [ -x "$1" ] && "$1" -v 2>&1 | grep -x "Faktory $version" >/dev/null; }

gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
for candidate in "${FAKTORY_BIN:-}" "$(command -v faktory 2>/dev/null || true)" "$gobin/faktory"; do
  if [ -n "$candidate" ] && has_version "$candidate"; then
    exit 0
  fi
done

if ! command -v go >/dev/null 2>&1; then
  say "Go is needed to install Faktory $version (https://go.dev/dl), or set FAKTORY_BIN"
  exit 1
fi

module="github.com/contribsys/faktory"
say "installing Faktory $version from the Go module proxy"
if ! go install "$module/cmd/faktory@v$version" 2>/tmp/install-faktory.log; then
  # `go install pkg@version` also reads the module's version list for deprecation notices;
  # where the proxy refuses that list but serves the release itself, building inside a
  # throwaway module that requires the release gives the same binary.
  say "go install failed ($(tail -n 1 /tmp/install-faktory.log)); building in a temporary module"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    go mod init faktory-build >/dev/null 2>&1
    printf '//go:build tools\npackage tools\nimport _ "%s/cmd/faktory"\n' "$module" > tools.go
    go get "$module@v$version" >/dev/null 2>&1
    go mod tidy >/dev/null 2>&1
    mkdir -p "$gobin"
    CGO_ENABLED=0 go build -o "$gobin/faktory" "$module/cmd/faktory"
  )
fi

if has_version "$gobin/faktory"; then
  say "installed Faktory $version at $gobin/faktory"
else
  say "Faktory $version could not be installed"
  exit 1
fi
