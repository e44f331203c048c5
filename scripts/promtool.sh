# Sourced by scripts/test.sh, after scripts/apt.sh: give the alert-rule test
# (scripts/tests/test_prometheus.py) promtool, which Debian ships in its `prometheus` package.
#
# Missing, and root on Debian: `apt-get install --no-install-recommends prometheus` (about 20 s
# and 30 MB here; on a host that runs systemd, the package also starts a Prometheus service on
# :9090, which `systemctl disable --now prometheus` stops). Otherwise the test skips, saying why,
# and so does the last line of `make test`; CI=true fails instead, as for the browser tests.

shelf_promtool() {
    local os_id="" why hint="install Debian's prometheus package (apt-get install prometheus, as root)"
    command -v promtool >/dev/null 2>&1 && return 0
    [ -r /etc/os-release ] && os_id="$(. /etc/os-release && echo "${ID:-}")"
    if [ "$(id -u)" = 0 ] && [ "$os_id" = debian ] && command -v apt-get >/dev/null 2>&1; then
        echo "promtool: installing it for the alert-rule test (apt-get install prometheus)"
        if shelf_apt_install --no-install-recommends prometheus && command -v promtool >/dev/null; then
            return 0
        fi
        why="apt-get install prometheus did not give promtool (see apt-get's errors above)"
    else
        why="no promtool on PATH (installing it here needs root on Debian)"
    fi
    if [ "${CI:-}" = "true" ]; then
        echo "promtool: $why. CI tests the alert rules, so this is a failure: $hint." >&2
        return 1
    fi
    echo "promtool: $why. SKIPPING the alert-rule test only; to run it, $hint." >&2
    export SHELF_PROMTOOL_SKIP="$why; $hint"
}
