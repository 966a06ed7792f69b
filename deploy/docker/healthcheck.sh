#!/bin/sh
# Docker HEALTHCHECK of the Stockwire image: GET /healthz of the program running as PID 1, on its ops port
# (ingest STOCKWIRE_INGEST_PORT or 8080, calculator STOCKWIRE_CALCULATOR_OPS_PORT or 9102, exporter
# STOCKWIRE_EXPORTER_OPS_PORT or 9103, shopify-sim /_control/health on STOCKWIRE_SIM_PORT or 8081).
# STOCKWIRE_HEALTH_URL overrides the URL. A one-shot command (calculator migrate, dead-letters) counts as healthy.
set -eu
url="${STOCKWIRE_HEALTH_URL:-}"
if [ -z "$url" ]; then
  program="$(tr '\0' '\n' </proc/1/cmdline | head -n 1)"
  subcommand="$(tr '\0' '\n' </proc/1/cmdline | sed -n 2p)"
  case "${program##*/}" in
    ingest) url="http://127.0.0.1:${STOCKWIRE_INGEST_PORT:-8080}/healthz" ;;
    calculator)
      [ "$subcommand" = run ] || exit 0
      url="http://127.0.0.1:${STOCKWIRE_CALCULATOR_OPS_PORT:-9102}/healthz"
      ;;
    exporter)
      case "$subcommand" in run | "" | --*) ;; *) exit 0 ;; esac
      url="http://127.0.0.1:${STOCKWIRE_EXPORTER_OPS_PORT:-9103}/healthz"
      ;;
    shopify-sim) url="http://127.0.0.1:${STOCKWIRE_SIM_PORT:-8081}/_control/health" ;;
    *) exit 0 ;;
  esac
fi
exec curl --fail --silent --show-error --max-time 2 --output /dev/null "$url"
