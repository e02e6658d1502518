#!/usr/bin/env bash
# CI: installs and starts the real clients that tests/clients.rs prints with, so that plain
# `cargo test` tests them (a test whose client is missing fails, naming this script). Run as
# root, before `cargo test`. Idempotent: installs only what is missing, starts cupsd only
# when no scheduler answers, and says what it did.
#
#   CUPS (Debian's cups, cups-client, cups-bsd): lpadmin, lp, lpstat, cancel, the `socket`
#     and `lpd` backends (the lpd backend is the tests' LPD client), and cupsd.
#   python-escpos (PyPI): escpos.printer.Network, as point-of-sale software prints.
#   Chromium (Debian's chromium): the headless browser of tests/browser.rs.
#
# Without systemd as PID 1, cupsd is started by hand: `/usr/sbin/cupsd` forks into the
# background; this waits until `lpstat -r` says the scheduler is running.
set -euo pipefail
start=$(date +%s)
did=()

# ---- CUPS --------------------------------------------------------------------------------
missing=()
for t in /usr/sbin/cupsd /usr/sbin/lpadmin /usr/bin/lp /usr/bin/lpstat /usr/bin/cancel \
    /usr/bin/lpr /usr/lib/cups/backend/socket /usr/lib/cups/backend/lpd; do
    [ -e "$t" ] || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "clients: missing ${missing[*]}"
    echo "clients: apt-get install -y -qq cups cups-client cups-bsd"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cups cups-client cups-bsd >/dev/null
    did+=("installed cups cups-client cups-bsd")
else
    did+=("CUPS already installed ($(dpkg-query -W -f='${Version}' cups-daemon 2>/dev/null || echo '?'))")
fi

scheduler_running() { LC_ALL=C lpstat -r 2>/dev/null | grep -q "scheduler is running"; }
if scheduler_running; then
    did+=("cupsd already running")
else
    echo "clients: starting /usr/sbin/cupsd"
    /usr/sbin/cupsd
    for _ in $(seq 300); do scheduler_running && break; sleep 0.1; done
    if ! scheduler_running; then
        echo "clients: cupsd did not start; its log:" >&2
        tail -n 30 /var/log/cups/error_log >&2 2>/dev/null || true
        exit 1
    fi
    did+=("started cupsd (pid $(pgrep -o -x cupsd || echo '?'))")
fi

# ---- python-escpos -----------------------------------------------------------------------
have_escpos() { python3 -c "from escpos.printer import Network, Dummy" 2>/dev/null; }
if have_escpos; then
    did+=("python-escpos already installed")
else
    echo "clients: python3 -m pip install 'python-escpos>=3.1,<4'"
    # A Debian python3 refuses pip outside a venv (PEP 668) unless told; a pyenv one does not.
    python3 -m pip install -q --root-user-action=ignore 'python-escpos>=3.1,<4' ||
        python3 -m pip install -q --root-user-action=ignore --break-system-packages \
            'python-escpos>=3.1,<4'
    have_escpos || { echo "clients: python-escpos still does not import" >&2; exit 1; }
    did+=("installed python-escpos")
fi
did+=("python-escpos $(python3 -m pip show python-escpos 2>/dev/null | sed -n 's/^Version: //p')")

# ---- Chromium (tests/browser.rs: a Koha slip page posting to the HTTP listener) -----------
if command -v chromium >/dev/null; then
    did+=("chromium already installed")
else
    echo "clients: apt-get install -y -qq chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    did+=("installed chromium")
fi
did+=("$(chromium --version 2>/dev/null || echo 'chromium ?')")

for d in "${did[@]}"; do echo "clients: $d"; done
echo "clients: ready in $(($(date +%s) - start))s"
