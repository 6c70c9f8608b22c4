"""GET /metrics: who may read it, and what an operator reads there."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from orders import selectors
from orders.models import Pool

pytestmark = pytest.mark.django_db


def _samples(response):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_anonymous_gets_the_error_envelope():
    response = APIClient().get("/metrics")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_customer_is_refused(make_customer, client_for):
    response = client_for(make_customer()).get("/metrics")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_the_scrape_token_reads_and_a_wrong_one_does_not(settings):
    settings.METRICS_TOKEN = "s" * 40
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION="Bearer " + "s" * 40)
    assert _samples(client.get("/metrics"))[("broker_database_up", ())] == 1
    client.credentials(HTTP_AUTHORIZATION="Bearer " + "x" * 40)
    assert client.get("/metrics").status_code == 401


def test_no_scrape_token_is_accepted_when_none_is_set(settings):
    settings.METRICS_TOKEN = None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer ")

    assert client.get("/metrics").status_code == 401


def test_an_operator_reads_the_state_of_pools_house_and_queue(
    operator_client, make_customer, client_for, queue, settings
):
    settings.POOL_MAX_WAIT_SECONDS = 60
    customer = make_customer(balance=Decimal("50.00"))
    # ABAN at $4: $6, pending in the pool.
    client_for(customer).post(
        "/api/order/", {"crypto": "ABAN", "amount": "1.5"}, format="json"
    )
    Pool.objects.filter(crypto_id="ABAN").update(
        waiting_since=timezone.now() - timedelta(seconds=90)
    )

    samples = _samples(operator_client.get("/metrics"))

    assert samples[("broker_database_up", ())] == 1
    assert samples[("broker_redis_up", ())] == 1
    aban = (("crypto", "ABAN"),)
    assert samples[("broker_pool_pending_usd", aban)] == 6.0
    assert samples[("broker_pool_oldest_order_age_seconds", aban)] >= 90
    assert (
        samples[("broker_pool_oldest_order_age_seconds", (("crypto", "BTC"),))]
        == 0
    )
    assert samples[("broker_pool_max_wait_seconds", ())] == 60
    # The house (empty in tests) lacks what GET /api/house/ says.
    short_by = selectors.house_short_by()
    assert short_by > 0
    assert samples[("broker_house_short_by_usd", ())] == float(short_by)
    assert samples[("broker_house_balance_usd", ())] == 0
    assert samples[("broker_purchases", (("status", "queued"),))] == 0
    assert samples[("broker_queue_jobs", ())] == 0


@pytest.mark.django_db(transaction=True)
def test_a_large_order_shows_as_a_queued_purchase_and_a_job(
    operator_client, make_customer, client_for, queue
):
    client_for(make_customer()).post(
        "/api/order/", {"crypto": "ETH", "amount": "0.01"}, format="json"
    )

    samples = _samples(operator_client.get("/metrics"))

    assert samples[("broker_purchases", (("status", "queued"),))] == 1
    assert samples[("broker_purchase_oldest_unfinished_age_seconds", ())] >= 0
    assert samples[("broker_queue_jobs", ())] == 1
    assert samples[("broker_queue_oldest_job_age_seconds", ())] >= 0


def test_labels_carry_views_never_ids(operator_client, make_customer):
    customer = make_customer()
    operator_client.get(f"/api/customer/{customer.pk}/")
    operator_client.get("/api/no/such/path/12345/")

    samples = _samples(operator_client.get("/metrics"))

    views = {
        dict(labels).get("view")
        for name, labels in samples
        if name == "broker_http_requests_total"
    }
    assert {"customer-detail", "unmatched"} <= views
    for _, labels in samples:
        for _, value in labels:
            assert str(customer.pk) != value or value in {"1", "0"}
            assert "12345" not in value
