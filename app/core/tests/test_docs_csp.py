"""The API docs come from the service itself, under a
Content-Security-Policy that allows no other origin and no inline
script; every page a person opens (docs, browsable API, admin) works
under it in a real browser."""

import re

import pytest
from rest_framework.test import APIClient

from core.testing import browser

PAGES = ["/api/docs/", "/api/", "/api-auth/login/", "/admin/login/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", [*PAGES, "/api/order/", "/no/such/path/"])
def test_every_answer_has_the_policy(path):
    response = APIClient().get(path)

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy


@pytest.mark.django_db
def test_the_docs_load_nothing_from_another_origin():
    client = APIClient()

    page = client.get("/api/docs/").content.decode()

    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources
    for source in sources:
        assert source.startswith("/"), source
    assert not re.search(r"<script>", page), "an inline script"
    for source in sources:
        assert client.get(source).status_code == 200, source


def test_the_pages_work_under_the_policy_in_a_browser(live, operator):
    missing = browser.chromium_missing()
    if missing:
        pytest.skip(f"no browser: {missing}")
    from playwright.sync_api import sync_playwright

    web = live.web(live.env(live.redis()))
    violations, elsewhere = [], []
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        page = chromium.new_page()
        page.on(
            "console",
            lambda message: (
                "Content Security Policy" in message.text
                and violations.append(
                    (page.url, message.location, message.text)
                )
            ),
        )
        page.on(
            "request",
            lambda request: (
                not request.url.startswith(web.url)
                and not request.url.startswith("data:")
                and elsewhere.append(request.url)
            ),
        )
        page.goto(f"{web.url}/api/docs/")
        # Swagger UI ran (its script is the service's own) and read the
        # schema.
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "Crypto order service" in page.inner_text(
            ".swagger-ui .info .title"
        )
        assert page.locator(".opblock").count() > 5
        for path in PAGES[1:]:
            page.goto(f"{web.url}{path}")
            page.wait_for_load_state("load")
        browser.log_in(page, web.url, "operator", "s3cret-pass", "/api/")
        page.wait_for_load_state("load")
        # The browsable API's logout link posts its form: the one inline
        # handler the policy lets through, by its hash. The link's "#" is
        # a navigation of its own, so wait for the form's POST to be
        # answered, not for the first navigation.
        page.click("a.dropdown-toggle")
        with page.expect_response(
            lambda response: "/api-auth/logout/" in response.url
            and response.request.method == "POST"
        ):
            page.click("text=Log out")
        page.wait_for_load_state("load")
        page.goto(f"{web.url}/api/order/")
        assert "Log in" in page.inner_text(".navbar"), violations
        chromium.close()

    assert violations == []
    assert elsewhere == []
