#!/usr/bin/env bash
# Ingest benchmark: signed Shopify webhooks/s and latency at this machine's limit.
#
#   Tools/webhook-load/bench.sh [duration-seconds=30] [connections=128] [wrk-threads=1]
#
# Builds ingest and webhook-load in release mode (scratch path .build-ingest), creates a RabbitMQ vhost of its
# own (so the shared calculator.events queue is untouched), starts ingest on 127.0.0.1:18090 against it with the
# production topology (quorum queue + stream), generates pre-signed requests, runs wrk, prints wrk's latency
# distribution, CPU time per process (total and per webhook) and the broker's message count, then stops ingest and
# deletes the vhost.
# Env: INGEST_PUBLISHER_CONNECTIONS (default 2), STOCKWIRE_RABBITMQCTL (default deploy/local/rabbitmqctl.sh),
#   INGEST_BIN (run this ingest binary instead of building one, e.g. a copy of an earlier build, to compare two
#   builds in the same minutes), BENCH_TOPOLOGY (default production; `classic` or `quorum` rebinds the exchange to
#   one queue of that type instead of the quorum queue + stream, through the management API on :15672: NOT the
#   production topology, only to see what ingest reaches when the broker is cheaper).
# The RabbitMQ CPU is the whole node's: other work on the same broker (another benchmark) counts in it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DURATION="${1:-30}"
CONNECTIONS="${2:-128}"
THREADS="${3:-1}"
PUBLISHERS="${INGEST_PUBLISHER_CONNECTIONS:-2}"
TOPOLOGY="${BENCH_TOPOLOGY:-production}"
RMQCTL="${STOCKWIRE_RABBITMQCTL:-deploy/local/rabbitmqctl.sh}"
VHOST="ingest-bench-$$"
PORT=18090
WORK="$(mktemp -d)"
export PATH="/opt/swift/usr/bin:$PATH"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[[ -n "${INGEST_BIN:-}" ]] || swift build -c release --scratch-path .build-ingest --product ingest >&2
swift build -c release --scratch-path .build-ingest --product webhook-load >&2
BIN=".build-ingest/release"
INGEST="${INGEST_BIN:-$BIN/ingest}"

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

STOCKWIRE_LOG_LEVEL=warning "$INGEST" --host 127.0.0.1 --port "$PORT" \
  --shops "bench.myshopify.com=$WORK/secret" --publisher-connections "$PUBLISHERS" \
  --amqp-url "amqp://guest:guest@127.0.0.1:5672/$VHOST" 2>"$WORK/ingest.log" &
ingest_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/ingest.log" >&2; echo "ingest not ready" >&2; exit 1; }
case "$TOPOLOGY" in
  production) ;;
  classic | quorum)
    api="http://127.0.0.1:15672/api"
    for q in calculator.events stockwire.events.log; do
      curl -sf -u guest:guest -X DELETE "$api/bindings/$VHOST/e/stockwire.events/q/$q/%23" >/dev/null
    done
    arguments='{"durable":true}'
    [[ "$TOPOLOGY" == quorum ]] && arguments='{"durable":true,"arguments":{"x-queue-type":"quorum"}}'
    curl -sf -u guest:guest -X PUT -H 'content-type: application/json' -d "$arguments" "$api/queues/$VHOST/bench.$TOPOLOGY" >/dev/null
    curl -sf -u guest:guest -X POST -H 'content-type: application/json' -d '{"routing_key":"#"}' \
      "$api/bindings/$VHOST/e/stockwire.events/q/bench.$TOPOLOGY" >/dev/null
    echo "NOT the production topology: stockwire.events routes only to one $TOPOLOGY queue (bench.$TOPOLOGY)"
    ;;
  *) echo "BENCH_TOPOLOGY must be production, classic or quorum" >&2; exit 1 ;;
esac

# Warm-up, then the measured run.
wrk -t "$THREADS" -c "$CONNECTIONS" -d 5s -s "$WORK/requests.lua" "http://127.0.0.1:$PORT" >/dev/null
beam_pid="$(pgrep -o -u rabbitmq beam.smp || true)"
cpu() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
ingest_cpu0=$(cpu "$ingest_pid"); beam_cpu0=$(cpu "${beam_pid:-0}")
echo "== wrk -t $THREADS -c $CONNECTIONS -d ${DURATION}s, ingest with $PUBLISHERS publisher connections, $(nproc) cores"
/usr/bin/time -o "$WORK/wrk.time" -f "%U %S" wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency \
  -s "$WORK/requests.lua" "http://127.0.0.1:$PORT" | tee "$WORK/wrk.out"
hz=$(getconf CLK_TCK)
ingest_ticks=$(( $(cpu "$ingest_pid") - ingest_cpu0 )); beam_ticks=$(( $(cpu "${beam_pid:-0}") - beam_cpu0 ))
requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
awk -v i="$ingest_ticks" -v b="$beam_ticks" -v hz="$hz" -v n="$requests" -v d="$DURATION" '
  NR == 1 { w = $1 + $2 }
  END {
    printf "cpu over %s s: ingest %.1f s, rabbitmq %.1f s, wrk %.1f s\n", d, i / hz, b / hz, w
    if (n > 0) printf "cpu per webhook: ingest %.0f us, rabbitmq %.0f us, wrk %.0f us\n", i / hz / n * 1e6, b / hz / n * 1e6, w / n * 1e6
  }' "$WORK/wrk.time"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E '^stockwire_ingest_(requests_total|rejects_total)' || true
sleep 6   # the broker refreshes queue counters every 5 s
"$RMQCTL" list_queues -p "$VHOST" name messages 2>/dev/null | grep -E 'calculator.events|stockwire.events.log|bench\.' || true
