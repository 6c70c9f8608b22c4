from datetime import UTC
from decimal import Decimal

from rest_framework import serializers
from rest_framework.reverse import reverse

from accounts.permissions import is_operator
from core.serializers import (
    BrowsableLinksMixin,
    QuantityField,
    SharedFieldsMixin,
    StrictSerializer,
    StringField,
)
from orders.models import Crypto, Order, Purchase


class CryptoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Crypto
        fields = ["symbol", "name", "price"]
        read_only_fields = fields


class OrderCreateSerializer(SharedFieldsMixin, StrictSerializer):
    crypto = StringField(max_length=10)
    amount = QuantityField(
        max_total_digits=20,
        decimal_places=10,
        min_value=Decimal("0.0000000001"),
    )
    customer_id = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False
    )


class OrderSerializer(BrowsableLinksMixin, serializers.ModelSerializer):
    crypto = serializers.CharField(source="crypto_id", read_only=True)

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
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

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
        return links


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
        "created_at": _timestamp(order.created_at),
        "updated_at": _timestamp(order.updated_at),
    }
