"""``python -m engineio_sync``: the live demo (see :mod:`engineio_sync.demo`).

Serves an echo server and a page that shows Engine.IO at work on
http://127.0.0.1:5000/. The driver defaults to threading, as README.rst
("Which driver?") recommends for new deployments; ``--async-mode`` picks
another.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from . import Server, listen
from .demo import CLIENT_JS_HELP, find_client_bundle, make_server, \
    static_files


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and serve the demo until SIGTERM or Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog='python -m engineio_sync',
        description='Serve the engineio_sync live demo: an echo server and '
                    'a page that shows the transport, the upgrade, echoes, '
                    'round trips and the open sessions.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5000,
                        help='0 picks a free port')
    parser.add_argument('--async-mode', default='threading',
                        choices=['threading', 'gevent', 'eventlet'])
    parser.add_argument('--ping-interval', type=float, default=25)
    parser.add_argument('--ping-timeout', type=float, default=20)
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    # Before the eventlet driver imports eventlet: its "Eventlet is
    # deprecated" banner on every start says nothing README.rst does not
    # ("Which driver?"). Only that warning is filtered.
    warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
    if args.async_mode == 'gevent':
        # The gevent driver runs on a monkey-patched process (README.rst,
        # "Concurrency drivers"), and this process is the demo's own.
        from gevent import monkey
        monkey.patch_all()
    logging.basicConfig(level=logging.DEBUG if args.verbose
                        else logging.INFO, format='%(asctime)s %(message)s')
    client_js = find_client_bundle()
    if client_js is None:
        print(f'warning: {CLIENT_JS_HELP}', file=sys.stderr, flush=True)
    server = make_server(async_mode=args.async_mode,
                         ping_interval=args.ping_interval,
                         ping_timeout=args.ping_timeout)

    def ready(running: Server) -> None:
        port = running.listening_port
        print(f'engineio_sync demo ({args.async_mode}) on '
              f'http://{args.host}:{port}/', flush=True)

    try:
        listen(args.port, args.host, server=server,
               static_files=static_files(client_js), ready=ready)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
