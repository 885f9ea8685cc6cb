"""Serve the Django project with WebSocket support (eventlet.wsgi).

    make django-app            # or: .venv/bin/python examples/django_app/serve.py

then open http://127.0.0.1:5000/ (a Django view) and /live/ (realtime).
SIGTERM or Ctrl-C stops it gracefully.
"""

import argparse
import logging
import os
import sys
import warnings

# eventlet warns on import that it is in bug-fix-only mode (README.rst,
# "Which driver?"); filtered here, before eventlet is imported, so the
# example starts quietly. Only that warning: others still show.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

import eventlet  # noqa: E402, F401  (so the Server picks eventlet)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from chatsite.wsgi import application, eio  # noqa: E402

import engineio_sync  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int,
                        default=int(os.environ.get('PORT', 5000)))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO,
                        format='%(asctime)s %(name)s %(message)s')
    engineio_sync.listen(
        args.port, args.host, server=eio, wsgi_app=application,
        ready=lambda s: print(f'django_app on http://{args.host}:'
                              f'{s.listening_port}/', flush=True))


if __name__ == '__main__':
    main()
