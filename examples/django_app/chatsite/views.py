from django.shortcuts import render

from .realtime import eio


def index(request):
    """A plain Django view; it can read the Engine.IO server's state."""
    return render(request, 'index.html', {'online': eio.clients_count,
                                          'async_mode': eio.async_mode})


def live(request):
    """The realtime page: engine.io-client in the browser."""
    return render(request, 'live.html')
