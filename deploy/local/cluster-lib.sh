# shellcheck shell=bash disable=SC2034
# Shared helpers for the local cluster (rabbitmq-cluster.sh, postgres-pair.sh, cluster.sh, servers.sh). Source it
# after lib.sh; do not execute it.
#
# RabbitMQ: nodes stockwire-N@127.0.0.1N (N = 1..9), each on its own loopback address: AMQP, management, stream and
# Erlang distribution listen there, and the node's outgoing distribution connections leave from there, so an
# nftables rule on addresses cuts exactly the traffic between two nodes (cluster.sh partition). The nodes use an
# epmd of their own on port 4370 that also listens on those addresses (the system one, on 4369, listens on
# 127.0.0.1 only and belongs to the single node). Every node runs as the rabbitmq user with a group of its own
# (numeric, STOCKWIRE_CLUSTER_GID_BASE + N, no /etc/group entry needed): the connections a node opens from
# 127.0.0.1 (epmd look-ups, stream replication) are recognised by that group. State: <local>/rabbitmq-cluster.
#
# PostgreSQL: two servers, "pg1" on STOCKWIRE_PG_PORT and "pg2" on STOCKWIRE_PG_STANDBY_PORT, one primary and one
# synchronous hot standby; which is which is in the data (standby.signal), so it survives a failover.
# State: <local>/postgres-pair.
#
# Environment overrides (besides lib.sh's):
#   STOCKWIRE_PG_STANDBY_PORT        (STOCKWIRE_PG_PORT+1) the second PostgreSQL server
#   STOCKWIRE_STREAM_PORT            (5552)  RabbitMQ stream protocol listener on each node's address
#   STOCKWIRE_RABBITMQ_NET_TICKTIME  (10)    seconds; a silent peer is declared down after 0.75-1.25 times this
#   STOCKWIRE_CLUSTER_EPMD_PORT      (4370)  the cluster's epmd
#   STOCKWIRE_CLUSTER_GID_BASE       (48610) node N runs with group id BASE+N

if [[ -n "${SWC_LIB_LOADED:-}" ]]; then return 0; fi
SWC_LIB_LOADED=1

SWC_MAX_NODES=9
SWC_STREAM_PORT="${STOCKWIRE_STREAM_PORT:-5552}"
SWC_NET_TICKTIME="${STOCKWIRE_RABBITMQ_NET_TICKTIME:-10}"
SWC_EPMD_PORT="${STOCKWIRE_CLUSTER_EPMD_PORT:-4370}"
SWC_GID_BASE="${STOCKWIRE_CLUSTER_GID_BASE:-48610}"
SWC_RMQ_TIMEOUT="${STOCKWIRE_RABBITMQ_START_TIMEOUT:-180}"
# Stream replication (osiris) listens on 0.0.0.0 in 6000-6500; every node gets its own 50 ports of that range so
# that traffic towards one node's replicas is recognisable by port.
SWC_OSIRIS_FIRST=6000
SWC_OSIRIS_WIDTH=50
SWC_NFT_TABLE=stockwire_partition

swc_addr() { printf '127.0.0.1%s\n' "$1"; }
swc_node() { printf 'stockwire-%s@127.0.0.1%s\n' "$1" "$1"; }
# Distribution ports differ per node although the addresses do: RabbitMQ's start-up check binds 0.0.0.0:<port>.
swc_dist_port() { echo $((SW_AMQP_PORT + 20000 + $1)); }
swc_gid() { echo $((SWC_GID_BASE + $1)); }
swc_osiris_first() { echo $((SWC_OSIRIS_FIRST + ($1 - 1) * SWC_OSIRIS_WIDTH)); }
swc_osiris_last() { echo $((SWC_OSIRIS_FIRST + $1 * SWC_OSIRIS_WIDTH - 1)); }
swc_amqp_url() { printf 'amqp://guest:guest@%s:%s/\n' "$(swc_addr "$1")" "$SW_AMQP_PORT"; }

# swc_node_number NODENAME: N of stockwire-N@..., or fail.
swc_node_number() {
  [[ "$1" =~ ^stockwire-([1-9])@ ]] || return 1
  echo "${BASH_REMATCH[1]}"
}

# swc_alive PID: the process exists and is not a zombie (a killed daemon stays one until init reaps it).
swc_alive() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ "${stat:0:1}" != Z ]]
}

# ----------------------------------------------------------------------------------- RabbitMQ

swc_rmq_dir() { sw_existing_state_dir rabbitmq-cluster; }
swc_node_dir() { printf '%s/node-%s\n' "$1" "$2"; }
swc_server_log() { printf '%s/log/%s.log\n' "$(swc_node_dir "$1" "$2")" "$(swc_node "$2")"; }

# swc_count DIR: the number of nodes the cluster in DIR was created with (0: none yet).
swc_count() {
  local n=0
  [[ -s "$1/nodes" ]] && n="$(tr -dc 0-9 <"$1/nodes")"
  echo "${n:-0}"
}

# swc_check_node DIR N: N is a node of the cluster in DIR, or die.
swc_check_node() {
  local count
  count="$(swc_count "$1")"
  ((count > 0)) || sw_die "no local RabbitMQ cluster in $1 (start one: deploy/local/servers.sh start --broker-nodes 3)"
  if [[ ! "$2" =~ ^[1-9]$ ]] || (($2 > count)); then sw_die "node '$2' does not exist: the cluster has nodes 1..$count"; fi
}

# swc_node_env DIR N: NAME=VALUE lines (one per line) for node N's server and for every CLI call against it.
swc_node_env() {
  local d="$1" n="$2" nd addrs="127.0.0.1" i
  nd="$(swc_node_dir "$d" "$n")"
  for ((i = 1; i <= SWC_MAX_NODES; i++)); do addrs+=",$(swc_addr "$i")"; done
  cat <<EOF
PATH=$SW_RMQ_BIN:$SW_SYS_PATH
HOME=$d/home
LANG=C.UTF-8
LC_ALL=C.UTF-8
RABBITMQ_NODENAME=$(swc_node "$n")
RABBITMQ_USE_LONGNAME=true
RABBITMQ_CONF_ENV_FILE=$nd/config/rabbitmq-env.conf
RABBITMQ_CONFIG_FILE=$nd/config/rabbitmq.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$nd/config/advanced.config
RABBITMQ_ENABLED_PLUGINS_FILE=$nd/config/enabled_plugins
RABBITMQ_MNESIA_BASE=$nd/mnesia
RABBITMQ_LOG_BASE=$nd/log
RABBITMQ_FEATURE_FLAGS_FILE=$nd/mnesia/feature_flags
RABBITMQ_PLUGINS_EXPAND_DIR=$nd/mnesia/plugins-expand
RABBITMQ_PID_FILE=$nd/rabbitmq.pid
RABBITMQ_DIST_PORT=$(swc_dist_port "$n")
RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1$n} -kernel inet_dist_connect_options [{ip,{127,0,0,1$n}}]
ERL_EPMD_PORT=$SWC_EPMD_PORT
ERL_EPMD_ADDRESS=$addrs
EOF
}

# swc_run DIR N CMD ARGS...: run a RabbitMQ tool as the rabbitmq user with node N's environment (the shared HOME
# holds the Erlang cookie). SW_CMD_TIMEOUT=N bounds the run time.
swc_run() {
  local d="$1" n="$2" env_lines=() to=()
  shift 2
  mapfile -t env_lines < <(swc_node_env "$d" "$n")
  [[ -n "${SW_CMD_TIMEOUT:-}" ]] && to=(timeout "$SW_CMD_TIMEOUT")
  sw_require_root
  (cd "$d" && "${to[@]}" runuser -u rabbitmq -- env -i "${env_lines[@]}" "$@")
}

# swc_ctl DIR N ARGS...: rabbitmqctl -n <node N> ARGS
swc_ctl() {
  local d="$1" n="$2"
  shift 2
  swc_run "$d" "$n" "$SW_RMQ_BIN/rabbitmqctl" -n "$(swc_node "$n")" "$@"
}

# swc_pid DIR N: pid of node N's Erlang VM if it runs (checked against its mnesia dir, never a foreign VM).
swc_pid() {
  local nd pid
  nd="$(swc_node_dir "$1" "$2")"
  [[ -s "$nd/rabbitmq.pid" ]] || return 1
  pid="$(tr -dc 0-9 <"$nd/rabbitmq.pid")"
  [[ -n "$pid" && -r "/proc/$pid/environ" ]] || return 1
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF -- "RABBITMQ_MNESIA_BASE=$nd/mnesia" || return 1
  printf '%s\n' "$pid"
}

# swc_serving DIR N: node N's AMQP listener accepts connections (a paused, booting or stopped node has none). A
# bare TCP connect: it leaves no line in the server log, unlike an AMQP handshake cut short, so it can be polled.
swc_serving() { sw_port_open "$(swc_addr "$2")" "$SW_AMQP_PORT"; }

# swc_state DIR N: down (no VM), up (AMQP listener open) or paused (VM up, AMQP closed: paused by pause_minority,
# booting or shutting down). Cheap: no CLI call.
swc_state() {
  if ! swc_pid "$1" "$2" >/dev/null; then echo down
  elif swc_serving "$1" "$2"; then echo up
  else echo paused; fi
}

# swc_view DIR N: node N's own view in one line, "<app> <members>": app is running, booting or stopped (a node
# paused by pause_minority has its app stopped); members are the node numbers of the running cluster members it
# is connected to (itself included), comma-separated, "-" if none. Fails if the node does not answer the CLI.
swc_view() {
  local out
  out="$(SW_CMD_TIMEOUT="${SW_CMD_TIMEOUT:-30}" swc_ctl "$1" "$2" -q eval '
    App = case rabbit:is_running() of true -> running;
            false -> case rabbit:is_booting() of true -> booting; false -> stopped end end,
    Running = case App of running -> try rabbit_nodes:all_running() catch _:_ -> [] end; _ -> [] end,
    Members = [M || M <- Running, lists:member(M, [node() | nodes()])],
    io:format("~s ~s~n", [App, lists:join(",", [atom_to_list(M) || M <- lists:sort(Members)])]).' 2>/dev/null)" || return 1
  out="$(head -n1 <<<"$out")"
  local app="${out%% *}" members="" names=() x
  IFS=, read -r -a names <<<"${out#* }"
  for x in "${names[@]}"; do
    x="$(swc_node_number "$x")" || continue
    members+="${members:+,}$x"
  done
  [[ "$app" =~ ^(running|booting|stopped)$ ]] || return 1
  echo "$app ${members:--}"
}

swc_write_config() {
  local d="$1" n="$2" count="$3" nd addr i watermark
  nd="$(swc_node_dir "$d" "$n")"
  addr="$(swc_addr "$n")"
  mkdir -p "$nd/mnesia" "$nd/log" "$nd/config"
  # The cluster as a whole gets the single node's memory budget (0.4 of RAM), shared among its nodes.
  watermark="$(awk -v c="$count" 'BEGIN { printf "%.2f", 0.4 / c }')"
  {
    cat <<EOF
# Generated by deploy/local/rabbitmq-cluster.sh on every start; edits are overwritten.
listeners.tcp.default = $addr:$SW_AMQP_PORT
listeners.ssl = none
management.tcp.ip = $addr
management.tcp.port = $SW_MGMT_PORT
stream.listeners.tcp.default = $addr:$SWC_STREAM_PORT
stream.advertised_host = $addr
stream.advertised_port = $SWC_STREAM_PORT
# A minority side stops serving clients until the partition heals (quorum queues need a majority anyway).
cluster_partition_handling = pause_minority
# A silent peer is declared down after 0.75-1.25 times this (default 60 s): partitions resolve in seconds.
net_ticktime = $SWC_NET_TICKTIME
# Node 1 is booted first on a fresh cluster and the others join it. Node 1 lists only itself: listing peers that
# are not up yet costs a blank node 10 retries of 0.5 s before it starts alone.
cluster_formation.peer_discovery_backend = classic_config
EOF
    for ((i = 1; i <= (n == 1 ? 1 : count); i++)); do
      echo "cluster_formation.classic_config.nodes.$i = $(swc_node "$i")"
    done
    cat <<EOF
# guest/guest is allowed from loopback only (the default): clients connect from 127.0.0.1.
disk_free_limit.absolute = 50MB
vm_memory_high_watermark.relative = $watermark
log.console = false
log.file.level = info
EOF
  } >"$nd/config/rabbitmq.conf"
  # RabbitMQ 3.10 has no rabbitmq.conf key for the quorum queues' default replica count (and the
  # initial-cluster-size policy only applies to streams, which default to every node): rabbit.quorum_cluster_size.
  cat >"$nd/config/advanced.config" <<EOF
%% Generated by deploy/local/rabbitmq-cluster.sh on every start; edits are overwritten.
[
  {rabbit, [{quorum_cluster_size, $count}]},
  {osiris, [{port_range, {$(swc_osiris_first "$n"), $(swc_osiris_last "$n")}}]}
].
EOF
  printf '[rabbitmq_management,rabbitmq_stream].\n' >"$nd/config/enabled_plugins"
  {
    echo "# Generated by deploy/local/rabbitmq-cluster.sh. The same values are passed in the environment."
    swc_node_env "$d" "$n" | sed -n "s/^RABBITMQ_\([A-Z_]*\)=\(.*\)$/\1='\2'/p"
  } >"$nd/config/rabbitmq-env.conf"
  chown rabbitmq: "$nd" "$nd/mnesia" "$nd/log" "$nd/config" "$nd"/config/*
}

swc_write_cookie() {
  local d="$1"
  mkdir -p "$d/home"
  if [[ ! -s "$d/home/.erlang.cookie" ]]; then
    head -c 64 /dev/urandom | sha256sum | tr a-f A-F | cut -c1-32 | tr -d '\n' >"$d/home/.erlang.cookie"
  fi
  chmod 400 "$d/home/.erlang.cookie"
  chown rabbitmq: "$d/home" "$d/home/.erlang.cookie"
}

# swc_epmd ARGS...: the epmd binary against the cluster's port, as the rabbitmq user.
swc_epmd() { runuser -u rabbitmq -- env -i PATH="$SW_SYS_PATH" epmd -port "$SWC_EPMD_PORT" "$@"; }

swc_epmd_running() { swc_epmd -names >/dev/null 2>&1; }

# swc_start_epmd: the cluster's epmd on 127.0.0.1 and every node address (a VM would start one listening on
# 0.0.0.0 by itself; this one is ours, explicit, and stopped with the cluster).
swc_start_epmd() {
  swc_epmd_running && return 0
  if sw_port_open 127.0.0.1 "$SWC_EPMD_PORT"; then
    sw_die "port $SWC_EPMD_PORT is taken by something that is not an epmd; free it or set STOCKWIRE_CLUSTER_EPMD_PORT"
  fi
  local addrs="127.0.0.1" i
  for ((i = 1; i <= SWC_MAX_NODES; i++)); do addrs+=",$(swc_addr "$i")"; done
  (sw_close_inherited_fds; cd / && exec setsid runuser -u rabbitmq -- env -i PATH="$SW_SYS_PATH" \
    epmd -daemon -port "$SWC_EPMD_PORT" -address "$addrs") </dev/null >/dev/null 2>&1
  local deadline=$(($(sw_now) + 10))
  until swc_epmd_running; do
    (($(sw_now) >= deadline)) && sw_die "epmd did not start on port $SWC_EPMD_PORT"
    sleep 0.2
  done
}

swc_stop_epmd() {
  swc_epmd_running || return 0
  swc_epmd -kill >/dev/null 2>&1 || sw_warn "could not stop the cluster's epmd on port $SWC_EPMD_PORT (a node still registered?)"
}

# swc_launch DIR N: start node N's server in the background (returns at once; see swc_wait_up).
swc_launch() {
  local d="$1" n="$2" nd env_lines
  nd="$(swc_node_dir "$d" "$n")"
  mapfile -t env_lines < <(swc_node_env "$d" "$n")
  rm -f "$nd/rabbitmq.pid"
  echo "=== $(date -Is) start" >>"$nd/log/startup.log"
  # setsid: own session (a Ctrl-C in the caller's terminal does not hit it); setpriv: user rabbitmq with the
  # node's own group, which the partition rules recognise.
  (sw_close_inherited_fds; sw_raise_fd_limit; cd "$nd" && exec setsid setpriv --reuid=rabbitmq --regid="$(swc_gid "$n")" --clear-groups \
    -- env -i "${env_lines[@]}" "$SW_RMQ_BIN/rabbitmq-server") >>"$nd/log/startup.log" 2>&1 </dev/null &
  printf 'launcher_pid=%s\nnode=%s\nstarted=%s\n' "$!" "$(swc_node "$n")" "$(date -Is)" >"$nd/started-by-stockwire"
}

# swc_unblock_global DIR N: RabbitMQ 3.10.8 on Erlang >= 25.1 sometimes hangs a booting node in global:sync after
# it reconnects (after a partition heals, on a restart): the two global name servers wait for each other's sync.
# RabbitMQ's "global hang workaround" fakes a nodedown/nodeup between them after 20 s, but 3.10.8 sends them in
# the message format of Erlang < 25.1, which global ignores (rabbitmq-server#6034; fixed in 3.10.9 by PR #6046).
# This does what the fix does, in the new format, for every peer whose sync with node N has not moved for 2 s,
# while node N's boot waits in global:sync. No connection is closed, so no node sees a peer go down (a real
# disconnect makes a healthy node see a partial partition and pause). Prints the peers it unblocked.
swc_unblock_global() {
  SW_CMD_TIMEOUT=20 swc_ctl "$1" "$2" -q eval '
    InSync = fun(P) -> case erlang:process_info(P, current_stacktrace) of
                         {current_stacktrace, St} -> lists:keymember(global_sync, 2, St);
                         _ -> false end end,
    Tags = fun() -> {status, _, _, [PDict | _]} = sys:get_status(global_name_server),
                    [E || {{sync_tag_his, _}, _} = E <- PDict] end,
    Cid = fun(State, Node) -> case element(3, State) of
                                #{{connection_id, Node} := C} -> #{connection_id => C};
                                _ -> undefined end end,
    Fake = fun(Server, Node, undefined) -> Server ! {nodedown, Node}, Server ! {nodeup, Node};
              (Server, Node, C) -> Server ! {nodedown, Node, C}, Server ! {nodeup, Node, C} end,
    case rabbit:is_booting() andalso lists:any(InSync, processes()) of
      false -> ok;
      true ->
        Before = Tags(), timer:sleep(2000), After = Tags(),
        Blocked = [Peer || {{sync_tag_his, Peer}, _} = E <- After, lists:member(E, Before)],
        Me = node(),
        [begin
           PeerCid = Cid(erpc:call(Peer, sys, get_state, [global_name_server]), Me),
           MyCid = Cid(sys:get_state(global_name_server), Peer),
           Fake({global_name_server, Me}, Peer, MyCid),
           Fake({global_name_server, Peer}, Me, PeerCid)
         end || Peer <- Blocked],
        io:format("~s~n", [lists:join(",", [atom_to_list(P) || P <- Blocked])])
    end.' 2>/dev/null | grep -o 'stockwire-[0-9]@[0-9.]*' | paste -sd, - || true
}

# swc_wait_up DIR N DEADLINE: wait until node N's VM runs and its AMQP listener is open (the rabbit app has booted);
# from 3 s on, every 3 s, a boot hanging in global:sync is unblocked (swc_unblock_global). Fails if the VM exits or
# at DEADLINE.
swc_wait_up() {
  local d="$1" n="$2" deadline="$3" seen=0 next_check peers
  next_check=$(($(sw_now) + 3))
  while :; do
    if swc_pid "$d" "$n" >/dev/null; then
      seen=1
      swc_serving "$d" "$n" && return 0
      if (($(sw_now) >= next_check)); then
        peers="$(swc_unblock_global "$d" "$n")"
        [[ -z "$peers" ]] || sw_warn "node $n hung in global:sync with $peers (RabbitMQ 3.10.8 on Erlang 25, rabbitmq-server#6034): unblocked"
        next_check=$(($(sw_now) + 3))
      fi
    elif ((seen)); then
      return 1
    fi
    (($(sw_now) >= deadline)) && return 1
    sleep 0.3
  done
}

# swc_wait_member DIR N COUNT DEADLINE: wait until node N runs and sees a majority of the COUNT nodes (itself
# included) as running cluster members, i.e. it has joined or rejoined the cluster.
swc_wait_member() {
  local d="$1" n="$2" count="$3" deadline="$4" view members
  while :; do
    if swc_serving "$d" "$n" && view="$(swc_view "$d" "$n")"; then
      members="${view#* }"
      if [[ "$view" == running* && ",$members," == *",$n,"* ]] &&
        (($(tr ',' '\n' <<<"$members" | grep -c .) >= count / 2 + 1)); then
        return 0
      fi
    fi
    (($(sw_now) >= deadline)) && return 1
    sleep 0.5
  done
}

# swc_stop_node DIR N: graceful shutdown of node N (waits for its VM to exit); SIGKILL after 90 s.
swc_stop_node() {
  local d="$1" n="$2" pid nd
  nd="$(swc_node_dir "$d" "$n")"
  pid="$(swc_pid "$d" "$n")" || { rm -f "$nd/started-by-stockwire"; return 0; }
  if ! SW_CMD_TIMEOUT=90 swc_ctl "$d" "$n" -q shutdown >/dev/null 2>&1; then
    sw_warn "rabbitmqctl shutdown of node $n failed; SIGTERM to pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
  fi
  local deadline=$(($(sw_now) + 60))
  while swc_alive "$pid"; do
    if (($(sw_now) >= deadline)); then
      sw_warn "node $n (pid $pid) still alive after 60 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$nd/started-by-stockwire" "$nd/rabbitmq.pid"
}

# swc_kill_node DIR N: SIGKILL node N's VM (no shutdown, as when its machine dies); prints the pid.
swc_kill_node() {
  local pid
  pid="$(swc_pid "$1" "$2")" || return 1
  kill -KILL "$pid"
  while swc_alive "$pid"; do sleep 0.05; done
  echo "$pid"
}

swc_fail_node() {
  local d="$1" n="$2" msg="$3" nd
  nd="$(swc_node_dir "$d" "$n")"
  sw_log "ERROR: $msg"
  sw_tail_log "$nd/log/startup.log" 15
  sw_tail_log "$(swc_server_log "$d" "$n")" 30
  exit 1
}

# swc_amqp_urls DIR: the AMQP URL list of all nodes, comma-separated.
swc_amqp_urls() {
  local count urls="" i
  count="$(swc_count "$1")"
  for ((i = 1; i <= count; i++)); do urls+="${urls:+,}$(swc_amqp_url "$i")"; done
  echo "$urls"
}

# --------------------------------------------------------------------------------- partitions

swc_nft_table_exists() { nft list table ip "$SWC_NFT_TABLE" >/dev/null 2>&1; }

# swc_partition_rules DIR N: the nftables rules that cut node N off from the other nodes: every packet between
# its address and theirs (distribution), its epmd look-ups of them and theirs of it, and stream replication in
# both directions (to its replicas' ports, and from its processes to any replica port). Clients and CLI tools
# connect from 127.0.0.1 and are not affected.
swc_partition_rules() {
  local d="$1" n="$2" count i addr peers="" peer_gids=""
  count="$(swc_count "$d")"
  addr="$(swc_addr "$n")"
  for ((i = 1; i <= count; i++)); do
    ((i == n)) && continue
    peers+="${peers:+, }$(swc_addr "$i")"
    peer_gids+="${peer_gids:+, }$(swc_gid "$i")"
  done
  local t="ip $SWC_NFT_TABLE output" c="comment \"isolate node $n\""
  local range all_osiris="$SWC_OSIRIS_FIRST-$((SWC_OSIRIS_FIRST + 500))"
  range="$(swc_osiris_first "$n")-$(swc_osiris_last "$n")"
  cat <<EOF
add rule $t ip saddr $addr ip daddr { $peers } counter drop $c
add rule $t ip saddr { $peers } ip daddr $addr counter drop $c
add rule $t meta skgid $(swc_gid "$n") ip daddr { $peers } tcp dport $SWC_EPMD_PORT counter drop $c
add rule $t meta skgid { $peer_gids } ip daddr $addr tcp dport $SWC_EPMD_PORT counter drop $c
add rule $t meta skgid $(swc_gid "$n") tcp dport $all_osiris counter drop $c
add rule $t meta skgid $(swc_gid "$n") tcp sport $all_osiris counter drop $c
add rule $t tcp dport $range counter drop $c
add rule $t tcp sport $range counter drop $c
EOF
}

# swc_isolated_nodes: the node numbers cut off by our nftables table, one a line.
swc_isolated_nodes() {
  swc_nft_table_exists || return 0
  nft list table ip "$SWC_NFT_TABLE" | sed -n 's/.*comment "isolate node \([0-9]\)".*/\1/p' | sort -u
}

swc_dropped_packets() {
  swc_nft_table_exists || { echo 0; return 0; }
  nft list table ip "$SWC_NFT_TABLE" | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# --------------------------------------------------------------------------------- PostgreSQL

swc_pg_dir() { sw_existing_state_dir postgres-pair; }
SWC_PG_STANDBY_PORT="${STOCKWIRE_PG_STANDBY_PORT:-$((SW_PG_PORT + 1))}"

swc_pg_port() { if (($1 == 1)); then echo "$SW_PG_PORT"; else echo "$SWC_PG_STANDBY_PORT"; fi; }
swc_pg_name() { printf 'stockwire_pg%s\n' "$1"; }
swc_pg_other() { echo $((3 - $1)); }
swc_pg_data() { printf '%s/pg%s/data\n' "$1" "$2"; }
swc_pg_log() { printf '%s/pg%s/log/postgresql.log\n' "$1" "$2"; }
swc_pg_sock() { sw_pg_socket_dir "$1/pg$2"; }

swc_pg_conninfo() {
  printf 'host=%s,%s port=%s,%s user=stockwire password=stockwire dbname=stockwire target_session_attrs=read-write\n' \
    "$SW_HOST" "$SW_HOST" "$SW_PG_PORT" "$SWC_PG_STANDBY_PORT"
}
swc_pg_conninfo_one() {
  printf 'host=%s port=%s user=stockwire password=stockwire dbname=stockwire\n' "$SW_HOST" "$(swc_pg_port "$1")"
}

swc_pg_has_data() { [[ -s "$(swc_pg_data "$1" "$2")/PG_VERSION" ]]; }

# swc_pg_role DIR N: primary or standby as the data says (standby.signal), "none" without data.
swc_pg_role() {
  local data
  data="$(swc_pg_data "$1" "$2")"
  if [[ ! -s "$data/PG_VERSION" ]]; then echo none
  elif [[ -e "$data/standby.signal" ]]; then echo standby
  else echo primary; fi
}

# swc_pg_pid DIR N: the postmaster pid of server N if it runs (a killed one that is still a zombie does not).
swc_pg_pid() {
  local data pid
  data="$(swc_pg_data "$1" "$2")"
  pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null | tr -dc 0-9)"
  [[ -n "$pid" ]] && swc_alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres ]] || return 1
  echo "$pid"
}

# swc_pg_sql DIR N SQL: run SQL on server N as the postgres superuser over its socket; prints unaligned rows.
swc_pg_sql() {
  PGCONNECT_TIMEOUT=5 sw_pg_run "$SW_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$(swc_pg_sock "$1" "$2")" \
    -p "$(swc_pg_port "$2")" -U postgres -d postgres -c "$3"
}

# swc_pg_timeline DIR N: the timeline of server N's last checkpoint (a promoted standby has a higher one).
swc_pg_timeline() {
  sw_pg_run "$SW_PG_BIN/pg_controldata" "$(swc_pg_data "$1" "$2")" 2>/dev/null |
    sed -n "s/^Latest checkpoint's TimeLineID: *\([0-9]*\)$/\1/p"
}

# swc_pg_write_config DIR N: server N's settings (port, socket, replication) and access rules, before it starts.
# It starts without synchronous standby names: see swc_pg_make_standby.
swc_pg_write_config() {
  local d="$1" n="$2" data sock
  data="$(swc_pg_data "$d" "$n")"
  sock="$(swc_pg_sock "$d" "$n")"
  {
    echo "# Generated by deploy/local/postgres-pair.sh on every start; edits are overwritten."
    sw_pg_settings "$(swc_pg_port "$n")" "$sock"
    cat <<EOF
# Replication: this server is "$(swc_pg_name "$n")"; the standby's primary_conninfo is in postgresql.auto.conf
# (pg_basebackup -R).
cluster_name = '$(swc_pg_name "$n")'
wal_level = replica
max_wal_senders = 10
wal_keep_size = 512MB
hot_standby = on
hot_standby_feedback = on
# synchronous_standby_names lives in stockwire-sync.conf: empty until the standby streams, so that a primary
# never waits for a standby that is not there yet (and a promoted standby accepts writes at once).
include_if_exists 'stockwire-sync.conf'
EOF
  } >"$data/stockwire.conf"
  cat >"$data/pg_hba.conf" <<EOF
# Generated by deploy/local/postgres-pair.sh on every start; edits are overwritten.
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
local   replication  all                 trust
host    all          all   127.0.0.1/32  scram-sha-256
host    replication  all   127.0.0.1/32  scram-sha-256
EOF
  swc_pg_sync_file "$d" "$n" ""
  if ! grep -q "^include_if_exists 'stockwire.conf'" "$data/postgresql.conf"; then
    printf "\n# Stockwire local settings (deploy/local/postgres-pair.sh)\ninclude_if_exists 'stockwire.conf'\n" >>"$data/postgresql.conf"
  fi
  chown postgres: "$data/stockwire.conf" "$data/pg_hba.conf" "$data/postgresql.conf"
  chmod 600 "$data/stockwire.conf" "$data/pg_hba.conf"
}

# swc_pg_sync_file DIR N NAMES: write server N's synchronous_standby_names (no reload).
swc_pg_sync_file() {
  local data
  data="$(swc_pg_data "$1" "$2")"
  printf "# Generated by deploy/local/postgres-pair.sh / cluster.sh.\nsynchronous_standby_names = '%s'\n" "$3" >"$data/stockwire-sync.conf"
  chown postgres: "$data/stockwire-sync.conf"
  chmod 600 "$data/stockwire-sync.conf"
}

# swc_pg_sync_names DIR N: server N's configured synchronous_standby_names, quoted ('' = none).
swc_pg_sync_names() {
  sed -n "s/^synchronous_standby_names = \('.*'\)$/\1/p" "$(swc_pg_data "$1" "$2")/stockwire-sync.conf" 2>/dev/null || echo "''"
}

# swc_pg_start DIR N: start server N (pg_ctl -w) and wait until it accepts TCP connections.
swc_pg_start() {
  local d="$1" n="$2" data lock pid
  data="$(swc_pg_data "$d" "$n")"
  # A server killed a moment ago may still be a zombie, which PostgreSQL takes for a running postmaster when it
  # checks the pid in its lock files: remove locks whose process is dead or a zombie.
  for lock in "$data/postmaster.pid" "$(swc_pg_sock "$d" "$n")/.s.PGSQL.$(swc_pg_port "$n").lock"; do
    pid="$(head -n1 "$lock" 2>/dev/null | tr -dc 0-9)"
    [[ -n "$pid" ]] && ! swc_alive "$pid" && rm -f "$lock"
  done
  mkdir -p "$d/pg$n/log"
  chown postgres: "$d/pg$n/log"
  printf 'node=%s\nport=%s\nstarted=%s\n' "$(swc_pg_name "$n")" "$(swc_pg_port "$n")" "$(date -Is)" >"$d/pg$n/started-by-stockwire"
  (sw_close_inherited_fds; sw_pg_run "$SW_PG_BIN/pg_ctl" start -D "$data" -l "$(swc_pg_log "$d" "$n")" -w -t 90) >/dev/null 2>&1 ||
    return 1
  local deadline=$(($(sw_now) + 60))
  until sw_pg_run "$SW_PG_BIN/pg_isready" -q -h "$SW_HOST" -p "$(swc_pg_port "$n")" -t 2; do
    (($(sw_now) >= deadline)) && return 1
    sleep 0.3
  done
}

# swc_pg_stop DIR N: fast shutdown of server N (immediate after 60 s).
swc_pg_stop() {
  local d="$1" n="$2" data
  data="$(swc_pg_data "$d" "$n")"
  swc_pg_pid "$d" "$n" >/dev/null || { rm -f "$d/pg$n/started-by-stockwire"; return 0; }
  if ! (sw_pg_run "$SW_PG_BIN/pg_ctl" stop -D "$data" -m fast -w -t 60) >/dev/null 2>&1; then
    sw_warn "fast shutdown of $(swc_pg_name "$n") did not finish within 60 s; immediate shutdown"
    (sw_pg_run "$SW_PG_BIN/pg_ctl" stop -D "$data" -m immediate -w -t 30) >/dev/null 2>&1 || return 1
  fi
  rm -f "$d/pg$n/started-by-stockwire"
}

# swc_pg_replication DIR PRIMARY: the primary's view of its standby, "<state> <sync_state> <lag bytes>" (e.g.
# "streaming sync 0"), or "none" if no standby is connected.
swc_pg_replication() {
  local out
  out="$(swc_pg_sql "$1" "$2" "SELECT state, sync_state, COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint
    FROM pg_stat_replication WHERE application_name = '$(swc_pg_name "$(swc_pg_other "$2")")'" 2>/dev/null | head -n1)" || true
  if [[ -n "$out" ]]; then tr '|' ' ' <<<"$out"; else echo none; fi
}

# swc_pg_make_standby DIR N PRIMARY: (re)build server N as a streaming standby of PRIMARY with pg_basebackup -R,
# unless it already is one that streams; then make it synchronous. Server N must not run as a primary.
swc_pg_make_standby() {
  local d="$1" n="$2" p="$3" data rep deadline
  data="$(swc_pg_data "$d" "$n")"
  if [[ "$(swc_pg_role "$d" "$n")" == standby ]] &&
    grep -q "port=$(swc_pg_port "$p") " "$data/postgresql.auto.conf" 2>/dev/null; then
    swc_pg_write_config "$d" "$n"
    if ! swc_pg_pid "$d" "$n" >/dev/null; then
      swc_pg_start "$d" "$n" || { sw_tail_log "$(swc_pg_log "$d" "$n")" 30; sw_die "$(swc_pg_name "$n") (standby) did not start"; }
    fi
    deadline=$(($(sw_now) + 30))
    until [[ "$(swc_pg_replication "$d" "$p")" == streaming* ]]; do
      if (($(sw_now) >= deadline)); then
        sw_warn "$(swc_pg_name "$n") does not stream from $(swc_pg_name "$p") within 30 s: rebuilding it"
        break
      fi
      sleep 0.3
    done
  fi
  if [[ "$(swc_pg_replication "$d" "$p")" != streaming* ]]; then
    swc_pg_pid "$d" "$n" >/dev/null && { swc_pg_stop "$d" "$n" || sw_die "could not stop $(swc_pg_name "$n")"; }
    sw_log "pg_basebackup: $(swc_pg_name "$n") (port $(swc_pg_port "$n")) from $(swc_pg_name "$p") (port $(swc_pg_port "$p"))"
    rm -rf "$data"
    mkdir -p "$data" "$d/pg$n/log"
    chown postgres: "$data" "$d/pg$n" "$d/pg$n/log"
    chmod 700 "$data"
    (sw_pg_run "$SW_PG_BIN/pg_basebackup" -D "$data" -R -X stream -c fast --no-password \
      -d "host=$SW_HOST port=$(swc_pg_port "$p") user=stockwire password=stockwire application_name=$(swc_pg_name "$n")") \
      >"$d/pg$n/log/basebackup.log" 2>&1 || { sw_tail_log "$d/pg$n/log/basebackup.log" 20; sw_die "pg_basebackup failed"; }
    swc_pg_write_config "$d" "$n"
    swc_pg_start "$d" "$n" || { sw_tail_log "$(swc_pg_log "$d" "$n")" 30; sw_die "$(swc_pg_name "$n") (standby) did not start"; }
    deadline=$(($(sw_now) + 60))
    until [[ "$(swc_pg_replication "$d" "$p")" == streaming* ]]; do
      (($(sw_now) >= deadline)) && { sw_tail_log "$(swc_pg_log "$d" "$n")" 30; sw_die "$(swc_pg_name "$n") does not stream from $(swc_pg_name "$p")"; }
      sleep 0.3
    done
  fi
  # Streaming: from now on a commit on the primary waits for the standby to flush it.
  swc_pg_sync_file "$d" "$p" "$(swc_pg_name "$n")"
  swc_pg_sql "$d" "$p" "SELECT pg_reload_conf()" >/dev/null
  deadline=$(($(sw_now) + 30))
  until [[ "$(swc_pg_replication "$d" "$p")" == "streaming sync"* ]]; do
    (($(sw_now) >= deadline)) && sw_die "$(swc_pg_name "$n") streams but is not synchronous: $(swc_pg_replication "$d" "$p")"
    sleep 0.2
  done
}

# swc_pg_writable DIR N: server N accepts a write from the stockwire login over TCP (assigning a transaction id
# needs a primary, and its commit waits for a synchronous standby if one is configured).
swc_pg_writable() {
  PGCONNECT_TIMEOUT=3 timeout 10 "$SW_PG_BIN/psql" -X -q -At "$(swc_pg_conninfo_one "$2")" -c 'SELECT txid_current()' >/dev/null 2>&1
}
