"""An ``Accept`` header the service cannot answer is a ``406`` in the
JSON envelope, on every kind of page: the API's, the schema's (YAML or
JSON) and the docs' (HTML)."""

import pytest
from rest_framework.test import APIClient

from core.testing.envelope import assert_error


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, accept",
    [
        ("/api/crypto/", "application/xml"),
        ("/api/schema/", "text/html"),
        ("/api/docs/", "application/json"),
    ],
)
def test_an_answer_the_service_cannot_give_is_a_json_406(path, accept):
    response = APIClient().get(path, HTTP_ACCEPT=accept)

    assert response["Content-Type"] == "application/json"
    assert_error(response, 406, "not_acceptable")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path, accept, content_type",
    [
        ("/api/schema/", "application/json", "application/json"),
        ("/api/schema/", "*/*", "application/vnd.oai.openapi"),
        ("/api/docs/", "text/html", "text/html; charset=utf-8"),
        ("/api/crypto/", "text/html", "text/html; charset=utf-8"),
    ],
)
def test_each_page_still_answers_what_it_can(path, accept, content_type):
    response = APIClient().get(path, HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
