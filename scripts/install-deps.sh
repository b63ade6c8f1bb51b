#!/usr/bin/env bash
# Installs every Debian package sluice needs to build, test, benchmark and demo.
# Idempotent: does nothing (and needs no network) when all packages are present.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build make pkg-config ccache
  # libraries
  libmariadb-dev libzstd-dev zlib1g-dev libssl-dev
  # binlog event CRC32s: libdeflate's is carry-less-multiply fast (5x zlib's on 200-byte events)
  libdeflate-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libyaml-cpp-dev libsqlite3-dev libcpp-httplib-dev
  # access control: argon2id password hashes, SHA-256 audit chain
  libsodium-dev
  # transform: {lua: FILE} table rules (Lua 5.4, sandboxed per pipeline thread)
  liblua5.4-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # jemalloc: the sluice binary's malloc (CMake option SLUICE_JEMALLOC)
  libjemalloc-dev
  # target clients: PostgreSQL (libpq), Kafka (librdkafka, with its mock cluster), Redis (hiredis)
  libpq-dev librdkafka-dev libhiredis-dev
  # servers and reference tools used by tests, benchmarks and the demo
  mariadb-server mariadb-client mariadb-backup percona-toolkit
  procps openssl curl python3 time
  # target servers the tests start privately; kcat is the Kafka benchmarks' reference producer
  postgresql-15 postgresql-client-15 clickhouse-server clickhouse-client redis-server kcat
  # promtool (tests lint the /metrics page with `promtool check metrics`)
  prometheus
  # cluster mode: the ZooKeeper server (tests start private ensembles) and its C client
  zookeeper libzookeeper-mt-dev
  # the web console: node builds web/ (npm ci + esbuild, at build time); its
  # browser test drives Debian's headless Chromium
  nodejs chromium
)
# npm: Debian's package, unless the installed nodejs brings its own
# (NodeSource's does, and conflicts with Debian's npm).
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package starts a system-wide server; sluice's tests and demo run
# private servers of their own, so the system one is not needed.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now mariadb >/dev/null 2>&1 || true
fi
$SUDO service mariadb stop >/dev/null 2>&1 || true
# Likewise PostgreSQL, ClickHouse, Redis and ZooKeeper: tests start private servers.
for svc in postgresql clickhouse-server redis-server zookeeper; do
  if command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
# Likewise the Prometheus server: only its promtool is used.
if command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
$SUDO service prometheus stop >/dev/null 2>&1 || true
