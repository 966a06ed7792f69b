#!/usr/bin/env bash
# Both local servers: RabbitMQ (deploy/local/rabbitmq.sh) and PostgreSQL (deploy/local/postgres.sh).
set -euo pipefail
SW_COMPONENT=servers
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") start|stop|restart|status|--help

  start    install missing Debian packages (servers and build libraries), then start RabbitMQ and
           PostgreSQL in parallel and wait for both. Already running servers are left as they are.
  stop     stop both (only what these scripts started).
  restart  stop, then start.
  status   print both; exit 0 only if both are usable (ours or someone else's).

See deploy/local/rabbitmq.sh --help and deploy/local/postgres.sh --help for details and overrides.
EOF
}

# run_both ACTION: run ACTION on both scripts in parallel; fail if either fails.
run_both() {
  local action="$1" rc_r=0 rc_p=0
  "$SW_LIB_DIR/rabbitmq.sh" "$action" &
  local pid_r=$!
  "$SW_LIB_DIR/postgres.sh" "$action" &
  local pid_p=$!
  wait "$pid_r" || rc_r=$?
  wait "$pid_p" || rc_p=$?
  ((rc_r == 0)) || sw_log "ERROR: rabbitmq.sh $action failed (exit $rc_r)"
  ((rc_p == 0)) || sw_log "ERROR: postgres.sh $action failed (exit $rc_p)"
  ((rc_r == 0 && rc_p == 0))
}

cmd_start() {
  sw_require_root
  # Once, before the parallel part: two concurrent apt-get runs would fight over the dpkg lock.
  sw_ensure_packages "${SW_ALL_PACKAGES[@]}"
  local t0
  t0=$(sw_now)
  run_both start || exit 1
  sw_log "both servers ready after $(($(sw_now) - t0))s"
}

cmd_status() {
  local rc_r=0 rc_p=0
  "$SW_LIB_DIR/rabbitmq.sh" status || rc_r=$?
  "$SW_LIB_DIR/postgres.sh" status || rc_p=$?
  ((rc_r <= 1 && rc_p <= 1))
}

case "${1:-}" in
  start) cmd_start ;;
  stop) run_both stop ;;
  restart) run_both stop && cmd_start ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
