#!/usr/bin/env python
"""Django's command-line utility for the example project.

`manage.py runserver` cannot carry WebSocket (its server does not expose the
client socket) and would only offer long-polling; serve the project with
`serve.py` (eventlet) or gunicorn instead, see README.rst.
"""
import os
import sys


def main():
    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'chatsite.settings')
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)


if __name__ == '__main__':
    main()
