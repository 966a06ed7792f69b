#!/usr/bin/env bash
# The project's "run the system" command:  deploy/local/demo.sh [extra stockwire-scenario product-drop options]
#
# On a fresh Debian 12 machine, as root: installs what is missing (RabbitMQ, PostgreSQL, the C libraries,
# matplotlib), builds the release binaries, then runs a short product drop: RabbitMQ and PostgreSQL on loopback,
# the three services (ingest, calculator, exporter) and two simulated Shopify shops; 500 units, 1,000 buyers in 10 s.
# Prints what a merchant would want to know (units sold, oversold, how fast a sale in one shop reached the
# other) and writes the report and its charts (Tools/charts/stockwire-chart) to .local/demo/. Stops everything
# it started, also on Ctrl-C.
# Options are passed to `stockwire-scenario product-drop` (see its --help), e.g. --shops 4 --plan standard.
set -euo pipefail
SW_COMPONENT="demo"
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help) sw_usage "${BASH_SOURCE[0]}"; exit 0 ;;
esac

sw_prepare_build

sw_log "building the release binaries (the first build takes several minutes)"
swift build -c release

mkdir -p "$SW_LOCAL_DIR/demo"
exec .build/release/stockwire-scenario product-drop \
  --shops 2 --units 500 --buyers 1000 --seconds 10 \
  --json "$SW_LOCAL_DIR/demo/product-drop.json" "$@"
