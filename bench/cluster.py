"""Sessions over Redis: what the cluster option costs, per worker.

Usage: python3 bench/cluster.py [SECONDS] [eventlet,threading]

Starts its own redis-server and nginx (Debian's, on free ports of
127.0.0.1) and engineio_sync servers (our HTTP server, as ``listen()``
runs it, monkey-patched under eventlet as redis-py needs;
``servers/engineio_sync_server.py``), all on core 0, the load generator
(``node/loadgen.js``) on core 1, and measures, for each driver, each
setup behind the same nginx round-robin balancer with no affinity:

- ``single``: one server without the cluster option;
- ``cluster``: two servers with ``cluster='redis://...'``: a long-poll's
  GETs and POSTs land on both, so half of them cross through Redis.

for WebSocket echo (50 clients; a WebSocket-only session stays on the
process that accepted it, so messages do not cross), polling echo (50
clients) and handshake + upgrade (2,000 at concurrency 100; the upgrade
may land on the other process).

Reported per scenario: each setup's rate, its servers' CPU milliseconds
per 1,000 operations, Redis' CPU and commands per operation, and two
ratios against the single server:

- ``per_worker``: the cluster's rate / 2. Both workers, Redis and nginx
  share core 0 here, so this cannot exceed 0.5 by much.
- ``per_worker_core``: the single server's CPU per operation / a cluster
  worker's. This is what one worker would do on a core of its own (each
  server here is CPU-bound); it is the number the targets are set for.
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def redis_calls(port: int) -> int:
    """Commands redis-server on ``port`` has run so far (INFO stats)."""
    with socket.create_connection(('127.0.0.1', port), 2) as sock:
        sock.sendall(b'INFO stats\r\n')
        data = b''
        while b'total_commands_processed' not in data or \
                not data.endswith(b'\r\n'):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    for line in data.decode().splitlines():
        if line.startswith('total_commands_processed:'):
            return int(line.split(':')[1])
    return 0


def measure(workers: int, redis: tuple | None, mode: str, seconds: float,
            workdir: str) -> dict:
    """Each scenario against ``workers`` servers behind nginx: its rate,
    the servers' CPU seconds per 1,000 operations, and (with ``redis``,
    its (process, port)) Redis' CPU and commands per operation."""
    ports = [free_port() for _ in range(workers)]
    env = dict(os.environ, BENCH_MONKEY_PATCH='1')
    # This checkout unless another is named
    env.setdefault('ENGINEIO_SYNC_PATH', os.path.dirname(HERE))
    if redis:
        env['BENCH_CLUSTER'] = f'redis://127.0.0.1:{redis[1]}/0'
    servers = [start([PY, 'servers/engineio_sync_server.py', str(port),
                      'native', mode], env) for port in ports]
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
            cpu = [cpu_seconds(p.pid) for p in servers]
            redis_cpu = cpu_seconds(redis[0].pid) if redis else 0.0
            calls = redis_calls(redis[1]) if redis else 0
            out = subprocess.run(
                ['taskset', '-c', '1', 'node', 'node/loadgen.js', scenario,
                 '--port', str(front), '--label', f'{workers}w', *args,
                 *extra], cwd=HERE, capture_output=True, text=True,
                timeout=300).stdout.strip().splitlines()
            row = json.loads(out[-1]) if out else {}
            used = sum(cpu_seconds(p.pid) for p in servers) - sum(cpu)
            # CPU is counted over the whole run, warm-up included: the
            # operations are estimated alike for both setups.
            if scenario == 'connect_rate':
                ops = row.get('ok') or 0
            else:
                ops = (row.get(key) or 0) * (seconds + 1)
            entry = {'rate': row.get(key), 'errors': row.get('errors'),
                     'p99_ms': row.get('p99_ms'),
                     'server_cpu_s': round(used, 2)}
            if ops:
                entry['server_ms_per_1k'] = round(used / ops * 1e6, 1)
            if redis and ops:
                entry['redis_ms_per_1k'] = round(
                    (cpu_seconds(redis[0].pid) - redis_cpu) / ops * 1e6, 1)
                entry['redis_calls_per_op'] = round(
                    (redis_calls(redis[1]) - calls - 1) / ops, 2)
            result[scenario] = entry
        return result
    finally:
        stop([nginx] + servers)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    modes = (sys.argv[2].split(',') if len(sys.argv) > 2
             else ['eventlet', 'threading'])
    workdir = tempfile.mkdtemp(prefix='eio-bench-cluster-')
    redis_port = free_port()
    redis = start([REDIS, '--port', str(redis_port), '--bind', '127.0.0.1',
                   '--save', '', '--appendonly', 'no', '--dir', workdir])
    rows = []
    try:
        wait_port(redis_port)
        for mode in modes:
            single = measure(1, None, mode, seconds, workdir)
            cluster = measure(2, (redis, redis_port), mode, seconds, workdir)
            rows.append((mode, single, cluster))
    finally:
        stop([redis])
        shutil.rmtree(workdir, ignore_errors=True)
    for mode, single, cluster in rows:
        for scenario, _, _ in SCENARIOS:
            one, two = single[scenario], cluster[scenario]
            per_worker = (round(two['rate'] / 2 / one['rate'], 2)
                          if one['rate'] and two['rate'] else None)
            # What one worker on a core of its own would do with the
            # option, against one without it: CPU per operation.
            per_worker_core = (
                round(one['server_ms_per_1k'] / two['server_ms_per_1k'], 2)
                if one.get('server_ms_per_1k') and
                two.get('server_ms_per_1k') else None)
            print(json.dumps({'mode': mode, 'scenario': scenario,
                              'single': one, 'cluster_2_workers': two,
                              'per_worker': per_worker,
                              'per_worker_core': per_worker_core}))


if __name__ == '__main__':
    main()
