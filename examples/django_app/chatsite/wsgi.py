"""The WSGI entry point: Django wrapped by engineio_sync's WSGIApp.

``/engine.io/`` goes to the Engine.IO server, ``/vendor/engine.io.min.js``
is the client bundle from node_modules, everything else is Django.
"""

import os
import sys

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'chatsite.settings')
try:
    import engineio_sync
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))))
    import engineio_sync

from django.core.wsgi import get_wsgi_application  # noqa: E402

from .realtime import CLIENT_JS, eio  # noqa: E402

application = engineio_sync.WSGIApp(
    eio, get_wsgi_application(),
    static_files={'/vendor/engine.io.min.js': {
        'filename': CLIENT_JS, 'content_type': 'text/javascript'}})
