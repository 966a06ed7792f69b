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
# Bounded: a node that no longer answers (seen once on RabbitMQ 3.10 here: add_vhost hung and AMQP logins with
# it) must fail the caller, not hang a test run until CI's limit. SW_CMD_TIMEOUT overrides the 120 s.
rc=0
SW_CMD_TIMEOUT="${SW_CMD_TIMEOUT:-120}" sw_rmqctl "$d" "$@" || rc=$?
((rc != 124)) || sw_warn "rabbitmqctl $* did not finish within ${SW_CMD_TIMEOUT:-120} s; is node $SW_RMQ_NODE stuck? (deploy/local/servers.sh status)"
exit "$rc"
