#!/usr/bin/env bash
# Durability and scale-out figures for BENCHMARKS.md: the cost of checkpointing on the W4
# workload (SQLite), and jobs per minute for a batch of small jobs with one node and with two
# nodes on one PostgreSQL database.
# Needs a release build (cargo build --release), curl, jq, and PostgreSQL on 127.0.0.1:5432
# where the user `postgres` may create databases.
#   bash scripts/bench-durability.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${TRAINYARD_BIN:-./target/release/trainyard}
pg=${TRAINYARD_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d)
databases=()
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  for db in "${databases[@]}"; do psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $db" || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start() { # start PORT DATABASE_URL EXTRA...
  local port=$1 url=$2; shift 2
  "$bin" serve --bind "127.0.0.1:$port" --database-url "$url" "$@" > "$work/log-$port" 2>&1 &
  for _ in $(seq 1 100); do curl -sf "localhost:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "server on $port did not start" >&2; cat "$work/log-$port" >&2; exit 1
}
stop_all() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }
submit() { curl -sf "localhost:$1/v1/jobs" -H 'content-type: application/json' -d "$2" | jq -r .id; }
wait_done() { # wait_done PORT ID
  while [ "$(curl -sf "localhost:$1/v1/jobs/$2" | jq -r .status)" != succeeded ]; do sleep 0.05; done
}
span_ms() { # started→finished of a job, in ms
  curl -sf "localhost:$1/v1/jobs/$2" | python3 -c '
import datetime, json, sys
job = json.load(sys.stdin)
at = lambda key: datetime.datetime.fromisoformat(job[key].replace("Z", "+00:00"))
print("%.0f" % ((at("finished_at") - at("started_at")).total_seconds() * 1000))'
}

w4='{"name": "w4", "data": {"type": "generated", "name": "blobs", "samples": 60000, "features": 784,
         "classes": 10, "center_std": 0.12, "cluster_std": 1.0},
  "architecture": {"layers": [{"type": "dense", "units": 256, "activation": "relu"},
                              {"type": "dense", "units": 128, "activation": "relu"},
                              {"type": "dense", "units": 10, "activation": "softmax"}]},
  "initializer": {"type": "glorot_uniform"},
  "optimizer": {"type": "adam", "learning_rate": 0.001},
  "training": {"loss": "sparse_categorical_crossentropy", "batch_size": 128, "epochs": 3, "seed": 0}}'

echo "== checkpoint cost on W4 (60000×784, 784-256-128-10, Adam, batch 128, 3 epochs), SQLite, 1 worker"
echo "   started→finished of the job in ms (data generation included), 3 runs each"
for setting in "off:--checkpoint-every-epochs 0 --checkpoint-every-secs 0" \
               "every epoch:--checkpoint-every-epochs 1 --checkpoint-every-secs 0" \
               "every second:--checkpoint-every-epochs 0 --checkpoint-every-secs 1"; do
  label=${setting%%:*}; flags=${setting#*:}
  rm -f "$work/w4.db"*
  # shellcheck disable=SC2086
  start 18091 "sqlite://$work/w4.db" --workers 1 $flags
  times=()
  for _ in 1 2 3; do
    id=$(submit 18091 "$w4"); wait_done 18091 "$id"; times+=("$(span_ms 18091 "$id")")
  done
  echo "   checkpoints $label: ${times[*]} ms"
  stop_all
done

small='{"data": {"type": "builtin", "name": "iris", "standardize": true},
  "architecture": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                              {"type": "dense", "units": 3, "activation": "softmax"}]},
  "optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
  "training": {"loss": "sparse_categorical_crossentropy", "batch_size": 15, "epochs": 300, "seed": 1}}'
jobs=40

batch() { # batch LABEL PORT... : submits $jobs jobs round-robin over the ports, waits for all
  local label=$1; shift
  local ports=("$@") ids=() t0 t1 i=0
  t0=$(date +%s.%N)
  for n in $(seq 1 $jobs); do
    ids+=("${ports[$((n % ${#ports[@]}))]}:$(submit "${ports[$((n % ${#ports[@]}))]}" "$small")")
  done
  for entry in "${ids[@]}"; do wait_done "${entry%%:*}" "${entry#*:}"; done
  t1=$(date +%s.%N)
  python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print('   %s: %d jobs in %.2f s = %.0f jobs/min' % (sys.argv[3], $jobs, s, $jobs*60/s))" "$t0" "$t1" "$label"
}

echo "== jobs per minute: $jobs iris jobs (4-16-3, SGD, batch 15, 300 epochs) on PostgreSQL"
for layout in "one node, 1 worker:1" "two nodes, 1 worker each:1 1" "one node, 2 workers:2"; do
  label=${layout%%:*}; read -r -a nodes <<< "${layout#*:}"
  db="trainyard_bench_$$_${#databases[@]}"; databases+=("$db")
  psql -q "$pg/postgres" -c "CREATE DATABASE $db"
  ports=(); port=18100
  for workers in "${nodes[@]}"; do
    start $port "$pg/$db" --workers "$workers" --node-id "node-$port"; ports+=($port); port=$((port + 1))
  done
  batch "$label" "${ports[@]}"
  stop_all
done
