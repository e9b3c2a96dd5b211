#!/bin/bash
# Runs the decode fuzzer for a bounded time and fails on any finding (a crash, a sanitizer report, a property of
# decode_check.h that does not hold, a timeout or running out of memory). New interesting inputs go to a scratch
# directory and are thrown away; the corpus directories are only read. A finding's input is kept in ARTIFACT_DIR.
#
# Usage: run_fuzz.sh FUZZER SECONDS ARTIFACT_DIR CORPUS_DIR...
set -u
fuzzer=$1 seconds=$2 artifacts=$3
shift 3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mesl-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"

# detect_leaks=0: LibTorch keeps per-thread and global caches it never frees (thread pools, allocator and
# dispatcher tables created on first use), which LeakSanitizer would report as leaks of the first inputs.
export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$scratch" "$@" 2>&1 | tee "$scratch/log" | grep -v '^#[0-9]*.*\(NEW\|REDUCE\|pulse\)'
code=${PIPESTATUS[0]}
grep -E '^(stat::|Done|INFO: seed corpus)' "$scratch/log" || true
if [ "$code" -ne 0 ]; then
  echo "FAIL: the fuzzer stopped with exit code $code; its input is in $artifacts (replay: $fuzzer FILE)"
  exit 1
fi
echo "PASS: no finding in $seconds s"
