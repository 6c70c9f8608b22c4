"""The admin: operators see everything, and change no money.

Balances, ledger entries, orders and purchases are read-only there; a
balance changes only through the deposit service. An API token shows
its prefix, never its digest.
"""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import ApiToken, Customer, LedgerEntry
from exchange.models import SimulatedExchangeOrder
from orders import services as order_services
from orders.models import Order, Purchase

CHANGELISTS = [
    "/admin/accounts/customer/",
    "/admin/accounts/ledgerentry/",
    "/admin/accounts/apitoken/",
    "/admin/orders/crypto/",
    "/admin/orders/order/",
    "/admin/orders/pool/",
    "/admin/orders/purchase/",
    "/admin/exchange/simulatedexchangeorder/",
]


@pytest.fixture
def admin_client(db):
    """The demo operator: a staff superuser, logged in to the admin."""
    get_user_model().objects.create_superuser(
        username="root-operator", password="s3cret-pass"
    )
    client = Client()
    assert client.login(username="root-operator", password="s3cret-pass")
    return client


@pytest.fixture
def customer_with_filled_order(make_customer):
    """A customer with a deposit, an order, its purchase and its fill."""
    alice = make_customer("alice", Decimal("100.00"))
    order = order_services.order_place(
        customer_id=alice.pk, symbol="BTC", amount=Decimal("0.001")
    )
    SimulatedExchangeOrder.objects.create(
        client_order_id=order.purchase.client_order_id,
        crypto="BTC",
        amount=order.amount,
        calls=1,
    )
    return alice, order


@pytest.mark.parametrize("path", CHANGELISTS)
def test_operator_views_every_changelist(
    admin_client, customer_with_filled_order, path
):
    response = admin_client.get(path)

    assert response.status_code == 200, path


@pytest.mark.parametrize("path", CHANGELISTS)
def test_changelist_search_and_filters_answer(
    admin_client, customer_with_filled_order, path
):
    for query in ("?q=alice", "?q=1", "?q=not-a-number", "?o=-1"):
        response = admin_client.get(path + query)

        assert response.status_code == 200, path + query


def test_operator_views_each_object(admin_client, customer_with_filled_order):
    alice, order = customer_with_filled_order
    entry = alice.ledger.first()
    token = ApiToken.objects.filter(user=alice.user).first()
    fill = SimulatedExchangeOrder.objects.get()
    for path in (
        f"/admin/accounts/customer/{alice.pk}/change/",
        f"/admin/accounts/ledgerentry/{entry.pk}/change/",
        f"/admin/accounts/apitoken/{token.pk}/change/",
        f"/admin/orders/order/{order.pk}/change/",
        f"/admin/orders/purchase/{order.purchase_id}/change/",
        "/admin/orders/crypto/BTC/change/",
        f"/admin/exchange/simulatedexchangeorder/{fill.pk}/change/",
    ):
        response = admin_client.get(path)

        assert response.status_code == 200, path


def test_operator_cannot_change_a_balance(
    admin_client, customer_with_filled_order
):
    alice, _ = customer_with_filled_order
    path = f"/admin/accounts/customer/{alice.pk}/change/"

    page = admin_client.get(path).content.decode()
    response = admin_client.post(
        path, {"name": "alice", "balance": "1000000.00"}
    )

    assert 'name="balance"' not in page
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.balance == Decimal("35.00")
    assert not alice.ledger.filter(amount=Decimal("1000000.00")).exists()


@pytest.mark.parametrize(
    "model", [Customer, LedgerEntry, ApiToken, Order, Purchase]
)
def test_money_rows_cannot_be_added_changed_or_deleted(
    admin_client, customer_with_filled_order, model
):
    meta = model._meta
    base = f"/admin/{meta.app_label}/{meta.model_name}/"
    row = model.objects.order_by("pk").first()

    add = admin_client.post(f"{base}add/", {})
    change = admin_client.post(f"{base}{row.pk}/change/", {})
    delete = admin_client.post(f"{base}{row.pk}/delete/", {"post": "yes"})

    assert (add.status_code, change.status_code) == (403, 403)
    assert delete.status_code == 403
    assert model.objects.filter(pk=row.pk).exists()


def test_api_token_shows_its_prefix_never_its_digest(
    admin_client, customer_with_filled_order
):
    alice, _ = customer_with_filled_order
    token = ApiToken.objects.filter(user=alice.user).first()

    listing = admin_client.get("/admin/accounts/apitoken/").content.decode()
    detail = admin_client.get(
        f"/admin/accounts/apitoken/{token.pk}/change/"
    ).content.decode()

    for page in (listing, detail):
        assert token.prefix in page
        assert token.digest not in page


def test_operator_may_edit_a_crypto_price(admin_client, db):
    response = admin_client.post(
        "/admin/orders/crypto/ABAN/change/",
        {"name": "Aban Tether", "price": "4.50"},
    )

    assert response.status_code == 302, response.content
    from orders.models import Crypto

    assert Crypto.objects.get(pk="ABAN").price == Decimal("4.50")
