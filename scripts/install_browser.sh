#!/usr/bin/env bash
# Install a headless-capable Chromium and its WebDriver for the widget's browser tests.
# Idempotent: does nothing when both binaries are already present.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]]; then
    echo "install_browser: $CHROMIUM and $CHROMEDRIVER already present; nothing to do"
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "install_browser: not root and sudo is not available; cannot install chromium" >&2
    exit 1
fi

# apt's own chatter goes to a log; it is shown only when something fails.
log="$(mktemp -t install_browser.XXXXXX.log)"
trap 'rm -f "$log"' EXIT

run_apt() {
    if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" >>"$log" 2>&1; then
        echo "install_browser: 'apt-get $*' failed; last lines of its output:" >&2
        tail -n 30 "$log" >&2
        exit 1
    fi
}

run_apt update
run_apt install -y --no-install-recommends chromium chromium-driver

if [[ ! -x "$CHROMIUM" || ! -x "$CHROMEDRIVER" ]]; then
    echo "install_browser: apt-get finished but $CHROMIUM or $CHROMEDRIVER is missing" >&2
    exit 1
fi

echo "install_browser: installed chromium and chromium-driver with apt-get ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
