#!/usr/bin/env bash
# The project's test command:  deploy/local/test.sh [extra `swift test` args, e.g. --filter X]
#
# Starts the local RabbitMQ and PostgreSQL (deploy/local/servers.sh start) while `swift build
# --build-tests` runs, then runs `swift test --skip-build` against them with
#   STOCKWIRE_TEST_AMQP_URL   amqp://guest:guest@127.0.0.1:5672/
#   STOCKWIRE_TEST_POSTGRES   host=127.0.0.1 port=5432 user=stockwire password=stockwire dbname=stockwire
#   STOCKWIRE_RABBITMQCTL     absolute path of deploy/local/rabbitmqctl.sh
#   STOCKWIRE_TEST_RELEASE_BUILD  .build/release, in a full run (no arguments) only: the crash faults at a
#                             merchant's size run release builds of the services, made here
# A full run ends with the cluster faults (ClusterFaultTests, STOCKWIRE_TEST_CLUSTER=1): the single PostgreSQL
# stops (the pair takes its port), the cluster and the pair stop afterwards.
# On exit (success, failure, Ctrl-C) it stops only the servers it started itself; servers that
# were already running before are left running. Exit code: that of `swift test` (or of the build).
set -euo pipefail
SW_COMPONENT="test"
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help) sw_usage "${BASH_SOURCE[0]}"; exit 0 ;;
esac

sw_prepare_build

# What runs before we start anything: 0 = ours, 1 = someone else's, 3 = stopped.
server_state() {
  local rc=0
  "$SW_LIB_DIR/$1.sh" status >/dev/null 2>&1 || rc=$?
  echo "$rc"
}
declare -A pre_state=([rabbitmq]="$(server_state rabbitmq)" [postgres]="$(server_state postgres)")

servers_pid=""
# shellcheck disable=SC2329  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$servers_pid" ]]; then
    wait "$servers_pid" 2>/dev/null || true   # let a start in progress finish, then stop it cleanly
  fi
  local s
  for s in rabbitmq postgres; do
    if [[ "${pre_state[$s]}" == 3 && "$(server_state "$s")" == 0 ]]; then
      "$SW_LIB_DIR/$s.sh" stop || sw_warn "stopping $s failed"
    elif [[ "${pre_state[$s]}" != 3 ]]; then
      sw_log "leaving $s running (it was running before the tests)"
    fi
  done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$SW_LOCAL_DIR"
servers_log="$SW_LOCAL_DIR/test-servers.log"
sw_log "starting servers in the background (log: $servers_log) while building"
"$SW_LIB_DIR/servers.sh" start >"$servers_log" 2>&1 &
servers_pid=$!

sw_log "swift build --build-tests ($(swift --version 2>/dev/null | head -n1))"
build_rc=0
swift build --build-tests || build_rc=$?

# A full run (no arguments) also runs the crash faults at a merchant's size (4 shops, 500 SKUs, 400 events/s),
# which debug services cannot carry on two cores: build the executables those runs start in release mode.
if (($# == 0)) && ((build_rc == 0)); then
  sw_log "swift build -c release (the services for the fault runs at a merchant's size)"
  for product in ingest calculator exporter stockwire-scenario; do
    swift build -c release --product "$product" || { build_rc=$?; break; }
  done
  export STOCKWIRE_TEST_RELEASE_BUILD="$SW_REPO_ROOT/.build/release"
fi

servers_rc=0
wait "$servers_pid" || servers_rc=$?
servers_pid=""
cat "$servers_log" >&2
((build_rc == 0)) || { sw_log "ERROR: swift build --build-tests failed (exit $build_rc)"; exit "$build_rc"; }
((servers_rc == 0)) || sw_die "the servers did not start (see above and $servers_log)"

export STOCKWIRE_TEST_AMQP_URL="$SW_AMQP_URL"
export STOCKWIRE_TEST_POSTGRES="$SW_PG_CONNINFO"
export STOCKWIRE_RABBITMQCTL="$SW_LIB_DIR/rabbitmqctl.sh"
sw_log "swift test --skip-build $* (AMQP $STOCKWIRE_TEST_AMQP_URL, Postgres port $SW_PG_PORT)"
test_rc=0
if (($# > 0)); then
  swift test --skip-build "$@" || test_rc=$?
else
  # Two phases: everything in parallel, then on their own the suites that restart or block the shared
  # broker (named *DisruptiveTests) and the end-to-end runs, which measure latency and need a quiet machine.
  swift test --skip-build --skip 'DisruptiveTests|EndToEndTests' || test_rc=$?
  sw_log "disruptive and end-to-end suites, one at a time"
  swift test --skip-build --no-parallel --filter 'DisruptiveTests|EndToEndTests' --skip 'ClusterFaultTests' || test_rc=$?
  # Last: the cluster (three RabbitMQ nodes, a PostgreSQL primary and standby). The pair takes the single
  # PostgreSQL's port, so that one stops first; the cleanup below stops the cluster and the pair.
  sw_log "cluster suite: broker-node-kill and postgres-failover on the local cluster"
  "$SW_LIB_DIR/postgres.sh" stop || sw_warn "stopping the single PostgreSQL failed"
  STOCKWIRE_TEST_CLUSTER=1 swift test --skip-build --no-parallel --filter 'ClusterFaultTests' || test_rc=$?
  sw_log "stopping the cluster and the PostgreSQL pair"
  "$SW_LIB_DIR/rabbitmq-cluster.sh" stop || sw_warn "stopping the RabbitMQ cluster failed"
  "$SW_LIB_DIR/postgres-pair.sh" stop || sw_warn "stopping the PostgreSQL pair failed"
  if [[ "${pre_state[postgres]}" != 3 ]]; then
    "$SW_LIB_DIR/postgres.sh" start || sw_warn "starting the single PostgreSQL again failed"
  fi
fi
sw_log "swift test finished with exit code $test_rc"
exit "$test_rc"
