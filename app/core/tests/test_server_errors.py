"""What the web server (granian) answers itself, before Django sees the
request: a 4xx and never a 5xx or an HTML page. Granian has no hook for
the body of these answers, so they are empty rather than the envelope
(docs/security.md says so). Every error that reaches Django, bodies
over the limit included, answers the envelope."""

import json

import pytest

from core.testing.live import raw_http

# serve.py's MAX_HEAD_BYTES is 32 KiB; granian refuses a head somewhere
# between that and twice that.
HEAD_LIMIT = 64 * 1024


@pytest.fixture
def port(live):
    web = live.web(live.env(live.redis()))
    return int(web.url.rsplit(":", 1)[1])


def _get(path=b"/api/health/", headers=b""):
    return (
        b"GET "
        + path
        + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + headers
        + b"Connection: close\r\n\r\n"
    )


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(
            _get(headers=b"X-Big: " + b"a" * HEAD_LIMIT + b"\r\n"),
            431,
            id="one header over the head limit",
        ),
        pytest.param(
            _get(headers=b"".join(b"X-%d: a\r\n" % i for i in range(500))),
            431,
            id="too many headers",
        ),
        pytest.param(
            _get(path=b"/api/health/?" + b"a" * 100_000),
            (414, 431),
            id="a URI over the limit",
        ),
        pytest.param(b"GARBAGE\r\n\r\n", 400, id="no request line"),
        pytest.param(
            _get(path=b"/api/\xff\xfe/"), 400, id="raw non-UTF-8 path"
        ),
    ],
)
def test_the_server_refuses_a_malformed_head_with_a_4xx(
    port, request_bytes, status
):
    answered, head, body = raw_http(port, request_bytes)

    assert answered in (status if isinstance(status, tuple) else (status,))
    assert body == b""  # granian's own answer: see docs/security.md


def test_a_head_under_the_limit_is_served(port):
    status, _, body = raw_http(
        port, _get(headers=b"X-Big: " + b"a" * (HEAD_LIMIT // 4) + b"\r\n")
    )

    assert status == 200
    assert json.loads(body)["status"] == "ok"


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"POST /api/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: 10000000\r\nConnection: close\r\n\r\n{}",
            id="a Content-Length over the limit",
        ),
        pytest.param(
            b"GET /api/health/ HTTP/1.1\r\nHost: evil.example\r\n"
            b"Connection: close\r\n\r\n",
            id="a host not allowed",
        ),
        pytest.param(
            b"GET /api/health/ HTTP/1.0\r\n\r\n", id="HTTP/1.0 without Host"
        ),
        pytest.param(
            b"POST /api/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"zz\r\n{}\r\n0\r\n\r\n",
            id="a malformed chunk",
        ),
    ],
)
def test_what_reaches_django_is_refused_in_the_envelope(port, request_bytes):
    status, head, body = raw_http(port, request_bytes)

    assert 400 <= status < 500, head
    assert "content-type: application/json" in head
    assert set(json.loads(body)["error"]) == {"code", "message", "details"}
