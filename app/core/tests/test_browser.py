"""The original design's flow, in a real browser against the real
service: an operator logs in to the browsable API, creates a customer
and places an order through the HTML forms, sees the order in the list,
and follows its links to the purchase and the customer's ledger.

Headless Chromium (Debian's ``chromium``) driven by Playwright, against
granian (``serve.py``) and an RQ worker started as processes by the
``live`` fixture.
"""

import re
from decimal import Decimal

import pytest

from accounts.models import Customer
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
