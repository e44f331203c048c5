# Sourced by scripts/test.sh, after scripts/apt.sh: give the alert-rule test
# (scripts/tests/test_prometheus.py) promtool, which Debian ships in its `prometheus` package.
#
# Missing, and root on Debian: `apt-get install --no-install-recommends prometheus` (about 20 s
# and 30 MB here; on a host that runs systemd, the package also starts a Prometheus service on
# :9090, which `systemctl disable --now prometheus` stops). Otherwise the test skips, saying why,
# and so does the last line of `make test`; CI=true fails instead, as for the browser tests.

shelf_promtool() {
    shelf_need_program promtool "the alert-rule test" SHELF_PROMTOOL_SKIP \
        "install Debian's prometheus package (apt-get install prometheus, as root)" \
        "command -v promtool >/dev/null 2>&1" -- --no-install-recommends prometheus
}
