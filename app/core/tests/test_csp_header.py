"""The Content-Security-Policy header, built once per process: the same
policy django-csp builds for every answer, and django-csp's own way for
an answer that changes it."""

import pytest
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory

from core.middleware import StaticPolicyCSPMiddleware


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/crypto/", "/api/nowhere/"])
def test_every_answer_carries_the_configured_policy(client, path):
    response = client.get(path)

    assert response["Content-Security-Policy"] == build_policy()
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_an_answer_that_changes_the_policy_gets_django_csps():
    def view(request):
        response = HttpResponse("ok")
        response._csp_update = {"img-src": ["https://example.org"]}
        return response

    middleware = StaticPolicyCSPMiddleware(view)
    request = RequestFactory().get("/")
    middleware.process_request(request)
    response = middleware.process_response(request, view(request))

    assert "https://example.org" in response["Content-Security-Policy"]
    assert response["Content-Security-Policy"] != build_policy()
