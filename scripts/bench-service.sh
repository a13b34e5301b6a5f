#!/usr/bin/env bash
# Service figures for BENCHMARKS.md: end-to-end time of the W1 job through HTTP, submit
# throughput, and GET /v1/jobs/{id} latency while every worker trains.
# Needs a release build (cargo build --release), curl, jq and wrk (apt-get install wrk jq).
#   bash scripts/bench-service.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./target/release/trainyard
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

start() { # start WORKERS PORT EXTRA...
  local workers=$1 port=$2; shift 2
  "$bin" serve --bind "127.0.0.1:$port" --database-url "sqlite://$work/db-$port.db" \
    --workers "$workers" "$@" > "$work/log-$port" 2>&1 &
  for _ in $(seq 1 100); do curl -sf "localhost:$port/healthz" >/dev/null && return; sleep 0.1; done
  echo "server on $port did not start" >&2; exit 1
}
w1_spec='{"name": "w1", "data": {"type": "builtin", "name": "iris", "standardize": true},
  "architecture": {"layers": [{"type": "dense", "units": 16, "activation": "relu"},
                              {"type": "dense", "units": 3, "activation": "softmax"}]},
  "optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
  "training": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
               "batch_size": 15, "epochs": 1000, "seed": 0}}'

echo "== end to end: the W1 job (iris 4-16-3, SGD, batch 15, 1000 epochs) through HTTP, 1 worker"
start 1 18081
for rep in 1 2 3 4 5; do
  t0=$(date +%s.%N)
  id=$(curl -sf localhost:18081/v1/jobs -H 'content-type: application/json' -d "$w1_spec" | jq -r .id)
  while [ "$(curl -sf "localhost:18081/v1/jobs/$id" | jq -r .status)" != succeeded ]; do sleep 0.002; done
  t1=$(date +%s.%N)
  curl -sf "localhost:18081/v1/jobs/$id" | python3 -c '
import datetime, json, sys
job = json.load(sys.stdin)
at = lambda key: datetime.datetime.fromisoformat(job[key].replace("Z", "+00:00"))
ms = lambda a, b: (at(b) - at(a)).total_seconds() * 1000
print("rep %s: server created->started %.1f ms, started->finished %.1f ms, created->finished %.1f ms"
      % (sys.argv[1], ms("created_at", "started_at"), ms("started_at", "finished_at"), ms("created_at", "finished_at")))
' "$rep"
  echo "       client: POST to observed succeeded $(echo "$t1 - $t0" | bc) s (includes curl polling)"
done

echo "== submit throughput: POST /v1/jobs for 10 s, 2 connections, no workers (jobs only queue)"
start 0 18082 --max-queued-jobs 1000000
printf 'wrk.method = "POST"\nwrk.body = [[%s]]\nwrk.headers["Content-Type"] = "application/json"\n' \
  "$(echo "$w1_spec" | tr -d '\n')" > "$work/post.lua"
wrk -t2 -c2 -d10s -s "$work/post.lua" http://127.0.0.1:18082/v1/jobs

echo "== GET /v1/jobs/{id} latency while both workers train (2 long digits jobs)"
start 2 18083
long='{"data": {"type": "builtin", "name": "digits"},
  "architecture": {"layers": [{"type": "dense", "units": 256, "activation": "relu"},
                              {"type": "dense", "units": 10, "activation": "softmax"}]},
  "optimizer": {"type": "adam"},
  "training": {"loss": "sparse_categorical_crossentropy", "batch_size": 32, "epochs": 2000, "seed": 1}}'
a=$(curl -sf localhost:18083/v1/jobs -H 'content-type: application/json' -d "$long" | jq -r .id)
curl -sf localhost:18083/v1/jobs -H 'content-type: application/json' -d "$long" >/dev/null
sleep 1
curl -sf "localhost:18083/v1/jobs?status=running" | jq -r '"running jobs: \(.items | length)"'
wrk -t1 -c4 -d10s --latency "http://127.0.0.1:18083/v1/jobs/$a"
curl -sf "localhost:18083/v1/jobs?status=running" | jq -r '"running jobs after: \(.items | length)"'
