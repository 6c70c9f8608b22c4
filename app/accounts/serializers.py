from decimal import Decimal

from rest_framework import serializers
from rest_framework.reverse import reverse

from accounts.models import Customer, HouseLedgerEntry, LedgerEntry
from core.money import MAX_BALANCE
from core.serializers import (
    BrowsableLinksMixin,
    MoneyField,
    StrictSerializer,
    StringField,
)
from orders.serializers import HoldingSerializer


class CustomerSerializer(BrowsableLinksMixin, serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "balance"]
        read_only_fields = fields

    def browsable_links(self, customer, request):
        orders = reverse("order-list", request=request)
        return {
            "url": reverse("customer-detail", [customer.pk], request=request),
            "ledger_url": reverse(
                "customer-ledger", [customer.pk], request=request
            ),
            "orders_url": f"{orders}?customer={customer.pk}",
        }


class CustomerCreateSerializer(StrictSerializer):
    name = StringField(max_length=100)
    balance = MoneyField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=MAX_BALANCE,
        required=False,
    )


class CustomerCreatedSerializer(serializers.ModelSerializer):
    # Null in an idempotent replay: the key is shown once, never stored.
    api_key = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = ["id", "name", "balance", "api_key"]


class DepositSerializer(StrictSerializer):
    amount = MoneyField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_BALANCE,
    )


class LedgerEntrySerializer(BrowsableLinksMixin, serializers.ModelSerializer):
    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "balance_after",
            "order_id",
            "created_at",
        ]
        read_only_fields = fields

    def browsable_links(self, entry, request):
        if entry.order_id is None:
            return {}
        return {
            "order_url": reverse(
                "order-detail", [entry.order_id], request=request
            )
        }


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    # As typed: a space around a password is part of it.
    password = serializers.CharField(
        max_length=4096,
        trim_whitespace=False,
        style={"input_type": "password"},
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class HouseLedgerEntrySerializer(
    BrowsableLinksMixin, serializers.ModelSerializer
):
    class Meta:
        model = HouseLedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "balance_after",
            "purchase_id",
            "created_at",
        ]
        read_only_fields = fields

    def browsable_links(self, entry, request):
        if entry.purchase_id is None:
            return {}
        return {
            "purchase_url": reverse(
                "purchase-detail", [entry.purchase_id], request=request
            )
        }


class HouseSerializer(BrowsableLinksMixin, serializers.Serializer):
    balance = serializers.DecimalField(max_digits=10, decimal_places=2)
    short_by = serializers.DecimalField(max_digits=16, decimal_places=2)
    top_ups = serializers.IntegerField(min_value=0)
    holdings = HoldingSerializer(many=True)

    def browsable_links(self, house, request):
        return {
            "ledger_url": reverse("house-ledger", request=request),
            "deposit_url": reverse("house-deposit", request=request),
        }
