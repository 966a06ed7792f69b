#!/usr/bin/env bash
# Local RabbitMQ 3.10 cluster for fault tests: nodes stockwire-N@127.0.0.1N, each on its own loopback address
# (AMQP, management, stream and Erlang distribution), pause_minority, a 10 s net tick, quorum queues on every node.
# State under <repo>/.local/rabbitmq-cluster (owned by rabbitmq). Helpers: deploy/local/cluster-lib.sh.
set -euo pipefail
SW_COMPONENT=rabbitmq-cluster
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/local/cluster-lib.sh
. "$SW_LIB_DIR/cluster-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") start [--nodes N] | stop | status | --help

  start    start an N-node cluster (3 by default, 3..9) and wait until every node serves AMQP and sees the
           others as running members. A fresh cluster boots node 1 first and the others join it (classic_config
           peer discovery); an existing one starts all its stopped nodes together (a lone restarting node waits
           for its peers). Nodes already running are left as they are. Prints the AMQP URL list.
  stop     stop every node gracefully (in parallel), the cluster's epmd, and remove a partition left by
           cluster.sh partition.
  status   per node: VM pid, rabbit app (running / booting / stopped = paused), the running members it sees,
           AMQP answering, cut off by a partition; exit 0 = all nodes serve, 2 = some do, 3 = none.

Node N: stockwire-N@127.0.0.1N, AMQP 127.0.0.1N:$SW_AMQP_PORT, management http://127.0.0.1N:$SW_MGMT_PORT/ (guest/guest),
stream 127.0.0.1N:$SWC_STREAM_PORT, distribution 127.0.0.1N:$((SW_AMQP_PORT + 20000))+N, stream replication ports
$SWC_OSIRIS_FIRST+50(N-1) .. +49, group id $SWC_GID_BASE+N; epmd on port $SWC_EPMD_PORT. The single node (rabbitmq.sh)
may run beside it. Faults (kill, restart, partition): deploy/local/cluster.sh. Settings: see the top of
deploy/local/cluster-lib.sh (STOCKWIRE_RABBITMQ_NET_TICKTIME, STOCKWIRE_CLUSTER_EPMD_PORT, ...).
EOF
}

print_conn() {
  local d="$1"
  echo "RabbitMQ AMQP:       $(swc_amqp_urls "$d")"
  echo "RabbitMQ management: http://$(swc_addr 1):$SW_MGMT_PORT/ (any node's address; guest/guest)"
}

# wait_parallel FUNCTION DIR DEADLINE NODES...: run FUNCTION DIR N DEADLINE for every node at once; print the
# nodes for which it failed.
wait_parallel() {
  local fn="$1" d="$2" deadline="$3" n pids=() failed=()
  shift 3
  for n in "$@"; do
    "$fn" "$d" "$n" "$deadline" &
    pids+=("$!")
  done
  local i=0
  for n in "$@"; do
    wait "${pids[$i]}" || failed+=("$n")
    i=$((i + 1))
  done
  echo "${failed[*]}"
}

wait_member() { swc_wait_member "$1" "$2" "$(swc_count "$1")" "$3"; }

cmd_start() {
  local count="$1" d t0 existing n
  sw_require_root
  sw_ensure_packages rabbitmq-server
  [[ "$count" =~ ^[3-9]$ ]] || sw_die "--nodes must be 3..$SWC_MAX_NODES (an odd number lets pause_minority keep a majority)"
  ((count % 2 == 1)) || sw_warn "$count nodes: a partition into two halves pauses both (pause_minority)"
  d="$(sw_state_dir rabbitmq-cluster rabbitmq)"
  t0=$(sw_now)
  existing="$(swc_count "$d")"
  if ((existing > 0 && existing != count)); then
    sw_die "the cluster in $d has $existing nodes, not $count; stop it and delete $d to start another size"
  fi
  for ((n = 1; n <= count; n++)); do
    if getent group "$(swc_gid "$n")" >/dev/null; then
      sw_die "group id $(swc_gid "$n") belongs to group $(getent group "$(swc_gid "$n")" | cut -d: -f1); the partition rules need ids no one else uses: set STOCKWIRE_CLUSTER_GID_BASE"
    fi
  done

  local to_start=()
  for ((n = 1; n <= count; n++)); do
    swc_pid "$d" "$n" >/dev/null || to_start+=("$n")
  done
  if ((${#to_start[@]} == 0)); then
    local failed
    failed="$(wait_parallel wait_member "$d" $((t0 + SWC_RMQ_TIMEOUT)) $(seq "$count"))"
    [[ -z "$failed" ]] || swc_fail_node "$d" "${failed%% *}" "node(s) $failed run but do not serve as cluster members"
    sw_log "already running (started by these scripts, $count nodes): nothing to do"
    print_conn "$d"
    return 0
  fi
  for n in "${to_start[@]}"; do
    local addr p
    addr="$(swc_addr "$n")"
    for p in "$SW_AMQP_PORT" "$SW_MGMT_PORT" "$SWC_STREAM_PORT" "$(swc_dist_port "$n")"; do
      if sw_port_open "$addr" "$p"; then
        sw_die "$addr:$p is already in use (not by a node of ours); node $n cannot start. Free it, or move the ports (STOCKWIRE_AMQP_PORT, STOCKWIRE_MGMT_PORT, STOCKWIRE_STREAM_PORT)"
      fi
    done
    sw_port_open 127.0.0.1 "$(swc_dist_port "$n")" &&
      sw_die "port $(swc_dist_port "$n") (node $n's distribution) is taken on 127.0.0.1; RabbitMQ's start-up check needs it free on every address"
  done

  swc_write_cookie "$d"
  for ((n = 1; n <= count; n++)); do swc_write_config "$d" "$n" "$count"; done
  echo "$count" >"$d/nodes"
  swc_start_epmd
  local deadline=$((t0 + SWC_RMQ_TIMEOUT)) failed
  # A fresh cluster: node 1 first, so that the others find a running peer to join (all at once races in 3.10).
  if [[ " ${to_start[*]} " == *" 1 "* && ! -d "$(swc_node_dir "$d" 1)/mnesia/$(swc_node 1)" ]]; then
    sw_log "new cluster: starting node 1 (data: $(swc_node_dir "$d" 1))"
    swc_launch "$d" 1
    swc_wait_up "$d" 1 "$deadline" || swc_fail_node "$d" 1 "node 1 did not boot within ${SWC_RMQ_TIMEOUT}s"
    to_start=("${to_start[@]:1}")
  fi
  if ((${#to_start[@]} > 0)); then
    sw_log "starting node(s) ${to_start[*]} (data: $d/node-N, logs: node-N/log)"
    for n in "${to_start[@]}"; do swc_launch "$d" "$n"; done
    failed="$(wait_parallel swc_wait_up "$d" "$deadline" "${to_start[@]}")"
    [[ -z "$failed" ]] || swc_fail_node "$d" "${failed%% *}" "node(s) $failed did not boot within ${SWC_RMQ_TIMEOUT}s"
  fi
  failed="$(wait_parallel wait_member "$d" "$deadline" $(seq "$count"))"
  [[ -z "$failed" ]] || swc_fail_node "$d" "${failed%% *}" "node(s) $failed booted but did not join the cluster within ${SWC_RMQ_TIMEOUT}s"
  sw_log "cluster of $count nodes ready in $(($(sw_now) - t0))s"
  print_conn "$d"
}

cmd_stop() {
  local d count n pids=()
  d="$(swc_rmq_dir)"
  count="$(swc_count "$d")"
  ((count > 0)) || return 0
  if swc_nft_table_exists; then
    sw_log "removing the partition (nft table ip $SWC_NFT_TABLE)"
    nft delete table ip "$SWC_NFT_TABLE"
  fi
  local running=()
  for ((n = 1; n <= count; n++)); do
    swc_pid "$d" "$n" >/dev/null && running+=("$n")
  done
  if ((${#running[@]} > 0)); then
    sw_require_root
    local t0
    t0=$(sw_now)
    sw_log "stopping node(s) ${running[*]}"
    for n in "${running[@]}"; do
      swc_stop_node "$d" "$n" &
      pids+=("$!")
    done
    wait "${pids[@]}" || true
    sw_log "stopped in $(($(sw_now) - t0))s"
  fi
  for ((n = 1; n <= count; n++)); do rm -f "$(swc_node_dir "$d" "$n")/started-by-stockwire"; done
  swc_stop_epmd
}

cmd_status() {
  local d count n up=0 isolated
  d="$(swc_rmq_dir)"
  count="$(swc_count "$d")"
  if ((count == 0)); then
    echo "rabbitmq cluster: none (deploy/local/servers.sh start --broker-nodes 3)"
    return 3
  fi
  isolated=" $(swc_isolated_nodes | tr '\n' ' ')"
  echo "rabbitmq cluster: $count nodes (data: $d)"
  for ((n = 1; n <= count; n++)); do
    local pid view="" amqp="NOT answering" cut=""
    [[ "$isolated" == *" $n "* ]] && cut=", CUT OFF by cluster.sh partition"
    if pid="$(swc_pid "$d" "$n")"; then
      view="$(swc_view "$d" "$n" || echo "? ?")"
      sw_amqp_answers "$(swc_addr "$n")" "$SW_AMQP_PORT" && { amqp="accepting"; up=$((up + 1)); }
      printf '  node %s %s  pid %s, app %s, members %s, amqp %s [%s]%s\n' "$n" "$(swc_node "$n")" "$pid" \
        "${view%% *}" "${view#* }" "$(swc_amqp_url "$n")" "$amqp" "$cut"
    else
      printf '  node %s %s  down%s\n' "$n" "$(swc_node "$n")" "$cut"
    fi
  done
  echo "  amqp urls: $(swc_amqp_urls "$d")"
  echo "  logs:      $d/node-N/log/"
  if ((up == count)); then return 0; elif ((up > 0)); then return 2; else return 3; fi
}

action="${1:-}"
[[ $# -gt 0 ]] && shift
nodes=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) [[ $# -ge 2 ]] || sw_die "--nodes needs a number"; nodes="$2"; shift 2 ;;
    --nodes=*) nodes="${1#*=}"; shift ;;
    *) usage >&2; exit 2 ;;
  esac
done
case "$action" in
  start) cmd_start "$nodes" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
