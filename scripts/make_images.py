"""Make the README's pictures in img/ from the running service.

Nothing is drawn by hand::

    .venv/bin/python scripts/make_images.py                 # everything
    .venv/bin/python scripts/make_images.py --only diagram  # no service

- ``img/order_flow.svg`` and ``.png``: ``img/order_flow.dot`` through
  Graphviz ``dot`` (``apt-get install graphviz``).
- ``img/browsable_api_customer.png``, ``img/browsable_api_order.png``,
  ``img/browsable_api_links.png``: headless Chromium (``apt-get install
  chromium``, driven by Playwright) logs in to the browsable API as the
  operator, creates the original design's customer and places its order
  through the HTML forms, then opens the order once the worker bought it.
- ``img/browsable_api_refused.png``: the order form after a refused
  order (an amount of 0): what was typed, and the field's message.
- ``img/worker_log.png``: the worker's real output of that run, shown
  as a terminal page and photographed by the same browser.

The service runs as ``make run`` runs it (``serve.py``, granian, and
``manage.py rqworker default``, the exchange taking its default 5
seconds), against a database of its own, ``crypto_images``, created
afresh on the PostgreSQL of ``DATABASE_URL`` (else the embedded one of
``scripts/stack.py``) and dropped at the end, and a private Redis: ids
start at 1, and no other worker takes its jobs.
"""

import argparse
import html
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
IMG = ROOT / "img"
sys.path[:0] = [str(APP), str(ROOT / "scripts")]

IMAGES_DATABASE = "crypto_images"
OPERATOR = "operator"
VIEWPORT = {"width": 1100, "height": 800}


def say(message):
    print(f"make_images: {message}", file=sys.stderr, flush=True)


def make_diagram():
    if shutil.which("dot") is None:
        raise SystemExit("Graphviz is missing: apt-get install graphviz")
    source = IMG / "order_flow.dot"
    for fmt, extra in (("svg", []), ("png", ["-Gdpi=96"])):
        target = IMG / f"order_flow.{fmt}"
        subprocess.run(
            ["dot", f"-T{fmt}", *extra, str(source), "-o", str(target)],
            check=True,
        )
        say(f"wrote {target.relative_to(ROOT)}")


# --- the service -----------------------------------------------------------


def _server_url():
    """The PostgreSQL URL to make the images' database on."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    import stack  # scripts/stack.py: starts the embedded PostgreSQL

    return stack.ensure()["DATABASE_URL"]


def _with_database(url, name):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _recreate_database(url, drop_only=False):
    import psycopg2

    admin = psycopg2.connect(_with_database(url, "postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(
            f'DROP DATABASE IF EXISTS "{IMAGES_DATABASE}" WITH (FORCE)'
        )
        if not drop_only:
            cursor.execute(f'CREATE DATABASE "{IMAGES_DATABASE}"')
    admin.close()


class Service:
    """Web server and worker on a fresh database and a private Redis."""

    def __init__(self, workdir):
        from core.testing import live

        self.live = live
        self.workdir = Path(workdir)
        self.server_url = _server_url()
        self.password = secrets.token_urlsafe(12)
        self.redis = live.RedisServer(self.workdir)
        self.web = self.worker = None

    def __enter__(self):
        say(f"creating database {IMAGES_DATABASE}")
        _recreate_database(self.server_url)
        self.redis.start()
        self.env = self.live.service_env(
            _with_database(self.server_url, IMAGES_DATABASE),
            self.redis.url,
            # As `make run` has them, not as the fast tests do.
            EXCHANGE_LATENCY_SECONDS="5",
            SWEEP_INTERVAL_SECONDS="1",
            PURCHASE_RERING_SECONDS="5",
            LOG_FORMAT="plain",
            DJANGO_SUPERUSER_USERNAME=OPERATOR,
            DJANGO_SUPERUSER_PASSWORD=self.password,
        )
        for command in (["migrate", "--noinput"], ["create_demo_operator"]):
            say("manage.py " + " ".join(command))
            subprocess.run(
                [sys.executable, str(APP / "manage.py"), *command],
                env=self.env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        self.web = self.live.start_web(self.env, self.workdir / "web.log")
        self.worker = self.live.start_worker(
            self.env, self.workdir / "worker.log"
        )
        say(f"web server at {self.web.url}, worker pid {self.worker.pid}")
        return self

    def __exit__(self, *exc):
        for process in (self.web, self.worker):
            if process is not None:
                process.stop()
        self.redis.stop()
        _recreate_database(self.server_url, drop_only=True)

    def wait_for_worker(self, text, timeout=60):
        deadline = time.monotonic() + timeout
        while text not in self.worker.output():
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"the worker never said {text!r}:\n{self.worker.output()}"
                )
            time.sleep(0.2)


# --- the pictures ----------------------------------------------------------


def _shoot_response(page, name):
    """The page down to the response it shows (not the empty form)."""
    box = page.locator(".response-info").bounding_box()
    height = int(box["y"] + box["height"] + 24)
    target = IMG / name
    page.screenshot(
        path=str(target),
        clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height},
    )
    say(f"wrote {target.relative_to(ROOT)}")


def _shoot_form(page, name):
    """The page down to the end of its POST form (a refused one)."""
    box = page.locator("#post-object-form").bounding_box()
    height = int(box["y"] + box["height"] + 24)
    target = IMG / name
    page.screenshot(
        path=str(target),
        full_page=True,
        clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height},
    )
    say(f"wrote {target.relative_to(ROOT)}")


TERMINAL_PAGE = """<!doctype html>
<meta charset="utf-8">
<style>
  body {{ margin: 0; background: #fff; }}
  .window {{ display: inline-block; margin: 12px; border-radius: 8px;
            overflow: hidden; box-shadow: 0 2px 10px rgba(0,0,0,.35); }}
  .bar {{ background: #3b4048; color: #c8ccd4; padding: 6px 12px;
         font: 13px "DejaVu Sans", sans-serif; }}
  pre {{ margin: 0; padding: 12px 16px; background: #1e2127;
        color: #d7dae0; font: 13px/1.45 "DejaVu Sans Mono", monospace;
        white-space: pre; }}
  .ours {{ color: #98c379; }}
  .warn {{ color: #e5c07b; }}
</style>
<div class="window"><div class="bar">{title}</div><pre>{lines}</pre></div>
"""


def _terminal_lines(text):
    shown = []
    for line in text.rstrip().splitlines():
        escaped = html.escape(line)
        if " orders.worker " in line and " WARNING " in line:
            escaped = f'<span class="warn">{escaped}</span>'
        elif " orders.worker " in line:
            escaped = f'<span class="ours">{escaped}</span>'
        shown.append(escaped)
    return "\n".join(shown)


def shoot_worker_log(page, text):
    page.set_content(
        TERMINAL_PAGE.format(
            title="$ make worker", lines=_terminal_lines(text)
        )
    )
    target = IMG / "worker_log.png"
    page.locator(".window").screenshot(path=str(target))
    say(f"wrote {target.relative_to(ROOT)}")


def make_screenshots():
    from playwright.sync_api import sync_playwright

    from core.testing import browser

    missing = browser.chromium_missing()
    if missing:
        raise SystemExit(missing)
    with tempfile.TemporaryDirectory(prefix="make_images-") as workdir:
        with Service(workdir) as service, sync_playwright() as playwright:
            base = service.web.url
            chromium = browser.launch(playwright)
            page = chromium.new_page(viewport=VIEWPORT)
            browser.log_in(
                page, base, OPERATOR, service.password, "/api/customer/"
            )
            status, customer = browser.post_html_form(
                page, base, "/api/customer/", {"name": "farbod"}
            )
            assert status == 201, customer
            _shoot_response(page, "browsable_api_customer.png")

            # A refused order: the form keeps its input, with the message.
            status, _ = browser.post_html_form(
                page,
                base,
                "/api/order/",
                {
                    "crypto": "ABAN",
                    "amount": "0",
                    "customer_id": customer["id"],
                },
            )
            assert status == 400
            _shoot_form(page, "browsable_api_refused.png")

            # The original design's order: $6 of ABAN joins the pool...
            order_form = {
                "crypto": "ABAN",
                "amount": "1.5",
                "customer_id": customer["id"],
            }
            status, first = browser.post_html_form(
                page, base, "/api/order/", order_form
            )
            assert status == 201, first
            _shoot_response(page, "browsable_api_order.png")
            # ... and the second reaches $10: one purchase for both.
            status, second = browser.post_html_form(
                page, base, "/api/order/", order_form
            )
            assert status == 201, second
            service.wait_for_worker("exchange call done")

            page.goto(f"{base}/api/order/{first['id']}/")
            _shoot_response(page, "browsable_api_links.png")
            shoot_worker_log(page, service.worker.output())
            chromium.close()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=["diagram", "screenshots"],
        help="make only these pictures",
    )
    args = parser.parse_args(argv)
    IMG.mkdir(exist_ok=True)
    if args.only in (None, "diagram"):
        make_diagram()
    if args.only in (None, "screenshots"):
        make_screenshots()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
