from decimal import Decimal

from rest_framework import serializers

from core.serializers import QuantityField, StrictSerializer, StringField
from orders.models import Crypto, Order, Purchase


class CryptoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Crypto
        fields = ["symbol", "name", "price"]
        read_only_fields = fields


class OrderCreateSerializer(StrictSerializer):
    crypto = StringField(max_length=10)
    amount = QuantityField(
        max_total_digits=20,
        decimal_places=10,
        min_value=Decimal("0.0000000001"),
    )
    customer_id = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False
    )


class OrderSerializer(serializers.ModelSerializer):
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


class PurchaseSerializer(serializers.ModelSerializer):
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
