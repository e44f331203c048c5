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

# Give some tests a program they need: there already, or installed with shelf_apt_install when
# root on Debian. Otherwise only those tests skip, with the reason exported in <skip variable>
# (the tests and test.sh's last lines say it); under CI=true that is a failure instead.
#   shelf_need_program <label> <tests> <skip variable> <hint> <check command> -- <apt args...>
shelf_need_program() {
    local label="$1" tests="$2" skip_var="$3" hint="$4" check="$5" why os_id=""
    shift 5
    [ "${1:-}" = "--" ] && shift
    eval "$check" && return 0
    [ -r /etc/os-release ] && os_id="$(. /etc/os-release && echo "${ID:-}")"
    if [ "$(id -u)" = 0 ] && [ "$os_id" = debian ] && command -v apt-get >/dev/null 2>&1; then
        echo "$label: installing it for $tests (apt-get install $*)"
        if shelf_apt_install "$@" && eval "$check"; then
            return 0
        fi
        why="apt-get install $* did not give it (see apt-get's errors above)"
    else
        why="not found ($check failed; installing it here needs root on Debian)"
    fi
    if [ "${CI:-}" = "true" ]; then
        echo "$label: $why. CI runs $tests, so this is a failure: $hint." >&2
        return 1
    fi
    echo "$label: $why. SKIPPING $tests only; to run them, $hint." >&2
    export "$skip_var=$why; $hint"
}
