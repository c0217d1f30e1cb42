#!/usr/bin/env bash
# Runs one fuzz target for a bounded time from its seed corpus; exit status
# non-zero on any finding (crash, sanitizer report, failed property, leak,
# timeout, memory limit). New inputs go to WORK_DIR, never to the seeds.
# Usage: run_fuzz_target.sh TARGET SEED_DIR WORK_DIR SECONDS
set -euo pipefail
target=$1 seeds=$2 work=$3 seconds=$4
mkdir -p "$work/corpus" "$work/findings"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/findings/" \
    "$work/corpus" "$seeds"
