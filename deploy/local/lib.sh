# shellcheck shell=bash disable=SC2034,SC2016
# Shared helpers for the local server scripts (rabbitmq.sh, postgres.sh, servers.sh,
# rabbitmqctl.sh, test.sh). Source it; do not execute it.
#
# Everything lives under <repo>/.local (git-ignored). Nothing here hard-codes the repo path.
#
# Environment overrides:
#   STOCKWIRE_AMQP_PORT          (5672)   RabbitMQ AMQP listener on 127.0.0.1
#   STOCKWIRE_MGMT_PORT          (15672)  RabbitMQ management HTTP listener on 127.0.0.1
#   STOCKWIRE_PG_PORT            (5432)   PostgreSQL listener on 127.0.0.1
#   STOCKWIRE_RABBITMQ_NODENAME  (stockwire@localhost)
#   STOCKWIRE_LOCAL_DIR          (<repo>/.local) where server state goes
#   STOCKWIRE_FIX_PARENT_PERMS=1 if the state dir is not reachable by the service users, add o+x to
#                                its parents instead of falling back to /var/tmp/stockwire-<hash>
#   STOCKWIRE_RABBITMQ_START_TIMEOUT (180) / STOCKWIRE_PG_START_TIMEOUT (90) seconds

if [[ -n "${SW_LIB_LOADED:-}" ]]; then return 0; fi
SW_LIB_LOADED=1

SW_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
SW_REPO_ROOT="$(cd "$SW_LIB_DIR/../.." && pwd -P)"
SW_LOCAL_DIR="${STOCKWIRE_LOCAL_DIR:-$SW_REPO_ROOT/.local}"
SW_REPO_HASH="$(printf '%s' "$SW_REPO_ROOT" | sha256sum | cut -c1-10)"
SW_FALLBACK_BASE="/var/tmp/stockwire-$SW_REPO_HASH"

SW_HOST=127.0.0.1
SW_AMQP_PORT="${STOCKWIRE_AMQP_PORT:-5672}"
SW_MGMT_PORT="${STOCKWIRE_MGMT_PORT:-15672}"
SW_PG_PORT="${STOCKWIRE_PG_PORT:-5432}"

SW_SERVER_PACKAGES=(rabbitmq-server postgresql-15 postgresql-client-15)
# zlib1g-dev: the simulator's ShopifySchema reads the vendored, gzip-compressed Admin schema (tests and tools only;
# the service images do not link it).
SW_BUILD_PACKAGES=(librabbitmq-dev libpq-dev libssl-dev zlib1g-dev pkg-config)
SW_ALL_PACKAGES=("${SW_SERVER_PACKAGES[@]}" "${SW_BUILD_PACKAGES[@]}")
# What the scripts that run stockwire-scenario (demo.sh, test.sh) need beside the build: Debian's matplotlib, for
# Tools/charts/stockwire-chart, which draws the charts beside a scenario's JSON report (a run without it still
# passes, with a note instead of charts). Not needed to start the servers, so servers.sh leaves it out.
SW_TOOL_PACKAGES=(python3-matplotlib)

SW_SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---------------------------------------------------------------------------------------- logging

sw_log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${SW_COMPONENT:-stockwire}" "$*" >&2; }
sw_warn() { sw_log "WARNING: $*"; }
sw_die() { sw_log "ERROR: $*"; exit 1; }

# sw_tail_log FILE [LINES]: print the end of a server log to stderr (used on failures).
sw_tail_log() {
  local f="$1" n="${2:-40}"
  if [[ -f "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf -- '----- end of %s -----\n' "$f" >&2
  else
    sw_log "(no log file at $f)"
  fi
}

sw_now() { date +%s; }

# Closes every descriptor above stderr in the current (sub)shell. Call it in the subshell that starts a
# server in the background: a daemon must not keep its launcher's pipes and sockets open. (Foundation's
# Process, for one, learns that a child exited from a socket the child inherits; a server holding that
# socket made `servers.sh start` look as if it never finished to a Swift caller.)
# sw_fd_limit: the open-file limit to give a server: the hard limit, at most 65536. Debian's systemd unit gives
# RabbitMQ LimitNOFILE=65536; started from a shell it inherited 1024, and with three test runs sharing the broker it
# ran out ("Ranch acceptor reducing accept rate: out of file descriptors"): the connections it could not take piled
# up in CLOSE-WAIT while the clients retried, and it accepted nothing until killed.
sw_fd_limit() {
  local hard
  hard="$(ulimit -Hn)"
  [[ "$hard" == unlimited || "$hard" -gt 65536 ]] && hard=65536
  echo "$hard"
}

# sw_raise_fd_limit: raise this (sub)shell's open-file limit to sw_fd_limit, for a server about to be exec'd without
# PAM (setpriv). runuser goes through pam_limits, which sets 1024 again: there, prefix the server with
# `prlimit --nofile=N:`.
sw_raise_fd_limit() { ulimit -Sn "$(sw_fd_limit)" 2>/dev/null || true; }

sw_close_inherited_fds() {
  local path fd
  for path in /proc/"$BASHPID"/fd/*; do
    fd="${path##*/}"
    [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2)) && eval "exec ${fd}>&-" 2>/dev/null
  done
  return 0
}

sw_require_root() {
  [[ "$(id -u)" == 0 ]] || sw_die "this must run as root (it switches to the rabbitmq/postgres users itself)"
}

# --------------------------------------------------------------------------------------- packages

sw_pkg_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == installed ]]
}

# sw_ensure_packages PKG...: install the missing ones (apt-get update once first). Services the
# packages ship are NOT auto-started by the install (a temporary policy-rc.d denies it), so a fresh
# install never leaves a system-wide rabbitmq/postgres occupying our ports.
sw_ensure_packages() {
  local missing=() p
  for p in "$@"; do sw_pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  [[ "$(id -u)" == 0 ]] || sw_die "missing Debian packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})"
  sw_log "installing missing Debian packages: ${missing[*]}"
  if [[ -z "${SW_APT_UPDATED:-}" ]]; then
    apt-get update -o DPkg::Lock::Timeout=300
    export SW_APT_UPDATED=1
  fi
  local policy=/usr/sbin/policy-rc.d created="" rc=0
  if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, written by stockwire deploy/local/lib.sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -o DPkg::Lock::Timeout=300 "${missing[@]}" </dev/null || rc=$?
  [[ -n "$created" ]] && rm -f "$policy"
  ((rc == 0)) || sw_die "apt-get install ${missing[*]} failed (exit $rc)"
}

# ------------------------------------------------------------------------------------ networking

# sw_port_open HOST PORT: something accepts TCP connections there.
sw_port_open() {
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# sw_wait_port HOST PORT TIMEOUT
sw_wait_port() {
  local deadline=$(($(sw_now) + $3))
  until sw_port_open "$1" "$2"; do
    (($(sw_now) >= deadline)) && return 1
    sleep 0.5
  done
}

# sw_amqp_answers HOST PORT: the listener answers an AMQP 0-9-1 protocol header with a frame.
sw_amqp_answers() {
  local first
  first="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "AMQP\x00\x00\x09\x01" >&3
    head -c 1 <&3 | od -An -tx1' _ "$1" "$2" 2>/dev/null | tr -d ' \n' || true)"
  [[ "$first" == 01 ]]
}

# ------------------------------------------------------------------------------------ state dirs

# sw_user_can_reach USER DIR: USER can search DIR (and therefore every parent of it).
sw_user_can_reach() { runuser -u "$1" -- test -x "$2" 2>/dev/null; }

# sw_state_dir COMPONENT USER: create (if needed) and print the real path of the state dir for a
# component, owned by USER. Normally <repo>/.local/COMPONENT. If USER cannot traverse the parents
# of .local (e.g. the repo is cloned under /root), either add o+x to them
# (STOCKWIRE_FIX_PARENT_PERMS=1) or use /var/tmp/stockwire-<hash>/COMPONENT and leave a symlink
# .local/COMPONENT -> there, so logs are still found at the usual path.
sw_state_dir() {
  local comp="$1" user="$2" link="$SW_LOCAL_DIR/$1" dir
  mkdir -p "$SW_LOCAL_DIR"
  chmod o+x "$SW_LOCAL_DIR" 2>/dev/null || true
  if [[ -L "$link" ]]; then
    dir="$(readlink -f "$link")"
    mkdir -p "$dir"
    chmod 755 "$(dirname "$dir")" 2>/dev/null || true
  elif sw_user_can_reach "$user" "$SW_LOCAL_DIR"; then
    dir="$link"
    mkdir -p "$dir"
  elif [[ "${STOCKWIRE_FIX_PARENT_PERMS:-0}" == 1 ]]; then
    local p="$SW_LOCAL_DIR" parents=()
    while [[ "$p" != / ]]; do parents=("$p" "${parents[@]}"); p="$(dirname "$p")"; done
    for p in "${parents[@]}"; do
      if ! sw_user_can_reach "$user" "$p"; then
        sw_log "user $user cannot traverse $p: adding o+x (STOCKWIRE_FIX_PARENT_PERMS=1)"
        chmod o+x "$p"
      fi
    done
    sw_user_can_reach "$user" "$SW_LOCAL_DIR" || sw_die "user $user still cannot reach $SW_LOCAL_DIR"
    dir="$link"
    mkdir -p "$dir"
  else
    dir="$SW_FALLBACK_BASE/$comp"
    sw_log "NOTE: user $user cannot traverse the parents of $SW_LOCAL_DIR; keeping $comp data in $dir instead (symlinked from $link). Set STOCKWIRE_FIX_PARENT_PERMS=1 to chmod o+x the parents instead."
    mkdir -p "$dir"
    chmod 755 "$SW_FALLBACK_BASE"
    if [[ -d "$link" ]]; then
      rmdir "$link" 2>/dev/null || sw_die "$link exists but $user cannot use it; move it away"
    fi
    ln -sfn "$dir" "$link"
  fi
  chown "$user:" "$dir"
  sw_user_can_reach "$user" "$dir" || sw_die "user $user cannot reach its state dir $dir"
  printf '%s\n' "$dir"
}

# sw_existing_state_dir COMPONENT: print the state dir if it exists (no side effects).
sw_existing_state_dir() {
  local link="$SW_LOCAL_DIR/$1"
  if [[ -e "$link" ]]; then readlink -f "$link"; else printf '%s\n' "$link"; fi
}

# ------------------------------------------------------------------------------------- RabbitMQ

SW_RMQ_NODE="${STOCKWIRE_RABBITMQ_NODENAME:-stockwire@localhost}"
SW_RMQ_BIN=/usr/lib/rabbitmq/bin   # the real scripts; /usr/sbin/* are wrappers that reset HOME

# sw_rmq_env DIR: print NAME=VALUE lines (one per line) for the server and the CLI tools.
sw_rmq_env() {
  local d="$1"
  cat <<EOF
PATH=$SW_RMQ_BIN:$SW_SYS_PATH
HOME=$d/home
LANG=C.UTF-8
LC_ALL=C.UTF-8
RABBITMQ_NODENAME=$SW_RMQ_NODE
RABBITMQ_USE_LONGNAME=false
RABBITMQ_CONF_ENV_FILE=$d/config/rabbitmq-env.conf
RABBITMQ_CONFIG_FILE=$d/config/rabbitmq.conf
RABBITMQ_ADVANCED_CONFIG_FILE=$d/config/advanced.config
RABBITMQ_ENABLED_PLUGINS_FILE=$d/config/enabled_plugins
RABBITMQ_MNESIA_BASE=$d/mnesia
RABBITMQ_LOG_BASE=$d/log
RABBITMQ_FEATURE_FLAGS_FILE=$d/mnesia/feature_flags
RABBITMQ_PLUGINS_EXPAND_DIR=$d/mnesia/plugins-expand
RABBITMQ_PID_FILE=$d/rabbitmq.pid
RABBITMQ_DIST_PORT=$((SW_AMQP_PORT + 20000))
ERL_EPMD_ADDRESS=127.0.0.1
EOF
}

# sw_rmq_run DIR CMD ARGS...: run a RabbitMQ tool as the rabbitmq user with the node's environment
# (same HOME, hence the same Erlang cookie as the server). SW_CMD_TIMEOUT=N bounds the run time.
sw_rmq_run() {
  local d="$1" env_lines=()
  shift
  mapfile -t env_lines < <(sw_rmq_env "$d")
  local to=()
  [[ -n "${SW_CMD_TIMEOUT:-}" ]] && to=(timeout "$SW_CMD_TIMEOUT")
  if [[ "$(id -u)" == 0 ]]; then
    (cd "$d" && "${to[@]}" runuser -u rabbitmq -- env -i "${env_lines[@]}" "$@")
  elif [[ "$(id -un)" == rabbitmq ]]; then
    (cd "$d" && "${to[@]}" env -i "${env_lines[@]}" "$@")
  else
    sw_die "run as root (or as the rabbitmq user) to talk to the local RabbitMQ node"
  fi
}

# sw_rmqctl DIR ARGS...: rabbitmqctl -n NODE ARGS
sw_rmqctl() {
  local d="$1"
  shift
  sw_rmq_run "$d" "$SW_RMQ_BIN/rabbitmqctl" -n "$SW_RMQ_NODE" "$@"
}

# ------------------------------------------------------------------------------------ PostgreSQL

SW_PG_BIN=/usr/lib/postgresql/15/bin

# sw_pg_socket_dir DIR: the socket dir; a short /tmp path if the real one would exceed the
# 107-byte limit of a Unix socket path (deep CI checkouts).
sw_pg_socket_dir() {
  local s="$1/socket"
  if ((${#s} + ${#SW_PG_PORT} + 10 > 100)); then
    s="/tmp/stockwire-pg-$SW_REPO_HASH"
  fi
  printf '%s\n' "$s"
}

# sw_pg_run ARGS...: run a command as the postgres user with a clean environment.
# Runs from / : the caller's cwd (the repo) may not be accessible to postgres.
sw_pg_run() {
  if [[ "$(id -u)" == 0 ]]; then
    (cd / && runuser -u postgres -- env -i PATH="$SW_PG_BIN:$SW_SYS_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME=/var/lib/postgresql "$@")
  elif [[ "$(id -un)" == postgres ]]; then
    (cd / && env -i PATH="$SW_PG_BIN:$SW_SYS_PATH" LANG=C.UTF-8 LC_ALL=C.UTF-8 HOME="${HOME:-/tmp}" "$@")
  else
    sw_die "run as root (or as the postgres user)"
  fi
}

# sw_pg_settings PORT SOCKET_DIR: the settings every local PostgreSQL server gets (postgres.sh, and both servers of
# postgres-pair.sh), as the lines of an included configuration file.
sw_pg_settings() {
  cat <<EOF
listen_addresses = '$SW_HOST'
port = $1
unix_socket_directories = '$2'
max_connections = 200
shared_buffers = 256MB
effective_cache_size = 1GB
maintenance_work_mem = 64MB
# Durability is a product promise: every commit is flushed to disk.
fsync = on
synchronous_commit = on
full_page_writes = on
password_encryption = scram-sha-256
timezone = 'UTC'
log_timezone = 'UTC'
log_line_prefix = '%m [%p] %q%u@%d '
log_connections = off
log_min_duration_statement = 1000
EOF
}

# sw_pg_provision SOCKET_DIR PORT: role and database "stockwire" (idempotent), as the postgres superuser over the
# server's socket.
sw_pg_provision() {
  sw_pg_run "$SW_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$1" -p "$2" -U postgres -d postgres <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'stockwire') THEN
    CREATE ROLE stockwire LOGIN SUPERUSER CREATEDB PASSWORD 'stockwire';
  ELSE
    ALTER ROLE stockwire LOGIN SUPERUSER CREATEDB PASSWORD 'stockwire';
  END IF;
END
$$;
SELECT 'CREATE DATABASE stockwire OWNER stockwire'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'stockwire')\gexec
SQL
}

SW_AMQP_URL="amqp://guest:guest@$SW_HOST:$SW_AMQP_PORT/"
SW_PG_CONNINFO="host=$SW_HOST port=$SW_PG_PORT user=stockwire password=stockwire dbname=stockwire"

# Common start of the project's commands: root, the repository as working folder, Debian packages, Swift.
sw_prepare_build() {
  sw_require_root
  cd "$SW_REPO_ROOT"
  sw_ensure_packages "${SW_ALL_PACKAGES[@]}" "${SW_TOOL_PACKAGES[@]}"
  if ! command -v swift >/dev/null 2>&1; then
    export PATH="/opt/swift/usr/bin:$PATH"
    command -v swift >/dev/null 2>&1 || sw_die "no Swift toolchain: swift is not on PATH and not in /opt/swift/usr/bin"
  fi
}

# Prints the comment block at the top of a script (its --help).
sw_usage() { sed -n '2,/^set -/p' "$1" | sed '$d' | sed 's/^# \{0,1\}//'; }
