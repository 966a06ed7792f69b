#!/bin/sh
# The compose demo (service `demo` of compose.yaml; runs in the Stockwire image, needs only sh and curl).
# Like deploy/local/demo.sh in spirit, driven from outside over HTTP: one SKU in two simulated shops, a goods
# receipt through ingest, sales in both shops, and how fast a sale in one shop reached the other.
# Settings (env): DEMO_UNITS (20), DEMO_SALES (10), DEMO_SKU (DEMO-<time>).
set -eu
SIM="${SIM_URL:-http://shopify-sim:8081}"
INGEST="${INGEST_URL:-http://ingest:8080}"
UNITS="${DEMO_UNITS:-20}"
SALES="${DEMO_SALES:-10}"
SKU="${DEMO_SKU:-DEMO-$(date +%s)}"
SHOPS="shop-a.myshopify.com shop-b.myshopify.com"
TOKEN="$(cat /run/secrets/movement-token)"

log() { printf '• %s\n' "$*"; }
die() { printf '✘ %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
# level SHOP: the shop's available quantity of $SKU (empty when the SKU is not there yet)
level() {
  curl -fsS --max-time 2 "$SIM/_control/shops/$1/levels" | tr -d ' \n' | sed -n "s/.*\"$SKU\":\(-\{0,1\}[0-9]*\).*/\1/p"
}
wait_ready() {
  i=0
  until curl -fsS --max-time 2 -o /dev/null "$1"; do
    i=$((i + 1)); [ "$i" -lt 120 ] || die "$1 not ready after 120 s"; sleep 1
  done
}
# wait_level SHOP VALUE SECONDS
wait_level() {
  end=$(( $(date +%s) + $3 ))
  while [ "$(level "$1")" != "$2" ]; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.02
  done
}

log "waiting for ingest, calculator, exporter and the simulator"
wait_ready "$INGEST/readyz"
wait_ready "http://calculator:9102/readyz"
wait_ready "http://exporter:9103/readyz"
wait_ready "$SIM/_control/health"

for shop in $SHOPS; do
  curl -fsS --max-time 5 -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$SKU\",\"available\":0,\"title\":\"Compose demo\"}" "$SIM/_control/shops/$shop/variants" \
    || die "could not create $SKU in $shop"
done
log "created $SKU in both shops (their products/create webhooks register it); waiting for the registration"
sleep 3

log "goods receipt: $UNITS units of $SKU through ingest /stock-movements"
curl -fsS --max-time 10 -o /dev/null -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
  -d "{\"movement_id\":\"receipt-$SKU\",\"sku\":\"$SKU\",\"kind\":\"receipt\",\"quantity\":$UNITS}" \
  "$INGEST/stock-movements" || die "the goods receipt was refused"
for shop in $SHOPS; do
  wait_level "$shop" "$UNITS" 60 || die "$shop did not show $UNITS units within 60 s (docker compose logs exporter)"
done
log "both shops show $UNITS"

sold=0
expected="$UNITS"
total_ms=0
max_ms=0
i=0
while [ "$i" -lt "$SALES" ]; do
  if [ $((i % 2)) -eq 0 ]; then from=shop-a.myshopify.com; to=shop-b.myshopify.com
  else from=shop-b.myshopify.com; to=shop-a.myshopify.com; fi
  t0="$(now_ms)"
  if curl -fsS --max-time 5 -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"sku\":\"$SKU\",\"quantity\":1,\"buyer\":\"buyer-$i\"}" "$SIM/_control/shops/$from/checkout"; then
    sold=$((sold + 1)); expected=$((expected - 1))
    wait_level "$to" "$expected" 30 || die "$to did not follow the sale in $from within 30 s"
    ms=$(( $(now_ms) - t0 ))
    total_ms=$((total_ms + ms)); [ "$ms" -le "$max_ms" ] || max_ms="$ms"
    log "sold 1 in $from → $to shows $expected after $ms ms"
  fi
  i=$((i + 1))
done

a="$(level shop-a.myshopify.com)"; b="$(level shop-b.myshopify.com)"
printf '\n══ Compose demo ══\n'
printf '%s units, 2 shops, %s sales alternating between the shops\n' "$UNITS" "$sold"
[ "$sold" -gt 0 ] && printf 'a sale in one shop reached the other after %s ms on average, %s ms at most\n' \
  "$((total_ms / sold))" "$max_ms"
printf 'shop-a shows %s, shop-b shows %s, expected %s: %s\n' "$a" "$b" "$expected" \
  "$([ "$a" = "$expected" ] && [ "$b" = "$expected" ] && echo passed || echo FAILED)"
printf 'RabbitMQ management: http://127.0.0.1:15672 (user stockwire, password in secrets/amqp-password)\n'
[ "$a" = "$expected" ] && [ "$b" = "$expected" ]
