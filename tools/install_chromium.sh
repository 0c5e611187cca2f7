#!/usr/bin/env bash
# Make sure Debian's Chromium is present for the browser tests (tests/test_site_browser.py,
# tests/test_lab_browser.py): Playwright drives it with executable_path, no browser download.
# Installs it with apt-get when missing and allowed (root); otherwise says plainly what to do.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    echo "browser: $(chromium --version 2>/dev/null || echo chromium) at $(command -v chromium)"
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "browser: installing Debian's chromium (apt-get) for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    echo "browser: $(chromium --version) at $(command -v chromium)"
    exit 0
fi
echo "browser: chromium is missing and cannot be installed here (needs root and apt-get)." >&2
echo "  install it (sudo apt-get install chromium) or set COURSE_CHROMIUM=/path/to/chromium;" >&2
echo "  without it the browser tests fail with that message." >&2
exit 1
