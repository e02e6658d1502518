#!/usr/bin/env bash
# Peak memory of `slipguard run` against hostile clients: one daemon per case, started
# under GNU time (`/usr/bin/time -v`), a python client sending the case and, while it is in
# progress, a normal slip from a second connection; then SIGTERM, and the daemon's
# "Maximum resident set size" is reported with how the hostile job ended (from the log)
# and whether the normal slip printed: "yes" while the hostile client was still connected,
# "after" once it had finished (it was refused, or sent whole, within the first 0.5 s, or
# the normal slip was queued behind its job), "NO" not within 30 s.
#
# Needs GNU time at /usr/bin/time (Debian/Ubuntu: `apt-get install time`) and python3.
# Run from anywhere: `benches/memory.sh` (builds the release binary first). Set
# SLIPGUARD_BIN to use another binary, CASES="a b" to run only some cases.
set -euo pipefail

cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/time ] || ! /usr/bin/time -v true >/dev/null 2>&1; then
    echo "memory.sh: GNU time is missing at /usr/bin/time; install it: apt-get install time" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "memory.sh: needs python3" >&2; exit 2; }
if [ -z "${SLIPGUARD_BIN:-}" ]; then
    cargo build --release --quiet
    SLIPGUARD_BIN=target/release/slipguard
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

all_cases="baseline gs-v-0-silence gs-k-eof line-64mib line-64mib-job80 line-64mib-seg80
million-tiny million-cuts unknown-endless slow-drip-60"
cases=${CASES:-$all_cases}

# Extra [daemon] settings per case.
settings() {
    case "$1" in
        gs-v-0-silence) echo 'idle_timeout = "3s"' ;;
        line-64mib-job80) echo 'max_job_bytes = 83886080' ;;
        line-64mib-seg80) printf 'max_job_bytes = 83886080\nmax_segment_bytes = 83886080\n' ;;
        *) ;;
    esac
}

printf '%-18s %12s  %-7s  %s\n' case "max RSS KiB" "normal" "the hostile job"
for c in $cases; do
    dir="$work/$c"
    mkdir -p "$dir/out"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$dir/slipguard.toml" <<EOF
[daemon]
state_dir = "$dir/state"
runtime_dir = "$dir/run"
$(settings "$c")

[[printer]]
name = "desk"
profile = "generic-80mm"
device = "file://$dir/out"

[[listen]]
protocol = "raw"
address = "127.0.0.1:$port"
printer = "desk"
EOF
    /usr/bin/time -v -o "$dir/time.txt" "$SLIPGUARD_BIN" run --config "$dir/slipguard.toml" \
        2>"$dir/log" &
    timer=$!
    normal=$(python3 - "$c" "$port" "$dir/out" <<'PY'
import glob, socket, sys, threading, time

case, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
CUT = b"\x1dV\x00"

for _ in range(200):  # the daemon is listening once it has started
    try:
        socket.create_connection(("127.0.0.1", port)).close()
        break
    except OSError:
        time.sleep(0.05)

def conn():
    return socket.create_connection(("127.0.0.1", port))

def send_until_closed(s, chunk, times):
    try:
        for _ in range(times):
            s.sendall(chunk)
    except OSError:
        pass

def end(s):
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    s.settimeout(300)
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()

def job(s, data):
    send_until_closed(s, data, 1)
    end(s)

def drip(seconds):
    s = conn()
    data = b"\x1b@a slow drip of a slip\n" + CUT
    t = time.time()
    i = 0
    while time.time() - t < seconds:
        s.sendall(data[i % len(data):i % len(data) + 1])
        i += 1
        time.sleep(0.1)
    end(s)

def hostile():
    if case == "baseline":
        return
    if case == "gs-v-0-silence":  # 4 GiB declared, 1000 bytes sent, then silence
        s = conn()
        s.sendall(b"\x1b@\x1dv0\x00\xff\xff\xff\xff" + b"\x55" * 1000)
        s.settimeout(60)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    elif case == "gs-k-eof":  # 65,535 bytes declared, 100 sent, then EOF
        s = conn()
        s.sendall(b"\x1b@\x1d(k\xff\xff1P0" + b"9" * 100)
        time.sleep(2)
        end(s)
    elif case.startswith("line-64mib"):  # 64 MiB, no line feed, no cut
        s = conn()
        send_until_closed(s, b"A" * 65536, 1024)
        end(s)
    elif case == "million-tiny":  # a million ESC E n, one segment of 3 MB
        job(conn(), b"\x1b@" + b"\x1bE\x01\x1bE\x00" * 500000 + b"\n" + CUT)
    elif case == "million-cuts":  # a million cuts: a million segments of 3 bytes
        job(conn(), b"\x1b@" + CUT * 1000000)
    elif case == "unknown-endless":  # ESC 0xFF forever, a cut every 64 KiB
        s = conn()
        send_until_closed(s, b"\x1b\xff" * 32765 + b"\n\n" + CUT + b"\n", 16384)
        end(s)
    elif case == "slow-drip-60":  # 60 clients, a byte every 100 ms each, for 5 s
        ts = [threading.Thread(target=drip, args=(5,)) for _ in range(60)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

h = threading.Thread(target=hostile)
h.start()
time.sleep(0.5)
# A normal slip from another connection while the hostile one is in progress.
job(conn(), b"\x1b@normal slip\nline two\n" + CUT)
until = time.time() + 30
while not glob.glob(out + "/*.prn") and time.time() < until:
    time.sleep(0.02)
printed = bool(glob.glob(out + "/*.prn"))
meanwhile = h.is_alive() or case == "baseline"
h.join()
print("yes" if printed and meanwhile else ("after" if printed else "NO"))
PY
)
    # Let an accepted hostile job finish printing, then stop the daemon.
    sleep 1
    kill -TERM "$(pgrep -P "$timer")" 2>/dev/null || true
    wait "$timer" || true
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.txt")
    ended=$(grep -E 'job discarded|job not printed' "$dir/log" | head -1 | sed -E \
        's/.*(job discarded, nothing more printed|job not printed): //; s/ (job|listener)=.*//' || true)
    if [ -z "$ended" ]; then
        ended="printed ($(find "$dir/out" -name '*.prn' | wc -l) jobs printed in all)"
    fi
    printf '%-18s %12s  %-7s  %s\n' "$c" "$rss" "$normal" "$ended"
done
