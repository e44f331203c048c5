"""scripts/stack.py's topology, without starting it: the nginx site it derives from
docker/nginx/shelf.conf. The load test on top is tested in bench/tests/test_stack.py."""

from scripts import stack


def test_the_site_keeps_the_upstream_options_with_local_servers_and_port():
    site = stack.render_site(9000, [9101, 9102])
    lines = [line.strip() for line in site.splitlines()]
    servers = [line for line in lines if line.startswith("server ") and line != "server {"]
    assert servers == [
        "server 127.0.0.1:9101 max_fails=3 fail_timeout=10s;",
        "server 127.0.0.1:9102 max_fails=3 fail_timeout=10s;",
    ]
    assert "listen 127.0.0.1:9000;" in site and "listen 80;" not in site
    original = stack.NGINX_CONF.read_text()
    assert site.count("proxy_next_upstream") == original.count("proxy_next_upstream")


def test_prometheus_scrapes_this_machines_processes_with_the_same_jobs_and_rules():
    conf = stack.render_prometheus()
    original = stack.PROMETHEUS_CONF.read_text()
    for name in ("web1", "redis-cache", "redis-state", "redis-exporter", "postgres-exporter"):
        assert name not in conf, name
    assert f'"127.0.0.1:{stack.APP_PORTS[0]}"' in conf
    assert f'"redis://127.0.0.1:{stack.STATE_PORT}"' in conf
    assert f"  - {stack.PROMETHEUS_CONF.with_name('alerts.yml')}" in conf
    assert conf.count("job_name:") == original.count("job_name:")
    assert conf.count("role: state") == 1
