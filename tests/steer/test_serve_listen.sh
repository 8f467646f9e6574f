#!/bin/bash
# Runs serve_listen_check.sh in a private network namespace (root; 77 = SKIP without).
if [ "$(id -u)" != 0 ]; then echo "SKIPPED: needs root for a private network namespace and sk_lookup"; exit 77; fi
exec timeout 170 unshare -n bash "$(dirname "$0")/serve_listen_check.sh"
