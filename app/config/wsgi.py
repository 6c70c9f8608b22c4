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
"""

import os

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


def application(environ, start_response):
    for name in _SERVER_ENVIRONMENT:
        environ.pop(name, None)
    return _django(environ, start_response)
