#!/usr/bin/env bash
# CI: the README's first command (the daemon) and its "Try it" lines, twice in a row, from the
# checkout, as a new user runs them; the checkout must be as clean afterwards as before.
# The commands are read from README.md, so they cannot drift from what it says.
set -euo pipefail
cd "$(dirname "$0")/.."

first="$(awk '/^```sh$/{f=1; next} f{print; exit}' README.md | sed 's/ *#.*//')"
try="$(awk '/^Try it:/{t=1} t && /^```sh$/{f=1; next} f && /^```$/{exit} f' README.md)"
[ -n "$first" ] && [ -n "$try" ] || { echo "try-it.sh: README commands not found" >&2; exit 1; }
echo "first command: $first"
echo "try it:"
echo "$try"

before="$(git status --porcelain)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# The spool goes to scratch directories, not the system's (CI runs as root).
export STATE_DIRECTORY="$scratch/state" RUNTIME_DIRECTORY="$scratch/run"
cargo build --locked --quiet --release
for round in 1 2; do
    log="$scratch/log-$round"
    bash -c "exec $first" 2>"$log" &
    pid=$!
    for _ in $(seq 600); do grep -q "listening on raw 127.0.0.1:9100" "$log" && break; sleep 0.1; done
    grep -q "listening on raw 127.0.0.1:9100" "$log" || { cat "$log"; echo "try-it.sh: no daemon" >&2; exit 1; }
    # Wait for this round's file: the newest one must be new.
    count() { { ls slipguard-out/*.prn 2>/dev/null || true; } | wc -l; }
    n="$(count)"
    out="$(bash -euo pipefail -c "$(sed -n 1p <<<"$try")"; \
        for _ in $(seq 100); do [ "$(count)" -gt "$n" ] && break; sleep 0.1; done; \
        bash -euo pipefail -c "$(sed -n '2,$p' <<<"$try")")"
    kill -TERM "$pid"
    wait "$pid" || true
    echo "$out" | head -20
    grep -q "NGUY M" <<<"$out" || { cat "$log"; echo "try-it.sh: round $round: the redacted hold slip was not shown" >&2; exit 1; }
done
after="$(git status --porcelain)"
if [ "$before" != "$after" ]; then
    echo "try-it.sh: the README's commands left files in the checkout:" >&2
    diff <(echo "$before") <(echo "$after") >&2 || true
    exit 1
fi
rm -rf slipguard-out
echo "try-it.sh: the README's first command and Try it ran twice; the checkout is clean"
