#!/usr/bin/env bash
# Throughput of single commands (XADD, PFADD, PFCOUNT, GEOADD, EVALSHA ...) on pika against
# redis-server, side by side, with redis-benchmark's custom-command form. Complements
# ../shared/bench/vs-redis.sh, whose -t list has no stream, HyperLogLog or geo tests.
#
# usage: scripts/vs-redis-commands.sh [ROUNDS]      (NAMES=EVALSHA for the script benchmark)
# env:   PIKA_BIN (target/release/pika)  NAMES ("XADD PFADD PFCOUNT GEOADD")
#        CLIENTS (50) REQUESTS (200000) PIPELINE (1) KEYSPACE (100000)
# needs: redis-server, redis-benchmark
set -euo pipefail
ROUNDS=${1:-3}
PIKA_BIN=${PIKA_BIN:-target/release/pika}
NAMES=${NAMES:-XADD PFADD PFCOUNT GEOADD}
CLIENTS=${CLIENTS:-50}; REQUESTS=${REQUESTS:-200000}; PIPELINE=${PIPELINE:-1}; KEYSPACE=${KEYSPACE:-100000}
work=$(mktemp -d /tmp/vs-redis-commands.XXXXXX)
rport=$((20000 + RANDOM % 10000)); pport=$((rport + 1))
redis-server --port $rport --save '' --appendonly no --dir "$work" --daemonize no >/dev/null 2>&1 & rpid=$!
"$PIKA_BIN" --port $pport --db-path "$work/db" --log-path "$work/log" >/dev/null 2>&1 & ppid=$!
trap 'kill $rpid $ppid 2>/dev/null || true; wait $rpid $ppid 2>/dev/null || true; rm -rf "$work"' EXIT
for p in $rport $pport; do
  for _ in $(seq 100); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done
done
rps() { # port command... -> requests per second
  redis-benchmark -p "$1" -c "$CLIENTS" -n "$REQUESTS" -P "$PIPELINE" -r "$KEYSPACE" --csv "${@:2}" 2>/dev/null \
    | tail -1 | awk -F'","' '{gsub(/"/, "", $2); print $2}'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
printf "%-10s %12s %12s %8s\n" command redis_rps ours_rps ratio
# EVALSHA runs this five-command script (SCRIPT LOAD'ed into both servers first).
SCRIPT="redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCR', KEYS[2]) redis.call('HSET', KEYS[3], 'f', ARGV[1]) redis.call('GET', KEYS[1]) return redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[3])"
for name in $NAMES; do
  case $name in
    EVALSHA) sha=$(redis-cli -p $rport SCRIPT LOAD "$SCRIPT"); redis-cli -p $pport SCRIPT LOAD "$SCRIPT" >/dev/null
      c=(EVALSHA "$sha" 3 k:__rand_int__ c:__rand_int__ h:__rand_int__ v) ;;
    XADD) c=(XADD s '*' f __rand_int__) ;;
    XRANGE) c=(XRANGE s - + COUNT 10) ;;
    PFADD) c=(PFADD h __rand_int__) ;;
    PFCOUNT) c=(PFCOUNT h) ;;
    GEOADD) c=(GEOADD g 13.36 38.11 __rand_int__) ;;
    *) echo "unknown command $name" >&2; exit 2 ;;
  esac
  theirs=""; ours=""
  for _ in $(seq "$ROUNDS"); do
    theirs+="$(rps $rport "${c[@]}") "; ours+="$(rps $pport "${c[@]}") "
  done
  R=$(echo "$theirs" | median); P=$(echo "$ours" | median)
  printf "%-10s %12s %12s %8s\n" "$name" "$R" "$P" "$(awk -v p="$P" -v r="$R" 'BEGIN{printf "%.2f", (r>0)? p/r : 0}')"
done
