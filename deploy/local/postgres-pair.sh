#!/usr/bin/env bash
# Local PostgreSQL 15 pair for fault tests: a primary and a synchronous hot standby (streaming replication) on
# 127.0.0.1, role/database "stockwire" (password "stockwire") as with postgres.sh. Server "stockwire_pg1" listens on
# STOCKWIRE_PG_PORT (5432), "stockwire_pg2" on STOCKWIRE_PG_STANDBY_PORT (5433); either can be the primary (after
# a failover the standby is). State under <repo>/.local/postgres-pair/pg{1,2} (owned by postgres).
set -euo pipefail
SW_COMPONENT=postgres-pair
# shellcheck source=deploy/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=deploy/local/cluster-lib.sh
. "$SW_LIB_DIR/cluster-lib.sh"

usage() {
  cat <<EOF
usage: $(basename "$0") start|stop|status|--help

  start    initdb on first use; start the primary, make sure role and database "stockwire" exist, then the
           standby (pg_basebackup -R from the primary when it has no data or does not follow it), and once it
           streams make it synchronous (synchronous_standby_names). After a failover (cluster.sh pg-promote) the
           promoted server stays primary and the other one is rebuilt as its standby. Servers already running
           are left as they are.
  stop     stop both (primary first, so the standby receives everything), only what these scripts started.
  status   roles, replication state (streaming, sync/async, replay lag); exit 0 = a primary accepts
           connections, 2 = servers run but none is primary, 3 = not running.

Connection (libpq, several hosts): $(swc_pg_conninfo)
Ports: STOCKWIRE_PG_PORT, STOCKWIRE_PG_STANDBY_PORT. The single server (postgres.sh) uses STOCKWIRE_PG_PORT too:
stop it first, or move one of them. Faults (kill the primary, promote, rebuild): deploy/local/cluster.sh.
With a synchronous standby every commit waits for it: while the standby is down, commits on the primary wait
(cluster.sh pg-rejoin brings one back; a promoted standby runs alone until then).
EOF
}

fail_start() {
  sw_log "ERROR: $3"
  sw_tail_log "$(swc_pg_log "$1" "$2")" 40
  exit 1
}

pg_initdb() {
  local d="$1" n="$2" data
  data="$(swc_pg_data "$d" "$n")"
  [[ -z "$(ls -A "$data")" ]] || sw_die "$data is not empty but holds no PostgreSQL cluster; move it away"
  sw_log "initdb $data"
  (sw_pg_run "$SW_PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --data-checksums) >"$d/pg$n/log/initdb.log" 2>&1 ||
    { sw_tail_log "$d/pg$n/log/initdb.log" 30; sw_die "initdb failed"; }
}

# choose_primary DIR: the server that is (or becomes) the primary, from the roles in the data.
choose_primary() {
  local d="$1" r1 r2
  r1="$(swc_pg_role "$d" 1)"
  r2="$(swc_pg_role "$d" 2)"
  case "$r1/$r2" in
    none/none | primary/none | primary/standby) echo 1 ;;
    none/primary | standby/primary) echo 2 ;;
    primary/primary)
      # After a failover: the promoted server has the higher timeline; the other one is rebuilt as its standby.
      local t1 t2
      t1="$(swc_pg_timeline "$d" 1)"
      t2="$(swc_pg_timeline "$d" 2)"
      if ((${t2:-0} > ${t1:-0})); then echo 2
      elif ((${t1:-0} > ${t2:-0})); then echo 1
      elif swc_pg_pid "$d" 2 >/dev/null && ! swc_pg_pid "$d" 1 >/dev/null; then echo 2
      else echo 1; fi
      ;;
    *) sw_die "no primary in $d (pg1: $r1, pg2: $r2); delete $d to start over" ;;
  esac
}

print_conn() { echo "PostgreSQL:          $(swc_pg_conninfo)"; }

cmd_start() {
  sw_require_root
  sw_ensure_packages postgresql-15 postgresql-client-15
  local d n p s t0
  d="$(sw_state_dir postgres-pair postgres)"
  t0=$(sw_now)
  [[ "$SW_PG_PORT" != "$SWC_PG_STANDBY_PORT" ]] || sw_die "STOCKWIRE_PG_PORT and STOCKWIRE_PG_STANDBY_PORT are both $SW_PG_PORT"
  for n in 1 2; do
    mkdir -p "$d/pg$n/data" "$d/pg$n/log"
    chown postgres: "$d/pg$n" "$d/pg$n/data" "$d/pg$n/log"
    chmod 700 "$d/pg$n/data"
    local sock
    sock="$(swc_pg_sock "$d" "$n")"
    mkdir -p "$sock"
    chown postgres: "$sock"
    if ! swc_pg_pid "$d" "$n" >/dev/null && sw_port_open "$SW_HOST" "$(swc_pg_port "$n")"; then
      sw_die "$SW_HOST:$(swc_pg_port "$n") is taken (by the single server of postgres.sh?); stop it, or set STOCKWIRE_PG_PORT / STOCKWIRE_PG_STANDBY_PORT"
    fi
    if swc_pg_has_data "$d" "$n" && [[ "$(cat "$(swc_pg_data "$d" "$n")/PG_VERSION")" != 15 ]]; then
      sw_die "$(swc_pg_data "$d" "$n") holds a PostgreSQL $(cat "$(swc_pg_data "$d" "$n")/PG_VERSION") cluster, not 15; move it away"
    fi
  done

  p="$(choose_primary "$d")"
  s="$(swc_pg_other "$p")"
  if ! swc_pg_pid "$d" "$p" >/dev/null; then
    swc_pg_has_data "$d" "$p" || pg_initdb "$d" "$p"
    swc_pg_write_config "$d" "$p"
    sw_log "starting the primary $(swc_pg_name "$p") on $SW_HOST:$(swc_pg_port "$p") (data: $(swc_pg_data "$d" "$p"))"
    swc_pg_start "$d" "$p" || fail_start "$d" "$p" "the primary did not become ready (pg_ctl start -w)"
  fi
  [[ "$(swc_pg_sql "$d" "$p" 'SELECT pg_is_in_recovery()')" == f ]] || fail_start "$d" "$p" "$(swc_pg_name "$p") runs but is not a primary"
  sw_pg_provision "$(swc_pg_sock "$d" "$p")" "$(swc_pg_port "$p")" || fail_start "$d" "$p" "could not create role/database stockwire"
  sw_log "standby $(swc_pg_name "$s") on $SW_HOST:$(swc_pg_port "$s")"
  swc_pg_make_standby "$d" "$s" "$p"
  swc_pg_writable "$d" "$p" || fail_start "$d" "$p" "the primary does not accept a write from the stockwire login"
  sw_log "primary $(swc_pg_name "$p") :$(swc_pg_port "$p") and synchronous standby $(swc_pg_name "$s") :$(swc_pg_port "$s") ready in $(($(sw_now) - t0))s"
  print_conn
}

cmd_stop() {
  local d n order=()
  d="$(swc_pg_dir)"
  [[ -d "$d" ]] || return 0
  # Primary first: its shutdown checkpoint still reaches the standby, and no commit waits for a stopped standby.
  if [[ "$(swc_pg_role "$d" 2)" == primary && "$(swc_pg_role "$d" 1)" != primary ]]; then order=(2 1); else order=(1 2); fi
  for n in "${order[@]}"; do
    local pid
    pid="$(swc_pg_pid "$d" "$n")" || { rm -f "$d/pg$n/started-by-stockwire"; continue; }
    sw_require_root
    sw_log "stopping $(swc_pg_name "$n") (pid $pid, port $(swc_pg_port "$n"))"
    swc_pg_stop "$d" "$n" || { sw_tail_log "$(swc_pg_log "$d" "$n")" 30; sw_die "could not stop $(swc_pg_name "$n")"; }
  done
}

cmd_status() {
  local d n primary="" running=0
  d="$(swc_pg_dir)"
  if [[ ! -d "$d/pg1" ]]; then
    echo "postgres pair: none (deploy/local/servers.sh start --postgres-standby)"
    return 3
  fi
  echo "postgres pair: (data: $d)"
  for n in 1 2; do
    local pid role="" state="NOT accepting" extra=""
    if pid="$(swc_pg_pid "$d" "$n")"; then
      running=$((running + 1))
      case "$(swc_pg_sql "$d" "$n" 'SELECT pg_is_in_recovery()' 2>/dev/null || true)" in
        f) role=primary; primary="$n" ;;
        t) role=standby ;;
        *) role="? (no answer)" ;;
      esac
      "$SW_PG_BIN/pg_isready" -q -h "$SW_HOST" -p "$(swc_pg_port "$n")" -t 2 && state=accepting
      if [[ "$role" == primary ]]; then
        local rep
        rep="$(swc_pg_replication "$d" "$n")"
        if [[ "$rep" == none ]]; then extra=", no standby connected"
        else read -r -a rep <<<"$rep"; extra=", standby ${rep[0]} ${rep[1]} (replay lag ${rep[2]} B)"; fi
        [[ "$(swc_pg_sync_names "$d" "$n")" == "''" ]] || extra+=", synchronous_standby_names $(swc_pg_sync_names "$d" "$n")"
      fi
      printf '  %s %s:%s  %s, pid %s, %s%s\n' "$(swc_pg_name "$n")" "$SW_HOST" "$(swc_pg_port "$n")" "$role" "$pid" "$state" "$extra"
    else
      printf '  %s %s:%s  stopped (data: %s)\n' "$(swc_pg_name "$n")" "$SW_HOST" "$(swc_pg_port "$n")" "$(swc_pg_role "$d" "$n")"
    fi
  done
  echo "  conn: $(swc_pg_conninfo)"
  echo "  logs: $d/pg1/log/postgresql.log, $d/pg2/log/postgresql.log"
  if [[ -n "$primary" ]]; then return 0; elif ((running > 0)); then return 2; else return 3; fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
