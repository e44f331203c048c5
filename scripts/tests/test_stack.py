"""scripts/stack.py's topology, without starting it: the nginx site it derives from
docker/nginx/shelf.conf. The load test on top is tested in bench/tests/test_stack.py."""

from scripts import services, stack


def test_the_site_keeps_the_upstream_options_with_local_servers_and_port():
    site = stack.render_site(9000, [9101, 9102])
    lines = [line.strip() for line in site.splitlines()]
    servers = [line for line in lines if line.startswith("server ") and line != "server {"]
    assert servers == [
        "server 127.0.0.1:9101 max_fails=3 fail_timeout=10s;",
        "server 127.0.0.1:9102 max_fails=3 fail_timeout=10s;",
    ]
    assert "listen 127.0.0.1:9000;" in site and "listen 80;" not in site
    # nginx serves the pictures from the folder the stack's app processes write them to.
    assert f"root {stack.MEDIA.parent};" in site and stack.MEDIA.name == "media"
    assert stack.stack_env()["MEDIA_ROOT"] == str(stack.MEDIA)
    original = stack.NGINX_CONF.read_text()
    assert site.count("proxy_next_upstream") == original.count("proxy_next_upstream")


def test_the_edge_cache_has_the_local_app_servers_as_its_backends_and_nothing_else_changed():
    vcl = stack.render_vcl([9101, 9102])
    assert [line for line in vcl.splitlines() if line.startswith("backend ")] == [
        'backend web1 { .host = "127.0.0.1"; .port = "9101"; }',
        'backend web2 { .host = "127.0.0.1"; .port = "9102"; }',
    ]
    assert [line.strip() for line in vcl.splitlines() if "add_backend" in line] == [
        "apps.add_backend(web1);",
        "apps.add_backend(web2);",
    ]
    original = stack.VARNISH_VCL.read_text()
    assert vcl.split("sub vcl_recv", 1)[1] == original.split("sub vcl_recv", 1)[1]


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


def test_every_redis_role_gets_the_run_folders_password_in_its_url(tmp_path, monkeypatch):
    monkeypatch.setattr(stack, "STACK", tmp_path / "stack")
    env = stack.stack_env()
    password = (tmp_path / "stack" / "redis-password").read_text().strip()
    assert len(password) >= 32
    assert (tmp_path / "stack" / "redis-password").stat().st_mode & 0o777 == 0o600
    urls = {name: env[name] for name in ("REDIS_CACHE_URL", "REDIS_STATE_URL", "CELERY_BROKER_URL")}
    # services.py starts each role's redis-server with the URL's password as requirepass.
    servers = services.plan(urls)
    assert len(servers) == 3 and {s.password for s in servers} == {password}
    assert env["REDIS_PASSWORD"] == password  # redis_exporter's
    assert stack.stack_env()["REDIS_CACHE_URL"] == urls["REDIS_CACHE_URL"]  # kept, not remade
