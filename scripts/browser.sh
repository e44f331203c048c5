# Sourced by scripts/test.sh, after scripts/apt.sh: give the browser tests (pytest -m e2e) a
# Chromium.
#
# The tests drive the system's Chromium (/usr/bin/chromium, or SHELF_CHROMIUM) with Playwright;
# Playwright's own browser download does not work here. If it is missing:
#   - root on Debian: `apt-get install chromium` (after a quiet `apt-get update`), waiting for
#     the dpkg lock and trying twice;
#   - otherwise: say what to install and export SHELF_E2E_SKIP, so that only the browser tests
#     skip, with that reason;
#   - CI=true: fail instead, loudly. CI never skips the browser tests.

shelf_browser() {
    local chromium="${SHELF_CHROMIUM:-/usr/bin/chromium}" why os_id=""
    local hint="install Chromium (Debian: apt-get install chromium, as root) or point SHELF_CHROMIUM at one"
    [ -x "$chromium" ] && return 0
    [ -r /etc/os-release ] && os_id="$(. /etc/os-release && echo "${ID:-}")"
    if [ "$(id -u)" = 0 ] && [ "$os_id" = debian ] && command -v apt-get >/dev/null 2>&1; then
        echo "browser: installing Chromium for the browser tests (apt-get install chromium)"
        if shelf_apt_install chromium && [ -x "$chromium" ]; then
            echo "browser: $("$chromium" --version 2>/dev/null || echo "$chromium")"
            return 0
        fi
        why="apt-get install chromium did not give $chromium (see apt-get's errors above)"
    else
        why="no Chromium at $chromium (installing it here needs root on Debian)"
    fi
    if [ "${CI:-}" = "true" ]; then
        echo "browser: $why. CI runs the browser tests, so this is a failure: $hint." >&2
        return 1
    fi
    echo "browser: $why. SKIPPING the browser tests (-m e2e) only; to run them, $hint." >&2
    export SHELF_E2E_SKIP="$why; $hint"
}
