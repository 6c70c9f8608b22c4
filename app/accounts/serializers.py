from decimal import Decimal

from rest_framework import serializers

from accounts.models import Customer, LedgerEntry
from core.money import MAX_BALANCE
from core.serializers import MoneyField, StrictSerializer, StringField


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "name", "balance"]
        read_only_fields = fields


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
    api_key = serializers.CharField(read_only=True)

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


class LedgerEntrySerializer(serializers.ModelSerializer):
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


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=4096, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
