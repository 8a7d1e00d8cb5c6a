#!/usr/bin/env bash
# Make sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) are installed,
# so the tests marked `postgres` run against a real server instead of being skipped.
# Installs the Debian/Ubuntu package when run as root; otherwise only says what to do.
set -euo pipefail

# Print the path of initdb from PATH or Debian's /usr/lib/postgresql/<major>/bin.
find_initdb() {
  if command -v initdb >/dev/null 2>&1; then
    command -v initdb
    return 0
  fi
  local candidate
  # Newest major version first, as the test fixture picks it.
  for candidate in $(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -t/ -k5 -rn); do
    if [[ -x "$candidate" ]]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if found=$(find_initdb); then
  echo "PostgreSQL is installed: $found"
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "PostgreSQL is not installed; install it (sudo apt-get install postgresql, or brew install postgresql) or rerun this script as root"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL is not installed and apt-get is missing; install the PostgreSQL server with this system's package manager"
  exit 0
fi

echo "Installing PostgreSQL with apt-get ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null

if found=$(find_initdb); then
  echo "PostgreSQL is installed: $found"
else
  echo "apt-get installed postgresql but initdb is still not found; look in /usr/lib/postgresql" >&2
  exit 1
fi
