#!/usr/bin/env bash
# Saves a PNG of each console page into docs/console/ (README.md shows
# them): runs the console's browser tests (tests/server/console_itest.cc:
# `sluice run` with auth: and audit: between real MariaDB servers;
# tests/cluster/manager_console_itest.cc: a manager on a real ZooKeeper)
# with SLUICE_CONSOLE_SCREENSHOTS set.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
bash scripts/install-deps.sh
cmake --build "$build" -j 2 --target sluice integration_tests
mkdir -p docs/console
SLUICE_CONSOLE_SCREENSHOTS="$PWD/docs/console" "$build/tests/integration_tests" --gtest_filter='ConsoleTest.*:ManagerConsoleTest.*'
ls -l docs/console
