"""Login limits that respelling a name or inventing names cannot get
round: the name is counted as authentication resolves it, on every
login path, and each client address is limited before any password is
hashed, whatever the names."""

import statistics
import threading
import time
import uuid

import pytest
from rest_framework.test import APIClient

from core import throttling
from core.testing.live import http

LOGIN_FORMS = ["/admin/login/", "/api-auth/login/"]


@pytest.fixture(autouse=True)
def _closed_breaker(monkeypatch):
    monkeypatch.setattr(throttling, "_breaker_open_until", 0.0)


def _token(client, username="operator", password="s3cret-pass"):
    return client.post(
        "/api/token/",
        {"username": username, "password": password},
        format="json",
    )


def _assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60


# --- the name as authentication resolves it -------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        " operator",
        "operator\t",
        "\u00a0operator\u3000",  # no-break and ideographic spaces
        "ｏｐｅｒａｔｏｒ",  # fullwidth: NFKC makes it "operator"
        "OPERATOR",
    ],
)
@pytest.mark.django_db
def test_respelling_the_name_does_not_reset_the_token_rate(
    settings, operator, spelling
):
    settings.TOKEN_RATE = "1/min"
    settings.LOGIN_ADDRESS_RATE = None
    assert _token(APIClient(), password="wrong").status_code == 401

    _assert_throttled(_token(APIClient(), username=spelling))


@pytest.mark.django_db
def test_the_token_endpoint_logs_in_a_respelled_name(operator):
    """The premise: authentication takes the respelled name as the same
    user, which is why the limit must count it as the same name."""
    assert _token(APIClient(), username=" operator ").status_code == 200


@pytest.mark.parametrize("path", LOGIN_FORMS)
@pytest.mark.django_db
def test_respelling_the_name_does_not_reset_a_form_login_rate(
    settings, operator, path
):
    settings.TOKEN_RATE = "2/min"
    settings.LOGIN_ADDRESS_RATE = None
    browser = APIClient()
    wrong = {"password": "wrong"}
    assert browser.post(path, {**wrong, "username": " operator"}).status_code
    assert _token(APIClient(), "operator\t", "wrong").status_code == 401

    response = browser.post(
        path, {"username": "ｏｐｅｒａｔｏｒ ", "password": "s3cret-pass"}
    )

    _assert_throttled(response)
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize("path", LOGIN_FORMS)
@pytest.mark.django_db
def test_a_form_logs_in_the_respelled_name_when_under_the_rate(
    settings, operator, path
):
    """Without the limit in the way, the respelled name logs in: so it
    is the same name, and must be counted as one."""
    browser = APIClient()

    browser.post(
        path, {"username": "ｏｐｅｒａｔｏｒ ", "password": "s3cret-pass"}
    )

    assert browser.session.get("_auth_user_id") == str(operator.pk)


# --- per address, whatever the names --------------------------------------


@pytest.mark.parametrize("path", ["/api/token/", *LOGIN_FORMS])
@pytest.mark.django_db
def test_new_names_from_one_address_are_limited(settings, operator, path):
    settings.LOGIN_ADDRESS_RATE = "3/min"
    client = APIClient()
    for _ in range(3):
        response = client.post(
            path,
            {"username": uuid.uuid4().hex, "password": "x"},
            format="json" if path == "/api/token/" else None,
        )
        assert response.status_code in (200, 401), response.content

    _assert_throttled(_token(APIClient()))
    # The limit is the address's: another address still logs in.
    assert _token(APIClient(REMOTE_ADDR="10.0.0.7")).status_code == 200


@pytest.mark.parametrize(
    "first, second",
    [
        ("2001:db8::1", "2001:db8::ffff:1"),  # one client's /64
        ("192.0.2.1", "::ffff:192.0.2.1"),  # IPv4 as IPv4-mapped IPv6
    ],
)
@pytest.mark.django_db
def test_another_spelling_of_the_address_is_the_same_address(
    settings, operator, first, second
):
    settings.LOGIN_ADDRESS_RATE = "1/min"
    _token(APIClient(REMOTE_ADDR=first), username=uuid.uuid4().hex)

    _assert_throttled(_token(APIClient(REMOTE_ADDR=second)))


@pytest.mark.django_db
def test_a_second_login_of_an_address_waits_for_the_first(settings):
    """One login at a time per address: a second one, sent while the
    first is hashing, is refused at once instead of hashing too."""
    settings.LOGIN_ADDRESS_RATE = None
    assert throttling._login_begin(_request()) is not None
    try:
        response = _token(APIClient(), username=uuid.uuid4().hex)
    finally:
        throttling._login_end(_in_progress_key())

    _assert_throttled(response)
    assert int(response["Retry-After"]) == 1
    assert _token(APIClient(), username="x", password="y").status_code == 401


def _request():
    from django.test import RequestFactory

    return RequestFactory().post("/api/token/", REMOTE_ADDR="127.0.0.1")


def _in_progress_key():
    ident = throttling._digest("127.0.0.1")
    return f"throttle:login-in-progress:{ident}"


# --- a flood of made-up names against the real server ---------------------


def test_a_login_flood_with_new_names_does_not_stall_the_api(live):
    """Sixteen connections from one address post logins with new names
    as fast as they are answered, to granian with the real password
    hasher; meanwhile an ordinary request is timed. Before the address
    limit, each login cost a full hash and the ordinary request waited
    seconds behind them."""
    web = live.web(live.env(live.redis()))
    url = f"{web.url}/api/health/"
    baseline = [_timed(url) for _ in range(5)]
    stop = threading.Event()
    statuses = []

    def flood():
        while not stop.is_set():
            body = {"username": uuid.uuid4().hex, "password": "guess"}
            status, _, _ = http(
                "POST", f"{web.url}/api/token/", body=body, timeout=60
            )
            statuses.append(status)

    threads = [threading.Thread(target=flood) for _ in range(16)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        during = []
        for _ in range(15):
            during.append(_timed(url))
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)

    print(
        f"health: baseline median {statistics.median(baseline):.3f}s; "
        f"during the flood median {statistics.median(during):.3f}s, "
        f"max {max(during):.3f}s; {len(statuses)} logins"
    )
    # Generous: the baseline is ~10 ms; before the limit, seconds.
    assert statistics.median(during) < 0.5, during
    assert max(during) < 2.0, during
    # The flood ran: some names were tried, the rest refused unhashed.
    assert 401 in statuses and 429 in statuses, set(statuses)
    assert set(statuses) <= {401, 429}, set(statuses)


def _timed(url):
    started = time.monotonic()
    status, _, _ = http("GET", url, timeout=60)
    elapsed = time.monotonic() - started
    assert status == 200
    return elapsed
