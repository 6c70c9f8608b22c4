"""The metrics under real faults: the production web server and worker
as processes, a Redis of the test's own. Orders are placed, a worker is
killed, Redis is stopped; each time ``/metrics`` says so."""

from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.testing.live import http, order_over_http
from core.testing.waiting import wait_for
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "scrape-" + "t" * 40


def _scrape(web):
    status, text, _ = http(
        "GET",
        f"{web.url}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert status == 200, text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(web, name, **labels):
    return _scrape(web).get((name, tuple(sorted(labels.items()))))


def _large_ones_completed():
    """Every order but the small ABAN one, which waits in its pool."""
    pending = Order.objects.exclude(crypto_id="ABAN")
    return not pending.exclude(status="completed").exists()


def test_metrics_show_orders_a_killed_worker_and_redis_down(
    live, make_customer, tmp_path, assert_books_balance
):
    redis = live.redis()
    env = live.env(
        redis,
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=tmp_path / "metrics",
        PURCHASE_LEASE_SECONDS="2",
    )
    web = live.web(env)
    worker = live.worker(env)
    customer = make_customer("mo", Decimal("500.00"))
    wait_for(
        lambda: _value(web, "broker_workers_alive") == 1,
        what="the worker's heartbeat",
    )

    # Orders flow: counted by strategy, bought, and timed.
    for crypto, amount in [("ETH", "0.01"), ("SOL", "1"), ("ABAN", "1")]:
        order_over_http(web, customer, crypto, amount)
    wait_for(
        lambda: Order.objects.filter(status="completed").count() == 2,
        what="the large orders to complete",
    )
    samples = _scrape(web)
    large = (("outcome", "placed"), ("strategy", "large"))
    small = (("outcome", "placed"), ("strategy", "small"))
    assert samples[("broker_orders_total", large)] == 2
    assert samples[("broker_orders_total", small)] == 1
    assert samples[("broker_pool_pending_usd", (("crypto", "ABAN"),))] == 4
    # The worker shares the web server's directory: its counts are here.
    filled = samples[("broker_exchange_calls_total", (("outcome", "filled"),))]
    assert filled >= 1
    assert (
        samples[
            ("broker_purchases_finished_total", (("status", "completed"),))
        ]
        == 2
    )
    posts = samples[
        (
            "broker_http_request_duration_seconds_count",
            (("method", "POST"), ("view", "order-list")),
        )
    ]
    assert posts == 3

    # A worker killed: no heartbeat; what it counted stays counted.
    worker.kill()
    wait_for(
        lambda: _value(web, "broker_workers_alive") == 0,
        what="the killed worker to stop beating",
    )
    assert _value(web, "broker_worker_last_heartbeat_age_seconds") > 0
    assert (
        _value(web, "broker_exchange_calls_total", outcome="filled") == filled
    )

    # Redis stopped: said so; orders still taken, their purchases wait.
    redis.stop()
    wait_for(
        lambda: _value(web, "broker_redis_up") == 0, what="Redis to be down"
    )
    samples = _scrape(web)
    assert samples[("broker_database_up", ())] == 1
    assert ("broker_queue_jobs", ()) not in samples
    order_over_http(web, customer, "ETH", "0.01")
    samples = _scrape(web)
    assert samples[("broker_orders_total", large)] == 3
    assert samples[("broker_purchases", (("status", "queued"),))] == 1
    assert (
        samples[("broker_doorbell_rings_total", (("outcome", "failed"),))] >= 1
    )

    # Redis back and a worker started: the metrics say everything went.
    redis.start()
    live.worker(env)
    wait_for(_large_ones_completed, timeout=45, what="every large order")
    wait_for(
        lambda: _value(web, "broker_workers_alive") == 1,
        what="the new worker's heartbeat",
    )
    samples = _scrape(web)
    assert samples[("broker_redis_up", ())] == 1
    assert samples[("broker_purchases", (("status", "queued"),))] == 0
    assert (
        samples[
            ("broker_purchases_finished_total", (("status", "completed"),))
        ]
        == 3
    )
    assert samples[("broker_sweeper_rerung_purchases_total", ())] >= 1
    assert_books_balance()
