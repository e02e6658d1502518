#!/usr/bin/env bash
# CI: what the systemd units need. Installs systemd-analyze if it is missing (Debian's
# systemd package; it runs without systemd as PID 1), so that tests/systemd_units.rs, run by
# `cargo test`, can check the units: call this before `cargo test`. Then prints the
# service's exposure figure for the record. Idempotent and quick; run from anywhere.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v systemd-analyze >/dev/null; then
    apt-get update -qq && apt-get install -y -qq systemd >/dev/null
fi
systemd-analyze --version | head -1

echo "== systemd-analyze security --offline=yes systemd/slipguard.service"
systemd-analyze security --offline=yes --no-pager systemd/slipguard.service | tail -1
