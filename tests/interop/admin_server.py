"""A python-socketio server with the Admin UI instrumentation
(``sio.instrument()``) on engineio_sync, for test_admin_ui.py.

``python admin_server.py DRIVER '<json auth>' [MODE]`` serves on a free
port of 127.0.0.1 with ``engineio_sync.listen()``, prints ``LISTENING
<port>`` and runs until SIGTERM. The auth is python-socketio's ``auth``
argument (``false``: none; a dict: the credentials the admin must send),
MODE its ``mode`` (``development``, the default, or ``production``). Server
stats go out every 0.3 s and pings every second, so that a test sees both
within a few seconds.
"""

from __future__ import annotations

import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

STATS_INTERVAL = 0.3


def serve(driver: str, auth: object, mode: str) -> None:
    if driver == 'eventlet':
        import eventlet
        eventlet.monkey_patch()
    elif driver == 'gevent':
        from gevent import monkey
        monkey.patch_all()
    sys.path.insert(0, REPO)
    from engineio_sync import listen
    from engineio_sync.socketio_compat import SocketIOServer

    sio = SocketIOServer(async_mode=driver, ping_interval=1)
    sio.instrument(auth=auth, mode=mode,
                   server_stats_interval=STATS_INTERVAL)

    @sio.event
    def join(sid: str, room: str) -> bool:
        sio.enter_room(sid, room)
        return True

    @sio.event
    def leave(sid: str, room: str) -> bool:
        sio.leave_room(sid, room)
        return True

    @sio.event
    def shout(sid: str, message: dict) -> None:
        sio.emit('shouted', message['text'], room=message['room'])

    @sio.event
    def hello(sid: str, text: str) -> str:
        return 'hello ' + text

    @sio.event
    def kick_me(sid: str) -> None:
        sio.disconnect(sid)

    def ready(server: object) -> None:
        print('LISTENING', server.listening_port, flush=True)

    listen(0, server=sio.eio, engineio_path='socket.io', ready=ready,
           shutdown_timeout=1)


if __name__ == '__main__':
    serve(sys.argv[1], json.loads(sys.argv[2]),
          sys.argv[3] if len(sys.argv) > 3 else 'development')
