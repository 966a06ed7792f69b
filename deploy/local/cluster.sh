#!/usr/bin/env bash
# Faults for the local cluster started by `deploy/local/servers.sh start --broker-nodes 3 --postgres-standby`
# (deploy/local/rabbitmq-cluster.sh, deploy/local/postgres-pair.sh): kill, restart and cut off RabbitMQ nodes, kill
# and fail over PostgreSQL. Each command prints one line on stdout (nodes: one per node) and exits 0, or prints
# "ERROR: ..." on stderr and exits non-zero. Run as root. Helpers: deploy/local/cluster-lib.sh.
set -euo pipefail
SW_COMPONENT=cluster
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/local/cluster-lib.sh
. "$SW_LIB_DIR/cluster-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") COMMAND [ARGS]

RabbitMQ nodes are numbered 1..N: node N is stockwire-N@127.0.0.1N, AMQP amqp://guest:guest@127.0.0.1N:$SW_AMQP_PORT/.

  nodes                  one line per node: number, name, address, pid (- if none), state:
                           up      the VM runs and its AMQP port accepts connections
                           paused  the VM runs but AMQP is closed: paused by pause_minority (cut off from the
                                   majority), booting, or stopping
                           down    no VM
                         and "cut-off" if a partition from this script isolates it.
  leader QUEUE [VHOST]   the node leading a quorum queue or stream (vhost "/" by default): "N stockwire-N@...".
                         Asks a node that is up (rabbitmqctl list_queues name leader).
  kill-node N            SIGKILL node N's Erlang VM: no shutdown, as when its machine dies. Clients connected to
                         it lose their connection; quorum queues it led show a new leader on the majority
                         within 0.5-1 s.
  start-node N           start a killed or stopped node again and wait until it is back in the cluster (it runs
                         and sees a majority as running members). Needs another node up: a lone restarting node
                         waits up to 5 minutes for the peers it last saw; start a stopped cluster with servers.sh.
  restart-node N         rolling-restart step: wait until stopping N leaves every quorum queue a majority
                         (rabbitmq-upgrade await_online_quorum_plus_one: the other replicas are online), stop N
                         gracefully (rabbitmqctl shutdown), start it, wait until it is back in the cluster and
                         every quorum queue and stream with a replica on N lists N as online again. Restart the
                         nodes one after another with this and no queue loses its majority.
  partition N            cut node N off from the other nodes (nftables table ip $SWC_NFT_TABLE): Erlang
                         distribution between their addresses, their epmd look-ups of each other and stream
                         replication (node N's ports $SWC_OSIRIS_FIRST+50(N-1)..+49, and any replication
                         connection of node N's processes, recognised by their group id). Clients and CLI tools
                         (from 127.0.0.1) still reach every node. After net_ticktime ($SWC_NET_TICKTIME s, ±25 %) the
                         sides see each other down; node N, a minority, pauses (closes AMQP) until the heal.
                         Several nodes may be cut off at once.
  heal [--no-wait]       remove the table and wait until the nodes that were cut off are back in the cluster
                         (a paused node resumes 1-4 s after the heal). RabbitMQ 3.10.8 on Erlang 25 sometimes
                         hangs the resuming node in global:sync (rabbitmq-server#6034); heal notices it
                         within 3-6 s and unblocks it as RabbitMQ's own fix does (a warning on stderr); it
                         resumes. start-node and restart-node do the same.
                         --no-wait: return at once.
  await-node N STATE [SECONDS]
                         wait until node N is up, paused, down, or member (back in the cluster); default 120 s.
  cli N TOOL ARGS...     run a RabbitMQ CLI tool against node N: rabbitmqctl, rabbitmq-queues, rabbitmq-streams,
                         rabbitmq-diagnostics, rabbitmq-upgrade or rabbitmq-plugins (e.g. cli 2 rabbitmq-queues
                         quorum_status calculator.events).

PostgreSQL: servers stockwire_pg1 (port $SW_PG_PORT) and stockwire_pg2 (port $SWC_PG_STANDBY_PORT); either may be primary.

  pg-status              "primary stockwire_pg1 :5432, standby stockwire_pg2 :5433 streaming sync (lag 0 B)";
                         exits 1 if no primary runs.
  pg-kill-primary        SIGKILL the primary's postmaster and its processes, as when its machine dies.
  pg-promote [--force]   promote the standby, wait until it accepts a write, print its port. Refuses while the
                         primary still runs (two primaries) unless --force. The new primary runs without a
                         synchronous standby until pg-rejoin.
  pg-rejoin              rebuild the other server as a synchronous standby of the current primary (pg_basebackup
                         if it does not already follow it); servers.sh start does the same.

  urls                   shell lines for the services: export STOCKWIRE_AMQP_URL='<the nodes' URLs,
                         comma-separated>' and STOCKWIRE_POSTGRES='<libpq conninfo with both hosts,
                         target_session_attrs=read-write>' (the single servers' when no cluster/pair exists).
                         e.g.  eval "\$(deploy/local/cluster.sh urls)"

Typical fault run:
  deploy/local/servers.sh start --broker-nodes 3 --postgres-standby
  n=\$(deploy/local/cluster.sh leader calculator.events | cut -d' ' -f1)
  deploy/local/cluster.sh kill-node "\$n"; sleep 10; deploy/local/cluster.sh start-node "\$n"
  deploy/local/cluster.sh partition 2; sleep 30; deploy/local/cluster.sh heal
  for n in 1 2 3; do deploy/local/cluster.sh restart-node "\$n"; done
  deploy/local/cluster.sh pg-kill-primary; deploy/local/cluster.sh pg-promote; deploy/local/cluster.sh pg-rejoin
EOF
}

now_ms() { date +%s%3N; }
# secs_since T0_MS: elapsed seconds with one decimal.
secs_since() {
  local ms=$(($(now_ms) - $1))
  printf '%d.%d\n' $((ms / 1000)) $((ms % 1000 / 100))
}

rmq_dir() {
  local d
  d="$(swc_rmq_dir)"
  (($(swc_count "$d") > 0)) || sw_die "no local RabbitMQ cluster (start one: deploy/local/servers.sh start --broker-nodes 3)"
  echo "$d"
}

# first_up DIR [EXCEPT]: the first node (other than EXCEPT) that serves AMQP.
first_up() {
  local d="$1" except="${2:-0}" count n
  count="$(swc_count "$d")"
  for ((n = 1; n <= count; n++)); do
    ((n == except)) && continue
    if [[ "$(swc_state "$d" "$n")" == up ]]; then echo "$n"; return 0; fi
  done
  return 1
}

# ------------------------------------------------------------------------------- RabbitMQ

cmd_nodes() {
  local d count n isolated
  d="$(rmq_dir)"
  count="$(swc_count "$d")"
  isolated=" $(swc_isolated_nodes | tr '\n' ' ')"
  for ((n = 1; n <= count; n++)); do
    local pid cut=""
    pid="$(swc_pid "$d" "$n" || echo -)"
    [[ "$isolated" == *" $n "* ]] && cut=" cut-off"
    printf '%s %s %s pid=%s %s%s\n' "$n" "$(swc_node "$n")" "$(swc_addr "$n")" "$pid" "$(swc_state "$d" "$n")" "$cut"
  done
}

cmd_leader() {
  local q="${1:-}" vhost="${2:-/}" d n out="" leader type
  [[ -n "$q" ]] || sw_die "usage: cluster.sh leader QUEUE [VHOST]"
  d="$(rmq_dir)"
  sw_ensure_packages jq
  n="$(first_up "$d")" || sw_die "no node is up to ask"
  out="$(SW_CMD_TIMEOUT=30 swc_ctl "$d" "$n" -q list_queues -p "$vhost" name type leader --formatter json 2>&1)" ||
    sw_die "node $n could not list the queues of vhost '$vhost': $(tail -n1 <<<"$out")"
  type="$(jq -r --arg q "$q" '.[] | select(.name == $q) | .type' <<<"$out")"
  [[ -n "$type" ]] || sw_die "no queue '$q' in vhost '$vhost'"
  leader="$(jq -r --arg q "$q" '.[] | select(.name == $q) | .leader // ""' <<<"$out")"
  [[ -n "$leader" ]] || sw_die "queue '$q' is a $type queue: it has no leader (quorum queues and streams have one)"
  n="$(swc_node_number "$leader")" || sw_die "queue '$q' is led by $leader, which is not a node of this cluster"
  echo "$n $leader"
}

cmd_kill_node() {
  local n="${1:-}" d pid
  d="$(rmq_dir)"
  swc_check_node "$d" "$n"
  pid="$(swc_kill_node "$d" "$n")" || sw_die "node $n is not running: nothing to kill"
  echo "killed node $n ($(swc_node "$n"), pid $pid)"
}

# start_node DIR N T0_MS: start node N and wait until it is back in the cluster.
start_node() {
  local d="$1" n="$2" count deadline
  count="$(swc_count "$d")"
  deadline=$(($(sw_now) + SWC_RMQ_TIMEOUT))
  swc_start_epmd
  swc_launch "$d" "$n"
  swc_wait_up "$d" "$n" "$deadline" || swc_fail_node "$d" "$n" "node $n did not boot within ${SWC_RMQ_TIMEOUT}s"
  swc_wait_member "$d" "$n" "$count" "$deadline" ||
    swc_fail_node "$d" "$n" "node $n booted but is not back in the cluster within ${SWC_RMQ_TIMEOUT}s"
}

cmd_start_node() {
  local n="${1:-}" d pid t0
  d="$(rmq_dir)"
  swc_check_node "$d" "$n"
  if pid="$(swc_pid "$d" "$n")"; then sw_die "node $n already runs (pid $pid, $(swc_state "$d" "$n"))"; fi
  first_up "$d" "$n" >/dev/null ||
    sw_die "no other node is up: a lone restarting node waits up to 5 minutes for its peers; start the whole cluster with deploy/local/servers.sh start --broker-nodes $(swc_count "$d")"
  t0=$(now_ms)
  start_node "$d" "$n"
  echo "node $n back in the cluster after $(secs_since "$t0") s (members $(swc_view "$d" "$n" | cut -d' ' -f2))"
}

# replicas_online DIR N: every quorum queue and stream with a replica on node N lists N as online (asked of N).
replicas_online() {
  local d="$1" n="$2" out node
  node="$(swc_node "$n")"
  out="$(SW_CMD_TIMEOUT=30 swc_ctl "$d" "$n" -q list_queues name type members online --formatter json 2>/dev/null)" || return 1
  jq -e --arg n "$node" '[.[] | select((.type == "quorum" or .type == "stream") and ((.members // []) | index($n)))
    | select(((.online // []) | index($n)) | not)] | length == 0' <<<"$out" >/dev/null
}

cmd_restart_node() {
  local n="${1:-}" d t0 t_stop t_back deadline out
  d="$(rmq_dir)"
  swc_check_node "$d" "$n"
  sw_ensure_packages jq
  [[ "$(swc_state "$d" "$n")" == up ]] || sw_die "node $n is not up ($(swc_state "$d" "$n")): start-node it instead"
  t0=$(now_ms)
  # Stopping N must leave every quorum queue it holds a replica of with a majority online.
  out="$(SW_CMD_TIMEOUT=130 swc_run "$d" "$n" "$SW_RMQ_BIN/rabbitmq-upgrade" -n "$(swc_node "$n")" -q \
    await_online_quorum_plus_one --timeout 120 2>&1)" ||
    sw_die "stopping node $n now would leave a quorum queue without a majority (await_online_quorum_plus_one: $(tail -n1 <<<"$out"))"
  swc_stop_node "$d" "$n"
  t_stop="$(secs_since "$t0")"
  start_node "$d" "$n"
  t_back="$(secs_since "$t0")"
  deadline=$(($(sw_now) + 120))
  until replicas_online "$d" "$n"; do
    (($(sw_now) >= deadline)) && sw_die "node $n is back, but some of its queue replicas are not online after 120 s (cluster.sh cli $n rabbitmq-queues quorum_status QUEUE)"
    sleep 0.5
  done
  echo "node $n restarted: down after $t_stop s, back in the cluster after $t_back s, its replicas online after $(secs_since "$t0") s"
}

cmd_partition() {
  local n="${1:-}" d count i others=""
  d="$(rmq_dir)"
  swc_check_node "$d" "$n"
  count="$(swc_count "$d")"
  command -v nft >/dev/null || sw_ensure_packages nftables
  if swc_isolated_nodes | grep -qx "$n"; then
    echo "node $n is already cut off"
    return 0
  fi
  for ((i = 1; i <= count; i++)); do ((i == n)) || others+="${others:+,}$i"; done
  {
    echo "table ip $SWC_NFT_TABLE {"
    echo "  chain output { type filter hook output priority 0; policy accept; }"
    echo "}"
    swc_partition_rules "$d" "$n"
  } | nft -f - || sw_die "nft could not load the partition rules (is nftables usable here?)"
  echo "node $n cut off from nodes $others (nftables table ip $SWC_NFT_TABLE; heal removes it)"
}

cmd_heal() {
  local wait=1
  case "${1:-}" in
    "") ;;
    --no-wait) wait="" ;;
    *) sw_die "usage: cluster.sh heal [--no-wait]" ;;
  esac
  if ! command -v nft >/dev/null || ! swc_nft_table_exists; then
    echo "no partition to heal"
    return 0
  fi
  local d nodes dropped t0 n deadline
  d="$(rmq_dir)"
  nodes="$(swc_isolated_nodes | paste -sd, -)"
  dropped="$(swc_dropped_packets)"
  t0=$(now_ms)
  nft delete table ip "$SWC_NFT_TABLE"
  if [[ -z "$wait" ]]; then
    echo "healed: node(s) ${nodes:-?} may reconnect ($dropped packets dropped while cut off)"
    return 0
  fi
  deadline=$(($(sw_now) + 90))
  for n in ${nodes//,/ }; do
    if ! swc_wait_up "$d" "$n" "$deadline" || ! swc_wait_member "$d" "$n" "$(swc_count "$d")" "$deadline"; then
      sw_die "healed, but node $n is not back in the cluster after 90 s (state $(swc_state "$d" "$n")); kill-node $n and start-node $n bring it back"
    fi
  done
  echo "healed: node(s) ${nodes:-?} back in the cluster after $(secs_since "$t0") s ($dropped packets dropped while cut off)"
}

cmd_await_node() {
  local n="${1:-}" want="${2:-}" secs="${3:-120}" d t0 deadline
  d="$(rmq_dir)"
  swc_check_node "$d" "$n"
  [[ "$want" =~ ^(up|paused|down|member)$ ]] || sw_die "usage: cluster.sh await-node N up|paused|down|member [SECONDS]"
  [[ "$secs" =~ ^[0-9]+$ ]] || sw_die "SECONDS must be a whole number"
  t0=$(now_ms)
  deadline=$(($(sw_now) + secs))
  if [[ "$want" == member ]]; then
    swc_wait_member "$d" "$n" "$(swc_count "$d")" "$deadline" ||
      sw_die "node $n is not back in the cluster after $secs s (state $(swc_state "$d" "$n"))"
  else
    until [[ "$(swc_state "$d" "$n")" == "$want" ]]; do
      (($(sw_now) >= deadline)) && sw_die "node $n is not $want after $secs s (state $(swc_state "$d" "$n"))"
      sleep 0.1
    done
  fi
  echo "node $n $want after $(secs_since "$t0") s"
}

cmd_cli() {
  local n="${1:-}" tool="${2:-}" d
  d="$(rmq_dir)"
  swc_check_node "$d" "$n"
  [[ "$tool" =~ ^rabbitmq(ctl|-queues|-streams|-diagnostics|-upgrade|-plugins)$ ]] ||
    sw_die "usage: cluster.sh cli N rabbitmqctl|rabbitmq-queues|rabbitmq-streams|rabbitmq-diagnostics|rabbitmq-upgrade|rabbitmq-plugins ARGS..."
  shift 2
  SW_CMD_TIMEOUT="${SW_CMD_TIMEOUT:-120}" swc_run "$d" "$n" "$SW_RMQ_BIN/$tool" -n "$(swc_node "$n")" "$@"
}

# ------------------------------------------------------------------------------ PostgreSQL

pg_dir() {
  local d
  d="$(swc_pg_dir)"
  [[ -d "$d/pg1" ]] || sw_die "no local PostgreSQL pair (start one: deploy/local/servers.sh start --postgres-standby)"
  echo "$d"
}

# pg_running_with_role DIR ROLE: the running server answering as primary (or standby).
pg_running_with_role() {
  local d="$1" want="$2" n r
  for n in 1 2; do
    swc_pg_pid "$d" "$n" >/dev/null || continue
    r="$(swc_pg_sql "$d" "$n" 'SELECT pg_is_in_recovery()' 2>/dev/null || true)"
    if [[ "$want" == primary && "$r" == f ]] || [[ "$want" == standby && "$r" == t ]]; then echo "$n"; return 0; fi
  done
  return 1
}

cmd_pg_status() {
  local d p s rep
  d="$(pg_dir)"
  if ! p="$(pg_running_with_role "$d" primary)"; then
    local n desc=""
    for n in 1 2; do
      local st=down
      if swc_pg_pid "$d" "$n" >/dev/null; then
        case "$(swc_pg_sql "$d" "$n" 'SELECT pg_is_in_recovery()' 2>/dev/null || true)" in
          t) st=standby ;;
          *) st="running, not answering" ;;
        esac
      fi
      desc+="${desc:+, }$(swc_pg_name "$n") :$(swc_pg_port "$n") $st"
    done
    sw_die "no primary runs ($desc)"
  fi
  s="$(swc_pg_other "$p")"
  rep="$(swc_pg_replication "$d" "$p")"
  if [[ "$rep" == none ]]; then
    local st=down
    swc_pg_pid "$d" "$s" >/dev/null && st="running, not streaming"
    echo "primary $(swc_pg_name "$p") :$(swc_pg_port "$p"), $(swc_pg_name "$s") :$(swc_pg_port "$s") $st (no standby)"
  else
    read -r -a rep <<<"$rep"
    echo "primary $(swc_pg_name "$p") :$(swc_pg_port "$p"), standby $(swc_pg_name "$s") :$(swc_pg_port "$s") ${rep[0]} ${rep[1]} (lag ${rep[2]} B)"
  fi
}

cmd_pg_kill_primary() {
  local d p pid kids
  d="$(pg_dir)"
  p="$(pg_running_with_role "$d" primary)" || sw_die "no primary runs: nothing to kill"
  pid="$(swc_pg_pid "$d" "$p")"
  mapfile -t kids < <(pgrep -P "$pid" || true)
  kill -KILL "$pid" "${kids[@]}" 2>/dev/null || true
  local deadline=$(($(sw_now) + 10)) q
  for q in "$pid" "${kids[@]}"; do
    while swc_alive "$q"; do
      (($(sw_now) >= deadline)) && sw_die "process $q of the killed primary is still alive after 10 s"
      sleep 0.05
    done
  done
  echo "killed the primary $(swc_pg_name "$p") on port $(swc_pg_port "$p") (postmaster pid $pid and ${#kids[@]} processes)"
}

cmd_pg_promote() {
  local force="${1:-}" d s p t0 deadline
  [[ -z "$force" || "$force" == --force ]] || sw_die "usage: cluster.sh pg-promote [--force]"
  d="$(pg_dir)"
  s="$(pg_running_with_role "$d" standby)" || sw_die "no standby runs: nothing to promote"
  p="$(swc_pg_other "$s")"
  if swc_pg_pid "$d" "$p" >/dev/null && [[ -z "$force" ]]; then
    sw_die "the primary $(swc_pg_name "$p") still runs on port $(swc_pg_port "$p"): promoting now would make two primaries; kill it first (pg-kill-primary) or pass --force"
  fi
  t0=$(now_ms)
  (sw_pg_run "$SW_PG_BIN/pg_ctl" promote -D "$(swc_pg_data "$d" "$s")" -w -t 60) >/dev/null 2>&1 ||
    { sw_tail_log "$(swc_pg_log "$d" "$s")" 20; sw_die "pg_ctl promote of $(swc_pg_name "$s") failed"; }
  deadline=$(($(sw_now) + 30))
  until swc_pg_writable "$d" "$s"; do
    (($(sw_now) >= deadline)) && sw_die "$(swc_pg_name "$s") was promoted but does not accept a write after 30 s"
    sleep 0.05
  done
  sw_log "$(swc_pg_name "$s") promoted; it accepted a write $(secs_since "$t0") s after pg_ctl promote"
  swc_pg_port "$s"
}

cmd_pg_rejoin() {
  local d p s t0
  d="$(pg_dir)"
  p="$(pg_running_with_role "$d" primary)" || sw_die "no primary runs: start the pair (servers.sh start --postgres-standby) or promote the standby (pg-promote)"
  s="$(swc_pg_other "$p")"
  t0=$(now_ms)
  swc_pg_make_standby "$d" "$s" "$p"
  echo "$(swc_pg_name "$s") :$(swc_pg_port "$s") is a synchronous standby of $(swc_pg_name "$p") :$(swc_pg_port "$p") after $(secs_since "$t0") s"
}

cmd_urls() {
  local amqp="$SW_AMQP_URL" pg="$SW_PG_CONNINFO" d
  d="$(swc_rmq_dir)"
  (($(swc_count "$d") > 0)) && amqp="$(swc_amqp_urls "$d")"
  [[ -d "$(swc_pg_dir)/pg1" ]] && pg="$(swc_pg_conninfo)"
  printf "export STOCKWIRE_AMQP_URL='%s'\nexport STOCKWIRE_POSTGRES='%s'\n" "$amqp" "$pg"
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
  nodes) cmd_nodes ;;
  leader) cmd_leader "$@" ;;
  kill-node) sw_require_root; cmd_kill_node "$@" ;;
  start-node) sw_require_root; cmd_start_node "$@" ;;
  restart-node) sw_require_root; cmd_restart_node "$@" ;;
  partition) sw_require_root; cmd_partition "$@" ;;
  heal) sw_require_root; cmd_heal "$@" ;;
  await-node) cmd_await_node "$@" ;;
  cli) cmd_cli "$@" ;;
  pg-status) cmd_pg_status ;;
  pg-kill-primary) sw_require_root; cmd_pg_kill_primary ;;
  pg-promote) sw_require_root; cmd_pg_promote "$@" ;;
  pg-rejoin) sw_require_root; cmd_pg_rejoin ;;
  urls) cmd_urls ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
