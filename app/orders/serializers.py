from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import (
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.fields import iter_options
from rest_framework.reverse import reverse

from accounts.permissions import is_operator
from core.serializers import (
    BrowsableLinksMixin,
    IdField,
    QuantityField,
    SharedFieldsMixin,
    StrictSerializer,
    StringField,
)
from orders.models import Crypto, Order, Pool, Purchase
from orders.pool import house_top_up_due


@extend_schema_serializer(
    description="A listed crypto and its USD price per unit."
)
class CryptoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Crypto
        fields = ["symbol", "name", "price"]
        read_only_fields = fields


def _price_text(price):
    if price >= 1:
        return f"${price:,.2f}"
    return f"${price.normalize():f}"


class CryptoSymbolField(StringField):
    """A listed crypto's symbol. API clients send the symbol; the
    browsable API's form offers the listed cryptos, with their prices,
    as a choice (read when the form is drawn, never for an order)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("style", {"base_template": "select.html"})
        super().__init__(**kwargs)

    def iter_options(self):
        return iter_options(
            {
                crypto.symbol: (
                    f"{crypto.symbol}: {crypto.name}, "
                    f"{_price_text(crypto.price)}"
                )
                for crypto in Crypto.objects.order_by("symbol")
            }
        )


@extend_schema_serializer(
    description=(
        "An order: `amount` units of the listed `crypto`, for the "
        "customer `customer_id` (operators must name it; a customer may "
        "omit it)."
    )
)
class OrderCreateSerializer(SharedFieldsMixin, StrictSerializer):
    crypto = CryptoSymbolField(max_length=10)
    amount = QuantityField(
        max_total_digits=20,
        decimal_places=10,
        min_value=Decimal("0.0000000001"),
        # Not "greater than or equal to 1E-10": the smallest amount is a
        # detail of the precision, "more than nothing" is the rule.
        error_messages={"min_value": "Ensure this value is greater than 0."},
    )
    customer_id = IdField(required=False)


@extend_schema_serializer(
    description=(
        "Where a pending order stands: its pool's total against the "
        "threshold, since when the pool waits (its oldest order's time), "
        "and when the house completes it (null when the bounded wait is "
        "off)."
    )
)
class PoolProgressSerializer(serializers.Serializer):

    pending_total = serializers.DecimalField(max_digits=16, decimal_places=2)
    threshold = serializers.DecimalField(max_digits=16, decimal_places=2)
    waiting_since = serializers.DateTimeField()
    house_top_up_at = serializers.DateTimeField(allow_null=True)


def pool_progress(order) -> dict | None:
    """The ``pool`` of an order: its pool's state when pending, else
    None. Uses the pool's state the order came with (the order's own
    statement, or the selectors' annotation), or reads it."""
    if order.status != Order.Status.PENDING:
        return None
    if hasattr(order, "pool_pending"):
        pending, since = order.pool_pending, order.pool_waiting_since
    else:
        pending, since = (
            Pool.objects.filter(crypto_id=order.crypto_id)
            .values_list("pending_total", "waiting_since")
            .first()
        ) or (None, None)
    if pending is None or since is None:
        # No pool row: only books edited behind the services' back.
        pending, since = order.total, order.created_at
    due = house_top_up_due(since)
    return {
        "pending_total": _decimal(pending, 2),
        "threshold": _decimal(settings.PURCHASE_THRESHOLD, 2),
        "waiting_since": _timestamp(since),
        "house_top_up_at": None if due is None else _timestamp(due),
    }


def pool_progress_text(order, progress) -> str:
    """The progress as a person reads it in the browsable API."""
    text = (
        f"${progress['pending_total']} of ${progress['threshold']} in the "
        f"{order.crypto_id} pool"
    )
    due = progress["house_top_up_at"]
    if due is None:
        return f"{text}; it waits for more orders"
    clock = datetime.fromisoformat(due).astimezone(UTC).strftime("%H:%M:%S")
    return f"{text}; the house completes it at {clock} UTC"


@extend_schema_serializer(
    description=(
        "An order. The customer was debited `total` (price x amount, "
        "rounded up to the cent) when it was placed. `status`: `pending` "
        "(in its crypto's pool; `pool` says where the pool stands), "
        "`submitted` (in the purchase `purchase_id`), `completed`, "
        "`failed` (refunded) or `cancelled` (refunded)."
    )
)
class OrderSerializer(BrowsableLinksMixin, serializers.ModelSerializer):
    crypto = serializers.CharField(source="crypto_id", read_only=True)
    pool = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id",
            "customer_id",
            "crypto",
            "amount",
            "price",
            "total",
            "status",
            "purchase_id",
            "pool",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PoolProgressSerializer(allow_null=True))
    def get_pool(self, order):
        return pool_progress(order)

    def browsable_links(self, order, request):
        customer = [order.customer_id]
        links = {
            "url": reverse("order-detail", [order.pk], request=request),
            "customer_url": reverse(
                "customer-detail", customer, request=request
            ),
            "ledger_url": reverse(
                "customer-ledger", customer, request=request
            ),
        }
        if order.purchase_id is not None and is_operator(request.user):
            links["purchase_url"] = reverse(
                "purchase-detail", [order.purchase_id], request=request
            )
        if order.status == Order.Status.PENDING:
            progress = pool_progress(order)
            links["progress"] = pool_progress_text(order, progress)
            links["cancel_url"] = reverse(
                "order-cancel", [order.pk], request=request
            )
        return links


@extend_schema_serializer(
    description=(
        "One purchase at the exchange: its orders (`order_ids`) bought "
        "together, plus the house's share (`house_amount`, `house_total`) "
        "when the bounded wait topped it up. `client_order_id` identifies "
        "it at the exchange, which fills it at most once."
    )
)
class PurchaseSerializer(BrowsableLinksMixin, serializers.ModelSerializer):
    crypto = serializers.CharField(source="crypto_id", read_only=True)
    order_ids = serializers.SerializerMethodField()

    class Meta:
        model = Purchase
        fields = [
            "id",
            "crypto",
            "amount",
            "total",
            "status",
            "client_order_id",
            "house_amount",
            "house_total",
            "attempts",
            "order_ids",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_order_ids(self, purchase) -> list[int]:
        return sorted(order.pk for order in purchase.orders.all())

    def browsable_links(self, purchase, request):
        return {
            "url": reverse("purchase-detail", [purchase.pk], request=request),
            "order_urls": [
                reverse("order-detail", [order_id], request=request)
                for order_id in self.get_order_ids(purchase)
            ],
        }


def _decimal(value, places):
    return f"{value.quantize(Decimal(1).scaleb(-places)):f}"


def _timestamp(value):
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def order_data(order) -> dict:
    """``OrderSerializer(order).data``, written out by hand for the order
    endpoint's hot path: building a ModelSerializer's fields costs more
    than the rest of the request's Python. ``test_serializers`` holds the
    two to the same output."""
    return {
        "id": order.id,
        "customer_id": order.customer_id,
        "crypto": order.crypto_id,
        "amount": _decimal(order.amount, 10),
        "price": _decimal(order.price, 8),
        "total": _decimal(order.total, 2),
        "status": order.status,
        "purchase_id": order.purchase_id,
        "pool": pool_progress(order),
        "created_at": _timestamp(order.created_at),
        "updated_at": _timestamp(order.updated_at),
    }


@extend_schema_serializer(
    description=(
        "What a customer (or the house) owns of one crypto: `amount` and "
        "`spent` are the sums over its completed orders (shares), "
        "exactly; `on_the_way` is what is pending or submitted."
    )
)
class HoldingSerializer(serializers.Serializer):

    crypto = serializers.CharField()
    amount = serializers.DecimalField(max_digits=30, decimal_places=10)
    on_the_way = serializers.DecimalField(max_digits=30, decimal_places=10)
    spent = serializers.DecimalField(max_digits=16, decimal_places=2)
    average_price = serializers.DecimalField(
        max_digits=30, decimal_places=8, allow_null=True
    )
