"""The original design's flow, in a real browser against the real
service: an operator logs in to the browsable API, creates a customer
and places an order through the HTML forms, sees the order in the list,
and follows its links to the purchase and the customer's ledger. And
what a newcomer meets first, with no network beyond the service: `/`,
the API docs, the login, the admin's links, a refused form, the icon.

Headless Chromium (Debian's ``chromium``) driven by Playwright, against
granian (``serve.py``) and an RQ worker started as processes by the
``live`` fixture.
"""

import re
from decimal import Decimal

import pytest

from accounts.models import Customer, House
from core.testing import browser
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def _reload_until(page, predicate, timeout=30.0):
    """Reload the page until the response it shows satisfies
    ``predicate``; the last ``(status, body)``."""
    deadline = page.evaluate("Date.now()") + timeout * 1000
    while True:
        shown = browser.shown_response(page)
        if predicate(*shown) or page.evaluate("Date.now()") > deadline:
            return shown
        page.wait_for_timeout(200)
        page.reload()


def test_operator_places_an_order_through_the_browsable_api(
    live, operator, assert_books_balance
):
    missing = browser.chromium_missing()
    if missing:
        pytest.skip(f"no browser for the end-to-end test: {missing}")
    from playwright.sync_api import sync_playwright

    redis = live.redis()
    env = live.env(redis)
    web = live.web(env)
    worker = live.worker(env)
    # The browser runs an event loop in this thread, where Django refuses
    # database queries: inside it, everything goes over HTTP.
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        page = chromium.new_page()
        browser.log_in(
            page, web.url, "operator", "s3cret-pass", "/api/customer/"
        )

        status, customer = browser.post_html_form(
            page, web.url, "/api/customer/", {"name": "farbod"}
        )
        assert status == 201, customer
        assert customer["balance"] == "100.00"
        assert customer["api_key"].startswith("ck_")

        # $12 of ABAN: at the threshold, a purchase of its own.
        status, order = browser.post_html_form(
            page,
            web.url,
            "/api/order/",
            {"crypto": "ABAN", "amount": "3", "customer_id": customer["id"]},
        )
        assert status == 201, order
        assert (order["total"], order["status"]) == ("12.00", "submitted")

        page.goto(f"{web.url}/api/order/")
        status, listing = browser.shown_response(page)
        assert status == 200
        assert order["id"] in [item["id"] for item in listing["results"]]

        page.goto(f"{web.url}/api/order/{order['id']}/")
        status, shown = _reload_until(
            page, lambda status, body: body["status"] == "completed"
        )
        assert shown["status"] == "completed", shown
        # Links to follow, in the browsable API only.
        page.click(f"a[href='{shown['purchase_url']}']")
        status, purchase = browser.shown_response(page)
        assert status == 200
        assert purchase["status"] == "completed"
        assert purchase["order_ids"] == [order["id"]]

        page.goto(f"{web.url}/api/order/{order['id']}/")
        page.click(f"a[href='{shown['ledger_url']}']")
        status, ledger = browser.shown_response(page)
        assert status == 200
        assert [
            (entry["kind"], entry["amount"]) for entry in ledger["results"]
        ] == [("order", "-12.00"), ("deposit", "100.00")]
        chromium.close()

    placed = Order.objects.get(pk=order["id"])
    assert (placed.customer_id, placed.status) == (
        customer["id"],
        "completed",
    )
    assert Customer.objects.get(pk=customer["id"]).balance == Decimal("88.00")
    assert_books_balance()
    # The worker says what it did, with the purchase and its client id.
    purchase_line = re.search(
        rf"exchange call done in [0-9.]+s: purchase #{purchase['id']} .*"
        rf"client_order_id={purchase['client_order_id']}",
        worker.output(),
    )
    assert purchase_line, worker.output()


def test_operator_sees_a_small_orders_progress_and_cancels_it(
    live, operator, assert_books_balance
):
    missing = browser.chromium_missing()
    if missing:
        pytest.skip(f"no browser for the end-to-end test: {missing}")
    from playwright.sync_api import sync_playwright

    redis = live.redis()
    web = live.web(live.env(redis))
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        page = chromium.new_page()
        browser.log_in(page, web.url, "operator", "s3cret-pass", "/api/")
        status, customer = browser.post_html_form(
            page, web.url, "/api/customer/", {"name": "farbod"}
        )
        assert status == 201, customer
        # $6 of ABAN: under the threshold, it waits in the pool.
        status, order = browser.post_html_form(
            page,
            web.url,
            "/api/order/",
            {"crypto": "ABAN", "amount": "1.5", "customer_id": customer["id"]},
        )
        assert (status, order["status"]) == (201, "pending"), order

        page.goto(f"{web.url}/api/order/{order['id']}/")
        status, shown = browser.shown_response(page)
        assert re.fullmatch(
            r"\$6\.00 of \$10\.00 in the ABAN pool; the house completes it "
            r"at \d\d:\d\d:\d\d UTC",
            shown["progress"],
        ), shown
        page.locator(f".response-info a[href='{shown['cancel_url']}']").click()
        status, cancelled = browser.post_html_form(
            page, web.url, f"/api/order/{order['id']}/cancel/", {}
        )
        assert status == 200, cancelled
        assert (cancelled["status"], cancelled["pool"]) == ("cancelled", None)
        chromium.close()

    assert Customer.objects.get(pk=customer["id"]).balance == Decimal("100")
    assert_books_balance()


def _offline(context, base_url):
    """Every request to anything but the service fails, as on a machine
    with no internet access; returns the list of those it refused."""
    refused = []

    def route(route):
        url = route.request.url
        if url.startswith(base_url) or url.startswith("data:"):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    context.route("**/*", route)
    return refused


def _form_field(page, name):
    """``(value, [messages])`` of a field of the page's POST form."""
    form = page.locator("#post-object-form form")
    field = form.locator(f"[name={name}]")
    group = form.locator(".form-group", has=page.locator(f"[name={name}]"))
    messages = group.locator(".help-block").all_inner_texts()
    return field.input_value(), [text.strip() for text in messages]


def test_a_newcomer_finds_the_way_with_no_network(live, operator):
    missing = browser.chromium_missing()
    if missing:
        pytest.skip(f"no browser for the end-to-end test: {missing}")
    from playwright.sync_api import sync_playwright

    web = live.web(live.env(live.redis()))
    base = web.url
    house_pk = House.objects.get().pk
    # As make run's demo operator: a superuser, who sees the admin's
    # models.
    operator.is_superuser = True
    operator.save(update_fields=["is_superuser"])
    with sync_playwright() as playwright:
        chromium = browser.launch(playwright)
        context = chromium.new_context()
        refused = _offline(context, base)
        page = context.new_page()

        # The API docs render from the service alone: the order endpoint
        # is there, with its description.
        page.goto(f"{base}/api/docs/")
        order_paths = page.locator(
            ".opblock-summary-path[data-path='/api/order/']"
        )
        order_paths.first.wait_for(timeout=30_000)
        assert order_paths.count() == 2  # GET (list) and POST (place)
        place = page.locator(
            ".opblock-post",
            has=page.locator(".opblock-summary-path[data-path='/api/order/']"),
        )
        place.locator(".opblock-summary").click()
        place.locator(".opblock-description").wait_for()
        assert "Debits the customer" in place.inner_text()

        # `/` leads a person to the browsable API, under the service's
        # name, listing where to start (the prices first), with an icon.
        page.goto(f"{base}/")
        assert page.url == f"{base}/api/"
        assert "Crypto order service" in page.title()
        assert page.inner_text(".navbar-brand").strip() == (
            "Crypto order service"
        )
        assert "Django REST framework" not in page.content()
        status, root = browser.shown_response(page)
        assert status == 200
        assert root["crypto"] == f"{base}/api/crypto/"
        assert {"customer", "order", "docs"} <= set(root)
        icon = page.locator("link[rel=icon]").get_attribute("href")
        assert page.request.get(f"{base}{icon}").ok
        favicon = page.request.get(f"{base}/favicon.ico")
        assert favicon.ok
        assert favicon.headers["content-type"].startswith("image/svg")

        # Logging in with no `next` lands on the API's root.
        page.goto(f"{base}/api-auth/login/")
        assert "Crypto order service" in page.inner_text("body")
        page.fill("#id_username", "operator")
        page.fill("#id_password", "s3cret-pass")
        with page.expect_navigation():
            page.click("form [type=submit]")
        assert page.url == f"{base}/api/"

        status, customer = browser.post_html_form(
            page, base, "/api/customer/", {"name": "farbod"}
        )
        assert status == 201, customer

        # The order form offers the listed cryptos, with their prices.
        page.goto(f"{base}/api/order/")
        crypto = page.locator("#post-object-form select[name=crypto]")
        options = crypto.locator("option").all_inner_texts()
        assert "ABAN: Aban Tether, $4.00" in options
        assert len(options) == 5

        # A refused order keeps what was typed, each field's message
        # beside it.
        status, refused_order = browser.post_html_form(
            page,
            base,
            "/api/order/",
            {"crypto": "BTC", "amount": "0", "customer_id": customer["id"]},
        )
        assert status == 400
        assert refused_order["error"]["details"]["amount"] == [
            "Ensure this value is greater than 0."
        ]
        assert _form_field(page, "amount") == (
            "0",
            ["Ensure this value is greater than 0."],
        )
        assert _form_field(page, "crypto")[0] == "BTC"
        assert _form_field(page, "customer_id")[0] == str(customer["id"])
        status, _ = browser.post_html_form(
            page,
            base,
            "/api/order/",
            {"crypto": "ABAN", "amount": "1", "customer_id": 999999},
        )
        assert status == 404
        assert _form_field(page, "customer_id") == (
            "999999",
            ["No customer has this id."],
        )

        # The admin's "view site" leads to the API; its deposit link
        # opens the deposit form on the account, not on a 405.
        page.goto(f"{base}/admin/")
        with page.expect_navigation():
            page.click("#user-tools a[href='/api/']")
        assert page.url == f"{base}/api/"
        page.goto(f"{base}/admin/accounts/customer/{customer['id']}/change/")
        with page.expect_navigation():
            page.click("text=deposit through the API")
        status, shown = browser.shown_response(page)
        assert (status, shown["balance"]) == (200, "100.00")
        status, funded = browser.post_html_form(
            page, base, page.url.removeprefix(base), {"amount": "25.50"}
        )
        assert (status, funded["balance"]) == (200, "125.50")
        page.goto(f"{base}/admin/accounts/house/{house_pk}/change/")
        with page.expect_navigation():
            page.click("text=deposit through the API")
        status, house = browser.shown_response(page)
        assert status == 200 and "balance" in house
        chromium.close()

    assert refused == []
