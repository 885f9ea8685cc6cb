"""``python -m engineio_sync``: a demo echo server with a tiny web page."""

from __future__ import annotations

import argparse
import logging

from . import Server, listen

PAGE = b"""<!doctype html><meta charset="utf-8"><title>engineio_sync demo</title>
<h1>engineio_sync is running</h1>
<p>Engine.IO endpoint: <code>/engine.io/</code>. Connect any Engine.IO v4
client; every message is echoed back.</p>
"""


def _page(environ: dict, start_response) -> list[bytes]:
    start_response('200 OK', [('Content-Type', 'text/html; charset=utf-8'),
                              ('Content-Length', str(len(PAGE)))])
    return [PAGE]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog='python -m engineio_sync',
        description='Run an Engine.IO echo server.')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=5000)
    parser.add_argument('--async-mode', default=None,
                        choices=['eventlet', 'gevent', 'threading'])
    parser.add_argument('--ping-interval', type=float, default=25)
    parser.add_argument('--ping-timeout', type=float, default=20)
    parser.add_argument('-v', '--verbose', action='store_true')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose
                        else logging.INFO, format='%(asctime)s %(message)s')
    async_mode = args.async_mode
    if async_mode is None:
        try:
            import eventlet  # noqa: F401
            async_mode = 'eventlet'
        except ImportError:
            async_mode = 'threading'
    server = Server(async_mode=async_mode, ping_interval=args.ping_interval,
                    ping_timeout=args.ping_timeout)

    @server.on('message')
    def echo(sid: str, data: str | bytes) -> None:
        server.send(sid, data)

    def ready(_server: Server) -> None:
        print(f'engineio_sync demo ({async_mode}) on '
              f'http://{args.host}:{args.port}/', flush=True)

    try:
        listen(args.port, args.host, server=server, wsgi_app=_page,
               ready=ready)
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
