"""Transports: the I/O between a WSGI request and the sans-IO session."""
