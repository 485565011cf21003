#!/usr/bin/env bash
# Run every cargo-fuzz target in fuzz/ for SECONDS each (default 20). Installs cargo-fuzz when
# missing. cargo-fuzz wants nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# Exits non-zero on the first crash; the crashing input is kept under fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"

# libFuzzer (built by libfuzzer-sys) is C++.
if ! command -v c++ >/dev/null 2>&1; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends g++
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --version 0.13.2
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build -O
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    echo "== fuzz $target (${seconds}s)"
    log="$(mktemp)"
    if ! cargo fuzz run "$target" "corpus/$target" "seeds/$target" -O -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        tail -60 "$log"
        exit 1
    fi
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done)" "$log" || true
    rm -f "$log"
done
