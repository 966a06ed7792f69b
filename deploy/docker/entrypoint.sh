#!/bin/sh
# Entrypoint of the Stockwire image: the first argument chooses the program.
#   ingest [flags]                 webhooks + stock movements in (port 8080)
#   calculator run|migrate|stock|warehouse …
#   exporter run|dead-letters …
#   shopify-sim serve …            the Shopify simulator (demo and dev only)
#   healthcheck                    GET /healthz of the service running in this container
# Anything else is executed as given (e.g. `sh`).
#
# STOCKWIRE_PGPASS_SOURCE=<file>: a libpq password file (host:port:db:user:password) that is mounted with group or
# world read access (Kubernetes secrets with fsGroup, compose secrets): libpq ignores such a file, so it is copied
# to a private 0600 file under $TMPDIR and PGPASSFILE points to it. STOCKWIRE_POSTGRES then carries no password.
set -eu

if [ -n "${STOCKWIRE_PGPASS_SOURCE:-}" ]; then
  if [ ! -r "$STOCKWIRE_PGPASS_SOURCE" ]; then
    echo "stockwire-entrypoint: STOCKWIRE_PGPASS_SOURCE=$STOCKWIRE_PGPASS_SOURCE is missing or not readable" >&2
    exit 78
  fi
  dir="$(mktemp -d "${TMPDIR:-/tmp}/stockwire-pg.XXXXXX")"
  (umask 077 && cat "$STOCKWIRE_PGPASS_SOURCE" >"$dir/pgpass")
  export PGPASSFILE="$dir/pgpass"
fi

case "${1:-}" in
  ingest | calculator | exporter | shopify-sim)
    program="$1"
    shift
    exec "/usr/local/bin/$program" "$@"
    ;;
  healthcheck)
    shift
    exec /usr/local/bin/stockwire-healthcheck "$@"
    ;;
  "" | -h | --help)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    exec "$@"
    ;;
esac
