# Sourced by scripts/test.sh: apt-get install for the programs the tests need (scripts/browser.sh,
# scripts/promtool.sh). Root on Debian only; the callers check.

# Another apt-get or unattended-upgrades may hold the dpkg lock (a fresh machine runs them at
# boot): wait for it up to 5 minutes instead of failing at once, and try twice, because a
# mirror that fails once mid-download usually answers the second time.
shelf_apt_install() {
    local attempt apt=(apt-get -o DPkg::Lock::Timeout=300 -q)
    for attempt in 1 2; do
        if DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq >/dev/null \
            && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "$@" >/dev/null; then
            return 0
        fi
        echo "apt-get: installing $* failed (attempt $attempt of 2)" >&2
        [ "$attempt" = 1 ] && sleep 10
    done
    return 1
}
