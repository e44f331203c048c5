# The edge cache: Varnish between nginx and the app servers (docs/stack.md, "The edge").
#
# It keeps only what the app marks as the same for everyone: a GET or HEAD from a visitor with
# no cookie but Django's CSRF cookie, answered 200 with an `xkey` header (the page's shelf tags,
# shelf/edge.py) and no Set-Cookie. Everything else passes through untouched, cookies included.
# Freshness does not come from a TTL: the app purges a page's tags (PURGE with an `xkey`
# header) after the commit that changed it, and a page whose fetch overlapped a purge is not
# kept (it may have been read before the change). The TTL is a backstop for what the app
# chooses by time (popular lists), from the app's X-Shelf-Edge-TTL.
#
# scripts/stack.py renders this file with local ports; docker/compose.yaml mounts it as is.
vcl 4.1;

import directors;
import std;
import var;
import xkey;

backend web1 { .host = "web1"; .port = "8000"; }
backend web2 { .host = "web2"; .port = "8000"; }
backend web3 { .host = "web3"; .port = "8000"; }

# Who may purge: the app servers (loopback here, compose's network there).
acl purgers {
    "127.0.0.1";
    "::1";
    "172.16.0.0"/12;
}

sub vcl_init {
    new apps = directors.round_robin();
    apps.add_backend(web1);
    apps.add_backend(web2);
    apps.add_backend(web3);
    # How many purges this edge has taken: a fetch is kept only if none came in while it ran.
    # A count, not a time: `now` has millisecond resolution here, and a fetch that started in
    # the same millisecond as a purge could not be told from one that started before it.
    var.global_set("purges", "0");
}

sub vcl_recv {
    # Only Varnish says that a request may be answered for everyone.
    unset req.http.X-Shelf-Edge;
    unset req.http.X-Shelf-Purges-Seen;
    set req.backend_hint = apps.backend();

    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(403, "Forbidden"));
        }
        # Before the purge itself: a fetch that started before this moment may hold the old
        # page, and vcl_backend_response keeps none of those. (Two purges at once may both
        # count to the same number: the count still moved past every fetch that started
        # before either, and one that started between them started after both arrived.)
        var.global_set("purges", "" + (std.integer(var.global_get("purges"), 0) + 1));
        set req.http.X-Purged = xkey.purge(req.http.xkey);
        return (synth(200, "Purged"));
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # An authorised call, or the CSRF token of the page's script: the visitor's own.
    if (req.http.Authorization || req.url ~ "^/csrf/") {
        return (pass);
    }
    # Django's CSRF cookie says nothing about the visitor (a page here has no token in it:
    # the page's script fetches one at the first form use). Any other cookie, a session or a
    # cart, passes the request through with all its cookies.
    if (req.http.Cookie) {
        set req.http.X-Other-Cookies = regsuball(req.http.Cookie, "(^|;)\s*(__Host-)?csrftoken=[^;]*", "");
        if (req.http.X-Other-Cookies ~ "[^;\s]") {
            unset req.http.X-Other-Cookies;
            return (pass);
        }
        unset req.http.X-Other-Cookies;
        unset req.http.Cookie;
    }
    set req.http.X-Shelf-Edge = "1";
    return (hash);
}

sub vcl_backend_fetch {
    if (bereq.http.X-Shelf-Edge) {
        set bereq.http.X-Shelf-Purges-Seen = var.global_get("purges");
    }
}

sub vcl_backend_response {
    if (bereq.http.X-Shelf-Edge
        && beresp.status == 200
        && beresp.http.xkey
        && !beresp.http.Set-Cookie
        && bereq.http.X-Shelf-Purges-Seen == var.global_get("purges")) {
        set beresp.ttl = std.duration(beresp.http.X-Shelf-Edge-TTL + "s", 300s);
        set beresp.grace = 0s;
        set beresp.keep = 0s;
        unset beresp.http.X-Shelf-Edge-TTL;
        return (deliver);
    }
    # Not for everyone, or perhaps older than a purge: this visitor only, and no
    # hit-for-miss object that would outlive the moment.
    set beresp.uncacheable = true;
    set beresp.ttl = 0s;
    return (deliver);
}

# An app server that refused or reset the connection: the next one, as nginx does, for a GET
# or HEAD only (a POST is never sent twice).
sub vcl_backend_error {
    if ((bereq.method == "GET" || bereq.method == "HEAD") && bereq.retries < 2) {
        return (retry);
    }
}

sub vcl_deliver {
    unset resp.http.xkey;
    unset resp.http.X-Shelf-Edge-TTL;
    if (obj.uncacheable) {
        set resp.http.X-Edge = "pass";
    } elseif (obj.hits > 0) {
        set resp.http.X-Edge = "hit";
    } else {
        set resp.http.X-Edge = "miss";
    }
}

sub vcl_synth {
    if (req.method == "PURGE") {
        set resp.http.X-Purged = req.http.X-Purged;
    }
}
