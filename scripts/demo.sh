#!/usr/bin/env bash
# The main job: set up, build, serve DNS-over-TCP with the shipped parser on the
# kernel path, send real queries with `dig +tcp`, print the framed messages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
port=${PORT:-5353}
out=$(mktemp)
err=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out" "$err"' EXIT

timeout 60 build/tools/sockframe serve dns --listen "127.0.0.1:$port" --format jsonl >"$out" 2>"$err" &
pid=$!
for _ in $(seq 50); do grep -q serving "$err" && break; sleep 0.1; done
cat "$err"
for name in example.com sockframe.test; do
  timeout 10 dig +tcp +tries=1 +time=2 -p "$port" @127.0.0.1 "$name" A >/dev/null || true  # no answers: we only frame
done
sleep 0.3
kill -INT "$pid"
wait "$pid"
echo "framed messages (one JSON object per DNS query):"
cat "$out"
count=$(grep -c '"len"' "$out" || true)
if [ "$count" -lt 2 ]; then
  echo "demo: expected 2 framed queries, got $count" >&2
  exit 1
fi
echo "demo: ok ($count queries framed by the $(grep -o "(.* path" "$err" | tr -d "("))"
