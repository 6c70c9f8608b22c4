from decimal import Decimal

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.reverse import reverse

from accounts.models import (
    CredentialEvent,
    Customer,
    HouseLedgerEntry,
    LedgerEntry,
)
from core.money import MAX_BALANCE
from core.serializers import (
    BrowsableLinksMixin,
    MoneyField,
    StrictSerializer,
    StringField,
)
from orders.serializers import HoldingSerializer


@extend_schema_serializer(
    description="A customer's account and its USD balance."
)
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


@extend_schema_serializer(
    description=(
        "A new customer, or one whose key was replaced: `api_key` is "
        "shown this once (null in an idempotent replay); only its hash is "
        "kept."
    )
)
class CustomerCreatedSerializer(serializers.ModelSerializer):
    # Null in an idempotent replay: the key is shown once, never stored.
    api_key = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = ["id", "name", "balance", "api_key"]
        # An answer: every field is always there (read-only fields are
        # required in the schema; the balance has a default on the model).
        read_only_fields = fields


class DepositSerializer(StrictSerializer):
    amount = MoneyField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_BALANCE,
    )


@extend_schema_serializer(
    description=(
        "One change of a balance. `amount` is signed; `balance_after` is "
        "the balance it left. Kinds: `deposit`, `order` (negative, naming "
        "the order), `refund` (a failed or cancelled order)."
    )
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
    username = StringField(max_length=150)
    # As typed: a space around a password is part of it.
    password = StringField(
        max_length=4096,
        trim_whitespace=False,
        style={"input_type": "password"},
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


@extend_schema_serializer(
    description=(
        "Who did it: an `operator` or a `customer` (the user and, when "
        "the request carried one, the prefix of its token or key), or the "
        "`service` itself (the worker: refunds of failed purchases, the "
        "house's top-ups)."
    )
)
class ActorSerializer(serializers.Serializer):

    role = serializers.ChoiceField(["operator", "customer", "service"])
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    token = serializers.CharField(allow_null=True)

    def to_representation(self, row):
        user = row.actor_user
        if user is None:
            role = "service"
        elif getattr(user, "customer", None) is not None:
            role = "customer"
        else:
            role = "operator"
        token = row.actor_token
        return {
            "role": role,
            "user_id": row.actor_user_id,
            "username": user.username if user else None,
            "token": f"{token.prefix}…" if token else None,
        }


class HouseLedgerEntrySerializer(
    BrowsableLinksMixin, serializers.ModelSerializer
):
    actor = ActorSerializer(source="*", read_only=True)

    class Meta:
        model = HouseLedgerEntry
        fields = [
            "id",
            "kind",
            "amount",
            "balance_after",
            "purchase_id",
            "actor",
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


@extend_schema_serializer(
    description=(
        "The house (the broker's own account): its USD balance, what it "
        "lacks to top up every pool waiting for it (`short_by`), how many "
        "purchases it topped up, and the crypto it owns."
    )
)
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


class AuditedLedgerEntrySerializer(LedgerEntrySerializer):
    """A ledger entry as operators audit it: whose, and who moved it."""

    actor = ActorSerializer(source="*", read_only=True)

    class Meta(LedgerEntrySerializer.Meta):
        fields = [
            "id",
            "customer_id",
            "kind",
            "amount",
            "balance_after",
            "order_id",
            "actor",
            "created_at",
        ]
        read_only_fields = fields


class CredentialEventSerializer(serializers.ModelSerializer):
    subject_id = serializers.IntegerField(read_only=True)
    token = serializers.SerializerMethodField()
    actor = ActorSerializer(source="*", read_only=True)

    class Meta:
        model = CredentialEvent
        fields = ["id", "kind", "subject_id", "token", "actor", "created_at"]
        read_only_fields = fields

    def get_token(self, event) -> str | None:
        return f"{event.token.prefix}…" if event.token_id else None
