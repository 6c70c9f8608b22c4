"""The server's own environment stays out of requests: granian copies
it into every request's environ, and ``config.wsgi`` takes it out."""

import io
import os

import pytest
from django.core.signals import request_started

from config.wsgi import application
from core.testing.live import http


def _call(environ):
    seen = {}

    def capture(sender, environ, **kwargs):
        seen.update(environ)

    request_started.connect(capture)
    try:
        statuses = []
        body = application(
            environ, lambda status, headers: statuses.append(status)
        )
        b"".join(body)
        body.close()
    finally:
        request_started.disconnect(capture)
    return statuses[0], seen


def test_server_environment_is_not_in_the_request():
    # As granian builds it: the process environment, then the request.
    environ = dict(os.environ)
    environ.update(
        REQUEST_METHOD="GET",
        PATH_INFO="/api/ping/",
        QUERY_STRING="",
        SERVER_NAME="localhost",
        SERVER_PORT="80",
        SERVER_PROTOCOL="HTTP/1.1",
        REMOTE_ADDR="127.0.0.1",
        HTTP_ACCEPT="application/json",
        HTTP_X_FORWARDED_FOR="10.0.0.1",
        **{"wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http"},
    )
    assert "DATABASE_URL" in environ

    status, seen = _call(environ)

    assert status.startswith("200")
    assert "DATABASE_URL" not in seen
    assert "DJANGO_SETTINGS_MODULE" not in seen
    # What the request itself carries is all still there.
    assert seen["PATH_INFO"] == "/api/ping/"
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["HTTP_X_FORWARDED_FOR"] == "10.0.0.1"


@pytest.mark.django_db(transaction=True)
def test_a_header_in_the_server_environment_authenticates_nothing(
    live, make_customer
):
    """A variable named like a header in the server's environment
    (here a customer's whole Authorization header) is not a header of
    the requests."""
    alice = make_customer("alice")
    env = live.env(live.redis(), HTTP_AUTHORIZATION=f"Token {alice.api_key}")
    web = live.web(env)

    anonymous = http("GET", f"{web.url}/api/order/")

    assert anonymous[0] == 401, anonymous
    assert anonymous[1]["error"]["code"] == "not_authenticated"
