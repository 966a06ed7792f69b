#!/usr/bin/env bash
# Both local servers: RabbitMQ (deploy/local/rabbitmq.sh) and PostgreSQL (deploy/local/postgres.sh), or with flags
# a RabbitMQ cluster (deploy/local/rabbitmq-cluster.sh) and a PostgreSQL primary with a synchronous standby
# (deploy/local/postgres-pair.sh).
set -euo pipefail
SW_COMPONENT=servers
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/local/cluster-lib.sh
. "$SW_LIB_DIR/cluster-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") start [--broker-nodes N] [--postgres-standby] | stop | restart [FLAGS] | status | --help

  start    install missing Debian packages (servers and build libraries), then start RabbitMQ and
           PostgreSQL in parallel and wait for both. Already running servers are left as they are.
           Without flags: one RabbitMQ node on $SW_HOST:$SW_AMQP_PORT and one PostgreSQL on $SW_HOST:$SW_PG_PORT.
    --broker-nodes N    instead of the single node, a RabbitMQ cluster of N nodes (3..9; 1 = the single node):
                        stockwire-N@127.0.0.1N on its own loopback address, pause_minority, net_ticktime
                        $SWC_NET_TICKTIME s, quorum queues and streams replicated on every node. The single node
                        may keep running beside it (other addresses).
    --postgres-standby  instead of the single server, a primary on $SW_HOST:$SW_PG_PORT and a synchronous hot
                        standby on $SW_HOST:$SWC_PG_STANDBY_PORT (streaming replication). It needs the port of the
                        single server: stop that first.
           Prints what the services need: the AMQP URL (a comma-separated list for a cluster, as
           STOCKWIRE_AMQP_URL takes it) and the libpq conninfo (both hosts, target_session_attrs=read-write).
  stop     stop everything these scripts started: single servers, cluster nodes, the PostgreSQL pair.
  restart  stop, then start (with the flags given).
  status   print all of it; exit 0 only if a broker and a database are usable (ours or someone else's).

Faults on the cluster (kill, restart, partition nodes; PostgreSQL failover): deploy/local/cluster.sh --help.
See deploy/local/rabbitmq.sh, postgres.sh, rabbitmq-cluster.sh and postgres-pair.sh --help for details
and overrides.
EOF
}

broker_nodes=1
pg_standby=""
# parse_flags ARGS...: the start flags.
parse_flags() {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --broker-nodes) [[ $# -ge 2 ]] || sw_die "--broker-nodes needs a number"; broker_nodes="$2"; shift 2 ;;
      --broker-nodes=*) broker_nodes="${1#*=}"; shift ;;
      --postgres-standby) pg_standby=1; shift ;;
      *) usage >&2; exit 2 ;;
    esac
  done
  [[ "$broker_nodes" =~ ^[1-9]$ && "$broker_nodes" != 2 ]] || sw_die "--broker-nodes must be 1 or 3..$SWC_MAX_NODES"
}

# run_parallel "SCRIPT ARGS"...: run each deploy/local script with its arguments in parallel; fail if any fails.
run_parallel() {
  local cmd args pids=() rc=0 r i=0
  for cmd in "$@"; do
    read -r -a args <<<"$cmd"
    "$SW_LIB_DIR/${args[0]}" "${args[@]:1}" &
    pids+=("$!")
  done
  for cmd in "$@"; do
    r=0
    wait "${pids[$i]}" || r=$?
    ((r == 0)) || { sw_log "ERROR: $cmd failed (exit $r)"; rc=1; }
    i=$((i + 1))
  done
  return "$rc"
}

cmd_start() {
  sw_require_root
  # Once, before the parallel part: two concurrent apt-get runs would fight over the dpkg lock.
  sw_ensure_packages "${SW_ALL_PACKAGES[@]}"
  local t0 broker="rabbitmq.sh start" db="postgres.sh start"
  t0=$(sw_now)
  ((broker_nodes > 1)) && broker="rabbitmq-cluster.sh start --nodes $broker_nodes"
  [[ -n "$pg_standby" ]] && db="postgres-pair.sh start"
  run_parallel "$broker" "$db" || exit 1
  if ((broker_nodes > 1)) || [[ -n "$pg_standby" ]]; then
    sw_log "servers ready after $(($(sw_now) - t0))s; for the services (eval \"\$(deploy/local/cluster.sh urls)\"):"
    "$SW_LIB_DIR/cluster.sh" urls
  else
    sw_log "both servers ready after $(($(sw_now) - t0))s"
  fi
}

# cmd_stop: every script stops only what it started; the cluster scripts are asked only if they ever ran here.
cmd_stop() {
  local cmds=("rabbitmq.sh stop" "postgres.sh stop")
  (($(swc_count "$(swc_rmq_dir)") > 0)) && cmds+=("rabbitmq-cluster.sh stop")
  [[ -d "$(swc_pg_dir)/pg1" ]] && cmds+=("postgres-pair.sh stop")
  run_parallel "${cmds[@]}"
}

cmd_status() {
  local rc_r=0 rc_p=3 rc_c=3 rc_s=3 d
  "$SW_LIB_DIR/rabbitmq.sh" status || rc_r=$?
  if (($(swc_count "$(swc_rmq_dir)") > 0)); then rc_c=0; "$SW_LIB_DIR/rabbitmq-cluster.sh" status || rc_c=$?; fi
  d="$(swc_pg_dir)"
  # The pair's first server uses the single server's port: report the single one only when the pair is not up.
  if [[ -d "$d/pg1" ]] && { swc_pg_pid "$d" 1 >/dev/null || swc_pg_pid "$d" 2 >/dev/null; }; then
    rc_s=0
    "$SW_LIB_DIR/postgres-pair.sh" status || rc_s=$?
  else
    rc_p=0
    "$SW_LIB_DIR/postgres.sh" status || rc_p=$?
    [[ -d "$d/pg1" ]] && { "$SW_LIB_DIR/postgres-pair.sh" status || rc_s=$?; }
  fi
  ((rc_r <= 1 || rc_c <= 2)) && ((rc_p <= 1 || rc_s == 0))
}

action="${1:-}"
[[ $# -gt 0 ]] && shift
case "$action" in
  start) parse_flags "$@"; cmd_start ;;
  stop) [[ $# -eq 0 ]] || { usage >&2; exit 2; }; cmd_stop ;;
  restart) parse_flags "$@"; cmd_stop && cmd_start ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
