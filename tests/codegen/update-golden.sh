#!/usr/bin/env bash
# Regenerates the golden generated-C files after an intended generator change.
# Review the diff before committing it.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${SOCKFRAME_BIN:-build/tools/sockframe}
for name in dns kafka mongodb postgresql-typed http2-frames mysql modbus-tcp json-lines smtp-commands \
    websocket proxy-v2-tls proxy-v2-smtp zmtp-frames zmtp \
    memcached-binary tls-records postgresql mqtt; do
  "$bin" gen "parsers/$name.toml" -o "tests/codegen/golden/$name.bpf.c"
done
echo "golden files regenerated: git diff tests/codegen/golden"
