#!/usr/bin/env bash
# CI: build the Debian package and check what it holds. Needs cargo, the crates.io registry
# and dpkg-deb. Run from anywhere; `.ci/run` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    echo "== cargo install cargo-deb $CARGO_DEB_VERSION"
    cargo install --locked --quiet cargo-deb --version "$CARGO_DEB_VERSION"
fi

# Cargo.toml names the generated files under ./target/assets whatever the target directory.
out="${CARGO_TARGET_DIR:-target}"

echo "== cargo build --release"
cargo build --locked --quiet --release --bin slipguard

echo "== slipguard generate-assets target/assets (man pages, completions)"
rm -rf target/assets
"$out/release/slipguard" generate-assets target/assets

echo "== cargo deb --no-build --strip"
rm -f "$out"/debian/*.deb
# --strip: [profile.release] keeps line tables for profiling; the package does not need them.
cargo deb --locked --no-build --strip
deb="$(ls "$out"/debian/*.deb)"

echo "== dpkg-deb -I $deb"
dpkg-deb -I "$deb"

echo "== dpkg-deb -c $deb"
dpkg-deb -c "$deb"
files="$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')"

expected=(
    /usr/bin/slipguard
    /usr/lib/systemd/system/slipguard.service
    /usr/lib/systemd/system/slipguard.socket
    /etc/slipguard/slipguard.toml
    /usr/share/man/man1/slipguard.1.gz
    /usr/share/man/man5/slipguard.toml.5.gz
    /usr/share/bash-completion/completions/slipguard
    /usr/share/zsh/vendor-completions/_slipguard
    /usr/share/fish/vendor_completions.d/slipguard.fish
    /usr/share/doc/slipguard/copyright
    /usr/share/doc/slipguard/README.Debian
    /usr/share/doc/slipguard/contrib/koha/IntranetSlipPrinterJS.js
    /usr/share/doc/slipguard/contrib/evergreen/README.md
    /usr/share/doc/slipguard/contrib/evergreen/slipguard.user.js
    /usr/share/doc/slipguard/systemd.md
    /usr/share/doc/slipguard/changelog.Debian.gz
)
for d in systemd/drop-ins/*.d; do
    for f in "$d"/*.conf; do
        expected+=("/usr/share/doc/slipguard/examples/systemd/$(basename "$d")/$(basename "$f")")
    done
done
for sub in run check status spool spool-list spool-reprint spool-purge redact preview inspect \
    sample profiles template template-annotate; do
    expected+=("/usr/share/man/man1/slipguard-$sub.1.gz")
done
for p in printer-profiles/*.toml; do
    expected+=("/usr/share/slipguard/$p")
done
missing=0
for f in "${expected[@]}"; do
    if ! grep -qxF "$f" <<<"$files"; then
        echo "deb.sh: $f is not in $deb" >&2
        missing=1
    fi
done

control="$(mktemp -d)"
trap 'rm -rf "$control"' EXIT
dpkg-deb -e "$deb" "$control"
if ! grep -qxF /etc/slipguard/slipguard.toml "$control/conffiles"; then
    echo "deb.sh: /etc/slipguard/slipguard.toml is not a conffile" >&2
    missing=1
fi
# Installed, never enabled or started by the package: library IT does that once the printer
# is configured. Run the postinst of a first install with the systemd tools stubbed: it may
# record state, but neither enable nor start anything.
stubs="$control/stubs"
mkdir "$stubs"
for tool in deb-systemd-helper deb-systemd-invoke systemctl; do
    cat >"$stubs/$tool" <<STUB
#!/bin/sh
echo "$tool \$*" >>"$control/calls"
# A first install: dpkg has no state for the units yet.
[ "\$1" = debian-installed ] && exit 1
exit 0
STUB
    chmod +x "$stubs/$tool"
done
touch "$control/calls"
PATH="$stubs:$PATH" sh "$control/postinst" configure ""
if grep -E 'deb-systemd-helper (--quiet )?enable|deb-systemd-invoke|systemctl.* (enable|start|restart)' \
    "$control/calls"; then
    echo "deb.sh: a first install enables or starts the service (calls above)" >&2
    missing=1
fi
if ! dpkg-deb -f "$deb" Maintainer | grep -q .; then
    echo "deb.sh: no Maintainer field (set [package.metadata.deb] maintainer)" >&2
    missing=1
fi
# What dpkg -l would say once it is installed: its status record parsed by dpkg itself, in a
# database of its own (nothing is installed on this machine).
db="$control/db"
mkdir -p "$db/info" "$db/updates"
{ dpkg-deb -f "$deb" | sed '/^$/d'; echo "Status: install ok installed"; } >"$db/status"
said="$(dpkg --admindir="$db" -l slipguard 2>&1 >/dev/null || echo "dpkg -l failed")"
if [ -n "$said" ]; then
    echo "$said" >&2
    echo "deb.sh: dpkg -l warns about the installed package (above)" >&2
    missing=1
fi
# Lintian: no errors.
if ! command -v lintian >/dev/null; then
    apt-get update -qq && apt-get install -y -qq lintian >/dev/null
fi
echo "== lintian $deb"
if ! lintian --fail-on error "$deb"; then
    echo "deb.sh: lintian reports errors (above)" >&2
    missing=1
fi
if [ "$missing" != 0 ]; then
    echo "deb.sh: $deb fails its checks (above)" >&2
    exit 1
fi
echo "deb.sh: $deb: ${#expected[@]} expected files present"
