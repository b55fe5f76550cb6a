#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer coverage instrumentation on the
# stable toolchain (the flags cargo-fuzz passes, minus the nightly-only
# AddressSanitizer; safe Rust needs none) and runs each for a while.
#
#   fuzz/run.sh                 # every target, 60 s each
#   fuzz/run.sh 300 message     # one target, 5 minutes
#
# A crash leaves its input in fuzz/artifacts/<target>/ and fails the run:
# turn it into a regression test in crates/sip-core/tests/ before fixing.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(message uri name_addr multipart sdp digest)
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps RUSTFLAGS off build scripts, as cargo-fuzz does
cargo build --release --bins --target "$triple"
./seed.sh
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== $t (${secs}s)"
    "target/$triple/release/$t" "corpus/$t" -max_total_time="$secs" \
        -artifact_prefix="artifacts/$t/" -rss_limit_mb=2048 -print_final_stats=1 2>&1 |
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|==|SUMMARY|.*panicked)' || true
    if compgen -G "artifacts/$t/crash-*" > /dev/null; then
        echo "crash found in $t: see fuzz/artifacts/$t/" >&2
        exit 1
    fi
done
