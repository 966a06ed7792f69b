#!/usr/bin/env bash
# Ingest benchmark: signed Shopify webhooks/s and latency at this machine's limit.
#
#   Tools/webhook-load/bench.sh [duration-seconds=30] [connections=128] [wrk-threads=1]
#
# Builds ingest and webhook-load in release mode (scratch path .build-ingest), creates a RabbitMQ vhost of its
# own (so the shared calculator.events queue is untouched), starts ingest on 127.0.0.1:18090 against it with the
# production topology (quorum queue + stream), generates pre-signed requests, runs wrk, prints wrk's latency
# distribution, CPU time per process and the broker's message count, then stops ingest and deletes the vhost.
# Env: INGEST_PUBLISHER_CONNECTIONS (default 2), STOCKWIRE_RABBITMQCTL (default deploy/local/rabbitmqctl.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DURATION="${1:-30}"
CONNECTIONS="${2:-128}"
THREADS="${3:-1}"
PUBLISHERS="${INGEST_PUBLISHER_CONNECTIONS:-2}"
RMQCTL="${STOCKWIRE_RABBITMQCTL:-deploy/local/rabbitmqctl.sh}"
VHOST="ingest-bench-$$"
PORT=18090
WORK="$(mktemp -d)"
export PATH="/opt/swift/usr/bin:$PATH"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
swift build -c release --scratch-path .build-ingest --product ingest >&2
swift build -c release --scratch-path .build-ingest --product webhook-load >&2
BIN=".build-ingest/release"

ingest_pid=""
cleanup() {
  if [[ -n "$ingest_pid" ]]; then kill -TERM "$ingest_pid" 2>/dev/null || true; wait "$ingest_pid" 2>/dev/null || true; fi
  "$RMQCTL" delete_vhost "$VHOST" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$RMQCTL" add_vhost "$VHOST" >/dev/null
"$RMQCTL" set_permissions -p "$VHOST" guest ".*" ".*" ".*" >/dev/null
printf 'bench-secret-%s\n' "$$" >"$WORK/secret"
"$BIN/webhook-load" --secret-file "$WORK/secret" --bodies 256 --output "$WORK/requests.lua" >&2

STOCKWIRE_LOG_LEVEL=warning "$BIN/ingest" --host 127.0.0.1 --port "$PORT" \
  --shops "bench.myshopify.com=$WORK/secret" --publisher-connections "$PUBLISHERS" \
  --amqp-url "amqp://guest:guest@127.0.0.1:5672/$VHOST" 2>"$WORK/ingest.log" &
ingest_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/ingest.log" >&2; echo "ingest not ready" >&2; exit 1; }

# Warm-up, then the measured run.
wrk -t "$THREADS" -c "$CONNECTIONS" -d 5s -s "$WORK/requests.lua" "http://127.0.0.1:$PORT" >/dev/null
beam_pid="$(pgrep -o -u rabbitmq beam.smp || true)"
cpu() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
ingest_cpu0=$(cpu "$ingest_pid"); beam_cpu0=$(cpu "${beam_pid:-0}")
echo "== wrk -t $THREADS -c $CONNECTIONS -d ${DURATION}s, ingest with $PUBLISHERS publisher connections, $(nproc) cores"
/usr/bin/time -f "wrk cpu: user %U s, sys %S s" wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency \
  -s "$WORK/requests.lua" "http://127.0.0.1:$PORT"
hz=$(getconf CLK_TCK)
echo "ingest cpu: $(( ($(cpu "$ingest_pid") - ingest_cpu0) / hz )) s, rabbitmq cpu: $(( ($(cpu "${beam_pid:-0}") - beam_cpu0) / hz )) s over ${DURATION} s"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^stockwire_ingest_(requests_total|rejects_total)' || true
sleep 6   # the broker refreshes queue counters every 5 s
"$RMQCTL" list_queues -p "$VHOST" name messages 2>/dev/null | grep -E 'calculator.events|stockwire.events.log' || true
