"""Sessions over Redis: what the cluster option costs, per worker.

Usage: python3 bench/cluster.py [SECONDS]

Starts its own redis-server and nginx (Debian's, on free ports of
127.0.0.1) and engineio_sync servers (threading driver, our HTTP server;
``servers/engineio_sync_server.py``), all on core 0, the load generator
(``node/loadgen.js``) on core 1, and measures, each behind the same nginx
round-robin balancer with no affinity:

- ``single``: one server without the cluster option;
- ``cluster``: two servers with ``cluster='redis://...'``: a long-poll's
  GETs and POSTs land on both, so half of them cross through Redis.

for WebSocket echo (50 clients; a WebSocket-only session stays on the
process that accepted it, so messages do not cross), polling echo (50
clients) and handshake + upgrade (2,000 at concurrency 100; the upgrade
may land on the other process). Reported per scenario: the rate of each
setup and the cluster's rate per worker against the single server's
(``per_worker``). Everything shares two cores here, so per-worker
numbers understate what two workers on their own cores would do.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.environ.get('BENCH_PY', os.path.expanduser(
    '~/.cache/engineio-bench-venv/bin/python'))
NGINX = shutil.which('nginx') or '/usr/sbin/nginx'
REDIS = shutil.which('redis-server') or '/usr/bin/redis-server'
SCENARIOS = [
    ('ws_echo_throughput', ['--clients', '50'], 'msgs_per_s'),
    ('polling_echo', ['--clients', '50'], 'rt_per_s'),
    ('connect_rate', ['--n', '2000', '--concurrency', '100'],
     'handshakes_per_s'),
]
NGINX_CONF = '''
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    upstream hosts {{
{servers}
        keepalive 64;
    }}
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' '';
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://hosts;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 60s;
            proxy_buffering off;
        }}
    }}
}}
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_port(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(('127.0.0.1', port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f'nothing listens on {port}')


def start(argv: list[str], env: dict | None = None,
          core: str = '0') -> subprocess.Popen:
    return subprocess.Popen(['taskset', '-c', core] + argv, cwd=HERE,
                            env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def measure(workers: int, redis_url: str | None, seconds: float,
            workdir: str) -> dict:
    ports = [free_port() for _ in range(workers)]
    env = dict(os.environ)
    if redis_url:
        env['BENCH_CLUSTER'] = redis_url
    servers = [start([PY, 'servers/engineio_sync_server.py', str(port),
                      'native', 'threading'], env) for port in ports]
    front = free_port()
    conf = os.path.join(workdir, f'nginx-{workers}.conf')
    with open(conf, 'w') as f:
        f.write(NGINX_CONF.format(
            dir=workdir, port=front, servers='\n'.join(
                f'        server 127.0.0.1:{p};' for p in ports)))
    nginx = start([NGINX, '-p', workdir, '-c', conf])
    try:
        for port in ports + [front]:
            wait_port(port)
        result = {}
        for scenario, args, key in SCENARIOS:
            extra = (['--duration', str(seconds), '--warmup', '1']
                     if scenario != 'connect_rate' else [])
            out = subprocess.run(
                ['taskset', '-c', '1', 'node', 'node/loadgen.js', scenario,
                 '--port', str(front), '--label', f'{workers}w', *args,
                 *extra], cwd=HERE, capture_output=True, text=True,
                timeout=300).stdout.strip().splitlines()
            row = json.loads(out[-1]) if out else {}
            result[scenario] = {'rate': row.get(key),
                                'errors': row.get('errors'),
                                'p99_ms': row.get('p99_ms')}
        return result
    finally:
        stop([nginx] + servers)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    workdir = tempfile.mkdtemp(prefix='eio-bench-cluster-')
    redis_port = free_port()
    redis = start([REDIS, '--port', str(redis_port), '--bind', '127.0.0.1',
                   '--save', '', '--appendonly', 'no', '--dir', workdir])
    try:
        wait_port(redis_port)
        single = measure(1, None, seconds, workdir)
        cluster = measure(2, f'redis://127.0.0.1:{redis_port}/0', seconds,
                          workdir)
    finally:
        stop([redis])
        shutil.rmtree(workdir, ignore_errors=True)
    for scenario, _, _ in SCENARIOS:
        one, two = single[scenario], cluster[scenario]
        per_worker = (round(two['rate'] / 2 / one['rate'], 2)
                      if one['rate'] and two['rate'] else None)
        print(json.dumps({'scenario': scenario, 'single': one,
                          'cluster_2_workers': two,
                          'per_worker': per_worker}))


if __name__ == '__main__':
    main()
