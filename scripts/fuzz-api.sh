#!/usr/bin/env bash
# Property-based checks of the whole HTTP API against openapi.yaml with Schemathesis: no
# response may be a server error, and every status code, content type, header and body must
# be one the document describes. Runs against a fresh release server (SQLite in a temporary
# directory, one worker, a small --max-work so that generated jobs stay short), with a
# succeeded job, an imported model, a dataset and a sweep created first so that the paths
# with ids reach their handlers rather than 404. Needs a release build, curl, jq and
# Python 3 with network access to PyPI (Schemathesis is installed into a virtualenv).
#   bash scripts/fuzz-api.sh [SECONDS]     # time budget, default 300
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
bin=./target/release/trainyard
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

venv=${SCHEMATHESIS_VENV:-/tmp/trainyard-schemathesis}
[ -x "$venv/bin/schemathesis" ] || {
  python3 -m venv "$venv" && "$venv/bin/pip" install -q 'schemathesis>=4,<5'
}

port=18099
base="http://127.0.0.1:$port"
"$bin" serve --bind "127.0.0.1:$port" --database-url "sqlite://$work/fuzz.db" --workers 1 \
  --max-work 1000000000 > "$work/server.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done

post() { curl -sf "$base$1" -H "content-type: $2" --data-binary "@$3" | jq -r .id; }
job=$(post /v1/jobs application/json examples/xor-inline.json)
while [ "$(curl -sf "$base/v1/jobs/$job" | jq -r .status)" != succeeded ]; do sleep 0.1; done
curl -sf "$base/v1/jobs/$job/model?format=json" > "$work/model.json"
model=$(post /v1/models application/json "$work/model.json")
printf 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n' > "$work/data.csv"
dataset=$(post '/v1/datasets?name=fuzz&label_column=label' text/csv "$work/data.csv")
sweep=$(post /v1/sweeps application/json examples/sweeps/optimizers.json)

# Each kind of path gets the id of a resource that exists.
for pair in "^/v1/jobs/|^/jobs/=$job" "^/v1/models/=$model" "^/v1/datasets/=$dataset" \
  "^/v1/sweeps/|^/sweeps/=$sweep"; do
  printf '[[operations]]\ninclude-path-regex = "%s"\nparameters = { "path.id" = "%s" }\n\n' \
    "${pair%%=*}" "${pair#*=}"
done > "$work/schemathesis.toml"

# Excluded checks: the schema accepts specs that cross-field rules then refuse (a 422 for
# generated "valid" data is correct), there is no per-user authorization to probe, and
# DELETE would remove the resources the other operations are pointed at. Run from the
# temporary directory, where Schemathesis keeps its `.schemathesis` cache.
(cd "$work" && "$venv/bin/schemathesis" --config-file schemathesis.toml run "$base/openapi.yaml" \
  --max-time "$seconds" --workers 2 --checks all \
  --exclude-checks positive_data_acceptance,negative_data_rejection,ignored_auth,object_level_authorization,use_after_free,ensure_resource_availability \
  --suppress-health-check all --exclude-method DELETE)
if grep -q 'status=5[0-9][0-9]\|panicked' "$work/server.log"; then
  echo "the server logged a server error or a panic:" >&2
  grep 'status=5[0-9][0-9]\|panicked' "$work/server.log" | head >&2
  exit 1
fi
