#!/usr/bin/env bash
# rabbitmqctl against the local node started by deploy/local/rabbitmq.sh:
#   deploy/local/rabbitmqctl.sh stop_app | start_app | list_queues name messages | ...
# Runs as the rabbitmq user with the node's HOME (same Erlang cookie) and `-n stockwire@localhost`.
# If our node is not running but another broker we did not start serves the AMQP port, falls back
# to the system rabbitmqctl (default node and cookie) with a warning on stderr.
set -euo pipefail
SW_COMPONENT=rabbitmqctl
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

case "${1:-}" in
  -h | --help)
    echo "usage: $(basename "$0") RABBITMQCTL-ARGS...   (node $SW_RMQ_NODE; e.g. stop_app, start_app, list_queues name messages)"
    exit 0
    ;;
esac

d="$(sw_existing_state_dir rabbitmq)"
if [[ ! -e "$d/started-by-stockwire" && ! -s "$d/rabbitmq.pid" ]] && sw_port_open "$SW_HOST" "$SW_AMQP_PORT"; then
  sw_warn "node $SW_RMQ_NODE was not started by deploy/local; using the system rabbitmqctl (default node) for the broker on $SW_HOST:$SW_AMQP_PORT"
  exec /usr/sbin/rabbitmqctl "$@"
fi
[[ -s "$d/home/.erlang.cookie" ]] || sw_die "no local RabbitMQ node set up yet (run deploy/local/rabbitmq.sh start)"
sw_rmqctl "$d" "$@"
