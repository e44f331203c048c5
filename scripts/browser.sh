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
    local chromium="${SHELF_CHROMIUM:-/usr/bin/chromium}"
    shelf_need_program browser "the browser tests (-m e2e)" SHELF_E2E_SKIP \
        "install Chromium (Debian: apt-get install chromium, as root) or point SHELF_CHROMIUM at one" \
        "[ -x '$chromium' ]" -- chromium || return 1
    [ -x "$chromium" ] && echo "browser: $("$chromium" --version 2>/dev/null || echo "$chromium")"
    return 0
}
