"""Driving the browsable API in headless Chromium, as an operator would.

Used by the end-to-end browser test and by ``scripts/make_images.py``.
Chromium is Debian's (``apt-get install chromium``); Playwright only
drives it (its own browser download is not used).
"""

import json
import os
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
]


def chromium_missing():
    """Why the browser cannot run here, or None. (Playwright itself is in
    requirements-dev.txt: without it, importing fails loudly.)"""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is absent (apt-get install chromium)"
    return None


def launch(playwright):
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )


def log_in(page, base_url, username, password, next_path="/api/"):
    """Session login at /api-auth/login/, then land on ``next_path``."""
    page.goto(f"{base_url}/api-auth/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form#login-form [type=submit], form [type=submit]")
    if "/api-auth/login/" in page.url:
        raise AssertionError(f"login as {username!r} failed: {page.url}")


def post_html_form(page, base_url, path, fields):
    """Fill the browsable API's HTML form of ``path`` and POST it;
    return ``(status, body)`` of the response the page shows."""
    page.goto(f"{base_url}{path}")
    form = page.locator("#post-object-form form")
    fill_form(form, fields)
    with page.expect_navigation():
        form.locator("button[type=submit], button.btn-primary").first.click()
    return shown_response(page)


def fill_form(form, fields):
    """Type each value into its field, or choose it where the field is a
    choice (the order's crypto)."""
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))


def shown_response(page):
    """``(status, body)`` of the response shown on a browsable API page."""
    text = page.locator(".response-info pre").inner_text()
    head, _, body = text.partition("\n\n")
    status = int(head.split()[1])
    return status, json.loads(body)
