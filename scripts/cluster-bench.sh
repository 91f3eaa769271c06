#!/usr/bin/env bash
# redis-benchmark --cluster against a pika cluster and a redis-server cluster of the same
# shape (3 masters, 3 replicas, made by `redis-cli --cluster create`), one after the other on
# this machine, with rates side by side.
#
# usage: scripts/cluster-bench.sh [ROUNDS]
# env:   PIKA_BIN (target/release/pika)  TESTS (set,get)  CLIENTS (50)  REQUESTS (200000)
#        PIPELINE (1)  KEYSPACE (100000)
# needs: redis-server, redis-cli, redis-benchmark
set -euo pipefail
ROUNDS=${1:-3}
PIKA_BIN=${PIKA_BIN:-target/release/pika}
TESTS=${TESTS:-set,get}
CLIENTS=${CLIENTS:-50}; REQUESTS=${REQUESTS:-200000}; PIPELINE=${PIPELINE:-1}; KEYSPACE=${KEYSPACE:-100000}
work=$(mktemp -d /tmp/cluster-bench.XXXXXX)
base=$((21000 + RANDOM % 8000))
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all; rm -rf "$work"' EXIT

start_cluster() { # kind first-port -> starts six nodes and joins them
  local kind=$1 first=$2 addrs=()
  for i in 0 1 2 3 4 5; do
    local port=$((first + i)) dir="$work/$kind-$i"
    mkdir -p "$dir"
    if [ "$kind" = redis ]; then
      redis-server --port $port --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
        --save '' --appendonly no --dir "$dir" >/dev/null 2>&1 &
    else
      "$PIKA_BIN" --port $port --db-path "$dir/db" --log-path "$dir/log" \
        --cluster-enabled yes >/dev/null 2>&1 &
    fi
    pids+=($!)
    addrs+=("127.0.0.1:$port")
  done
  for i in 0 1 2 3 4 5; do
    for _ in $(seq 100); do redis-cli -p $((first + i)) ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
  for _ in $(seq 200); do
    ok=0
    for i in 0 1 2 3 4 5; do
      redis-cli -p $((first + i)) cluster info 2>/dev/null | grep -q 'cluster_state:ok' && ok=$((ok + 1))
    done
    [ $ok -eq 6 ] && break
    sleep 0.2
  done
}

rates() { # port -> "test rps" lines
  redis-benchmark --cluster -p "$1" -t "$TESTS" -c "$CLIENTS" -n "$REQUESTS" -P "$PIPELINE" \
    -r "$KEYSPACE" --csv 2>/dev/null | grep '^"' | grep -v '^"test"' | awk -F'","' '{gsub(/"/, "", $1); gsub(/"/, "", $2); print $1, $2}'
}

declare -A redis_rps pika_rps
for kind in redis pika; do
  start_cluster $kind $base
  for r in $(seq "$ROUNDS"); do
    while read -r name rps; do
      if [ $kind = redis ]; then redis_rps[$name]+="$rps "; else pika_rps[$name]+="$rps "; fi
    done < <(rates $base)
  done
  stop_all
  base=$((base + 10))
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf "%-8s %12s %12s %8s\n" test redis_rps pika_rps ratio
for name in "${!redis_rps[@]}"; do
  r=$(echo "${redis_rps[$name]}" | median); p=$(echo "${pika_rps[$name]:-0}" | median)
  printf "%-8s %12.0f %12.0f %8.2f\n" "$name" "$r" "$p" "$(echo "$p / $r" | bc -l)"
done
