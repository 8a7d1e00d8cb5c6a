#!/usr/bin/env bash
# Make sure the servers and browsers the FinOps tests run for real are installed:
# Prometheus (with promtool) for the monitor's integration test and the alert-rule check,
# Chromium and ChromeDriver for the dashboard's browser test. Installs the Debian
# packages when run as root; otherwise says what to do (those tests then skip, saying why).
set -euo pipefail

missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "Prometheus, promtool, Chromium and ChromeDriver are installed"
  exit 0
fi
# One package may be missing twice (prometheus for both binaries).
packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')

if [[ "$(id -u)" -ne 0 ]]; then
  echo "missing: ${packages}; install them (sudo apt-get install ${packages}) or rerun this script as root"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "missing: ${packages}; no apt-get here: install them with the system's package manager"
  exit 0
fi
echo "installing ${packages}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # the package list is meant to split
apt-get install -y -qq --no-install-recommends ${packages} >/dev/null
# The Debian package starts a Prometheus service where an init system runs; the tests start
# their own on a free port.
command -v prometheus promtool chromium chromedriver
