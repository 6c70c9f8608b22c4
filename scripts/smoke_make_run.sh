#!/usr/bin/env bash
# `make run` as a newcomer meets it: a fresh clone, no DATABASE_URL or
# REDIS_URL, so the embedded PostgreSQL and Redis start under .data/.
# Passes when /api/health/ answers 200 and an order is accepted with the
# operator credentials that `make run` printed. Cleans up after itself.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=${SMOKE_PORT:-18765}
clone="$work/clone"
git clone -q "$src" "$clone"
cd "$clone"

cleanup() {
    if [ -n "${run_pid:-}" ] && kill -0 "$run_pid" 2>/dev/null; then
        kill -INT -- "-$run_pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$run_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL -- "-$run_pid" 2>/dev/null || true
    fi
    make -s stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "smoke: make run in a fresh clone (port $port)"
env -u DATABASE_URL -u REDIS_URL PORT="$port" setsid make run \
    >"$work/run.log" 2>&1 </dev/null &
run_pid=$!

base="http://127.0.0.1:$port"
for _ in $(seq 600); do
    if curl -fsS "$base/api/health/" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$run_pid" 2>/dev/null; then
        echo "smoke: make run exited early" >&2
        cat "$work/run.log" >&2
        exit 1
    fi
    sleep 0.5
done
curl -fsS "$base/api/health/" || { cat "$work/run.log" >&2; exit 1; }
echo

user=$(sed -n 's/^ *Operator *username: *//p' "$work/run.log" | head -1)
pass=$(sed -n 's/^ *password: *//p' "$work/run.log" | head -1)
[ -n "$user" ] && [ -n "$pass" ] || {
    echo "smoke: no operator credentials printed" >&2
    cat "$work/run.log" >&2
    exit 1
}

json() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
token=$(curl -fsS -X POST "$base/api/token/" -H 'Content-Type: application/json' \
    -d "{\"username\": \"$user\", \"password\": \"$pass\"}" | json token)
customer=$(curl -fsS -X POST "$base/api/customer/" \
    -H "Authorization: Token $token" -H 'Content-Type: application/json' \
    -d '{"name": "farbod"}' | json id)
status=$(curl -sS -o "$work/order.json" -w '%{http_code}' -X POST \
    "$base/api/order/" -H "Authorization: Token $token" \
    -H 'Content-Type: application/json' \
    -d "{\"crypto\": \"ABAN\", \"amount\": 1.5, \"customer_id\": $customer}")
cat "$work/order.json"
echo
[ "$status" = 201 ] || { echo "smoke: order answered $status" >&2; exit 1; }
echo "smoke: make run answers health and accepts an order"
