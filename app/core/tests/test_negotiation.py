"""The content negotiation's shortcut answers exactly as DRF's own."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from core.negotiation import ContentNegotiation

RENDERERS = [JSONRenderer(), BrowsableAPIRenderer()]


@pytest.mark.parametrize(
    "path, accept",
    [
        ("/api/order/", None),
        ("/api/order/", "*/*"),
        ("/api/order/", "application/json"),
        ("/api/order/", "application/json; indent=4"),
        ("/api/order/", "text/html"),
        ("/api/order/", "text/html,application/xhtml+xml,*/*;q=0.8"),
        ("/api/order/?format=api", None),
        ("/api/order/?format=api", "*/*"),
        ("/api/order/?format=json", "application/json"),
    ],
)
def test_same_choice_as_drf(path, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(path, **headers))

    ours = ContentNegotiation().select_renderer(request, RENDERERS)
    drf = DefaultContentNegotiation().select_renderer(request, RENDERERS)

    assert (type(ours[0]), ours[1]) == (type(drf[0]), drf[1])


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_an_order_is_answered_in_json(accept, make_customer, client_for):
    client = client_for(make_customer("alice"))
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = client.post(
        "/api/order/",
        {"crypto": "ABAN", "amount": "1"},
        format="json",
        **headers,
    )

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["status"] == "pending"


def test_a_browser_still_gets_the_browsable_api(operator_client):
    response = operator_client.get("/api/order/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
