# Sourced by scripts/test.sh, after scripts/apt.sh: give the edge-cache tests
# (shop/tests/test_edge.py) Varnish with its xkey module, Debian's `varnish` and
# `varnish-modules` (the tests start their own varnishd on a spare port; on a host that runs
# systemd, the package also starts a varnish service on :6081, which
# `systemctl disable --now varnish` stops). Otherwise those tests skip, saying why, and so does
# the last line of `make test`; CI=true fails instead, as for the browser tests.

shelf_varnish() {
    shelf_need_program varnish "the edge-cache tests" SHELF_VARNISH_SKIP \
        "install Debian's varnish and varnish-modules (apt-get install varnish varnish-modules, as root)" \
        "{ command -v varnishd >/dev/null 2>&1 || [ -x /usr/sbin/varnishd ]; } \
         && ls /usr/lib/*/varnish/vmods/libvmod_xkey.so >/dev/null 2>&1" \
        -- --no-install-recommends varnish varnish-modules
}
