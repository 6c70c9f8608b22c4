"""WSGI entry point for granian (``serve.py``): ``config.wsgi:application``.

Granian (2.8) starts every request's environ from a copy of the server's
whole process environment: ``DATABASE_URL``, ``DJANGO_SECRET_KEY`` and
the rest would be in every ``request.META`` (and in any error report
that prints it), and a variable named like a header (``HTTP_PROXY``)
would look like one the client sent. ``application`` takes them out
again: every name of the server's environment but the ones the server
sets for each request. So a request header named like a variable of
the server's environment never reaches Django (``Proxy`` when the
server has ``HTTP_PROXY``: as the httpoxy advisories recommend).

A body sent with ``Transfer-Encoding: chunked`` has no
``CONTENT_LENGTH``, and Django reads such a body as empty: a valid order
would be refused as missing its fields. ``application`` reads it first,
up to ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (over it: ``413`` in the
envelope, unread beyond the limit), and hands Django the bytes with
their length.
"""

import io
import json
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# What the server sets for each request (PEP 3333, CGI): never dropped,
# whatever the process environment holds.
_PER_REQUEST = {
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REQUEST_URI",
    "RAW_URI",
}
_django = get_wsgi_application()
# Read after the settings: whatever they set is the server's too.
_SERVER_ENVIRONMENT = tuple(
    name for name in os.environ if name not in _PER_REQUEST
)


def _read_chunked(environ):
    """The chunked body of this request, read whole; None when it has
    none or is over the limit."""
    stream = environ["wsgi.input"]
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = bytearray()
    while len(body) <= limit:
        part = stream.read(limit + 1 - len(body))
        if not part:
            return bytes(body)
        body += part
    return None


def _too_large(start_response):
    from core.errors import RequestTooLarge, envelope

    error = RequestTooLarge()
    body = json.dumps(envelope(error.code, error.message, error.details))
    start_response(
        "413 Request Entity Too Large",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ],
    )
    return [body.encode()]


def application(environ, start_response):
    for name in _SERVER_ENVIRONMENT:
        environ.pop(name, None)
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not environ.get("CONTENT_LENGTH"):
        body = _read_chunked(environ)
        if body is None:
            return _too_large(start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    return _django(environ, start_response)
