"""Headless Chromium (Debian's chromium + chromedriver, via selenium) runs
the chat page of examples/flask_chat against each way of serving it."""

from __future__ import annotations

import pytest

from deploykit import browser, deployments, run_chat_scenario  # noqa: F401

pytestmark = pytest.mark.timeout(150)


@pytest.mark.parametrize('kind', [
    'flask',              # python examples/flask_chat/app.py (eventlet)
    'standalone',         # python examples/standalone.py (eventlet)
    'gunicorn-eventlet',  # gunicorn 25.x -k eventlet
    'gunicorn-gevent',    # gunicorn -k gevent
    'gunicorn-gthread',   # gunicorn -k gthread
])
def test_chat_in_browser(browser, deployments, kind):
    app = deployments(kind)
    run_chat_scenario(browser, app.url, kind)
