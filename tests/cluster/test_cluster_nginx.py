"""Two single-process servers ("hosts") behind nginx as a round-robin
balancer with no affinity (an ``upstream`` without ``ip_hash``): every
request of a session may reach either host. Node's engine.io-client runs
100 sessions that exchange numbered messages both ways, polling-only,
upgrading and WebSocket-only."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tests', 'deploy'))

from clusterkit import run_clients  # noqa: E402
from handoverlog import handover_counts  # noqa: E402
from deploykit import AppProcess, free_port  # noqa: E402
from nodeclient import node_available  # noqa: E402
from redisproc import redis_proc, redis_url  # noqa: E402,F401  (fixtures)

NGINX = shutil.which('nginx') or '/usr/sbin/nginx'

pytestmark = [pytest.mark.timeout(150),
              pytest.mark.skipif(not node_available(),
                                 reason='npm ci not run')]

HOST = ('import sys, cluster_app, engineio_sync\n'
        'engineio_sync.listen(int(sys.argv[1]), server=cluster_app.server,'
        ' wsgi_app=cluster_app.health, shutdown_timeout=1)\n')

NGINX_CONF = '''
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream hosts {{
        server 127.0.0.1:{one};
        server 127.0.0.1:{two};
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hosts;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_read_timeout 60s;
            proxy_next_upstream off;
        }}
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' close;
    }}
}}
'''


# A handover window that 100 clients starting at once on a busy machine
# meet (see test_cluster_gunicorn.py).
HANDOVER = '2'


@pytest.fixture
def balanced(redis_url):
    if not os.access(NGINX, os.X_OK):
        pytest.fail('nginx is not installed (.ci/run installs it)')
    env = {'EIO_CLUSTER': redis_url, 'PYTHONPATH': f'{REPO}:{HERE}',
           'EIO_LOG_HANDOVER': '1', 'EIO_HANDOVER': HANDOVER}
    hosts = []
    workdir = tempfile.mkdtemp(prefix='eio-nginx-')
    balancer = None
    try:
        for name in ('one', 'two'):
            port = free_port()
            hosts.append(AppProcess(
                f'host-{name}', [sys.executable, '-c', HOST, str(port)],
                port, env=env, ready_path='/health'))
        port = free_port()
        conf = os.path.join(workdir, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF.format(dir=workdir, port=port,
                                      one=hosts[0].port, two=hosts[1].port))
        balancer = AppProcess('nginx', [NGINX, '-p', workdir, '-c', conf],
                              port, ready_path='/health')
        yield balancer, hosts
    finally:
        for proc in ([balancer] if balancer else []) + hosts:
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for host in hosts:
        assert not host.tracebacks(), host.output()


@pytest.mark.parametrize('transports, upgrade', [
    ('polling', False), ('polling,websocket', True), ('websocket', False)])
def test_two_hosts_behind_round_robin_nginx(balanced, transports, upgrade):
    balancer, hosts = balanced
    stats = run_clients(balancer.url, 100, 20, transports, upgrade=upgrade)
    assert stats == {'sessions': 100, 'ok': 100,
                     'upgraded': 100 if upgrade else 0, 'owners': 2,
                     'failures': []}
    moved = proxied = 0
    for host in hosts:
        counts = handover_counts(host.stderr())
        moved, proxied = moved + counts[0], proxied + counts[1]
    print(f'moved {moved}, proxied {proxied}')
    if upgrade:
        # Round robin sends about half the WebSockets to the host that
        # did not answer the handshake: those sessions moved there.
        assert moved >= 25 and proxied <= 5, [h.output() for h in hosts]
    else:
        assert moved == proxied == 0
