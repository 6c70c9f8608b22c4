"""The OpenAPI description of ``accounts.api``: one decorator per view
or action, applied there as ``@schema.<name>``. What a client reads in
the schema is written here; what the server does, in ``accounts.api``.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from accounts.models import LedgerEntry
from accounts.serializers import (
    AuditedLedgerEntrySerializer,
    CredentialEventSerializer,
    CustomerCreatedSerializer,
    CustomerCreateSerializer,
    CustomerSerializer,
    DepositSerializer,
    HouseLedgerEntrySerializer,
    HouseSerializer,
    LedgerEntrySerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from core.schema import (
    IDEMPOTENT_POST,
    READ_ERRORS,
    errors,
    list_and_retrieve,
    page_of,
)
from orders.serializers import HoldingSerializer

_CUSTOMER = {"id": 1, "name": "farbod", "balance": "100.00"}
_HOLDING = {
    "crypto": "ABAN",
    "amount": "3.0000000000",
    "on_the_way": "1.5000000000",
    "spent": "12.00",
    "average_price": "4.00000000",
}
_API_KEY = "ck_Hq0x5c1H2v7m9Jt3kP8yW4rN6bE2uD1sZ0aQ5fG7hL"
# The filter of the audit trails: who acted.
_ACTOR = OpenApiParameter("actor", OpenApiTypes.INT, description="A user id.")
_HOUSE = {
    "balance": "88.00",
    "short_by": "0.00",
    "top_ups": 3,
    "holdings": [
        {
            "crypto": "ABAN",
            "amount": "3.0000000000",
            "on_the_way": "0.0000000000",
            "spent": "12.00",
            "average_price": "4.00000000",
        }
    ],
}


customers = list_and_retrieve(
    CustomerSerializer,
    summaries=("List customers", "One customer"),
    description="Operators see every customer; a customer, itself.",
    example=("customer", _CUSTOMER),
)

customer_create = extend_schema(
    summary="Create a customer (operator)",
    description=(
        "The balance defaults to 100.00 and is the customer's opening "
        "`deposit` in the ledger. `api_key` is shown this once; only "
        "its hash is kept (an idempotent replay answers it as null)."
    ),
    request={"application/json": CustomerCreateSerializer},
    responses={
        201: CustomerCreatedSerializer,
        **errors(400, *READ_ERRORS, 409, 413, 415, 422),
    },
    parameters=IDEMPOTENT_POST,
    examples=[
        OpenApiExample(
            "farbod",
            summary="The original design's customer",
            value={"name": "farbod", "balance": "100.00"},
            request_only=True,
        ),
        OpenApiExample(
            "created",
            value={**_CUSTOMER, "api_key": _API_KEY},
            response_only=True,
            status_codes=[201],
        ),
    ],
)

customer_deposit = extend_schema(
    methods=["POST"],
    summary="Deposit into a customer's balance (operator)",
    request={"application/json": DepositSerializer},
    responses={
        200: CustomerSerializer,
        **errors(400, *READ_ERRORS, 404, 409, 413, 415, 422),
    },
    parameters=IDEMPOTENT_POST,
    examples=[
        OpenApiExample(
            "deposit", value={"amount": "25.50"}, request_only=True
        ),
        OpenApiExample(
            "new balance",
            value={**_CUSTOMER, "balance": "125.50"},
            response_only=True,
        ),
    ],
)

# The GETs of the deposit endpoints serve the browsable API's form, not
# clients, so the schema leaves them out.
customer_deposit_form = extend_schema(methods=["GET"], exclude=True)
house_deposit_form = extend_schema(exclude=True)

customer_key_rotate = extend_schema(
    summary="Replace a customer's API key (operator)",
    description=(
        "Revokes every key of the customer and answers a new one, "
        "shown this once."
    ),
    request=None,
    responses={
        200: CustomerCreatedSerializer,
        **errors(*READ_ERRORS, 404, 409, 422),
    },
    parameters=IDEMPOTENT_POST,
    examples=[
        OpenApiExample("new key", value={**_CUSTOMER, "api_key": _API_KEY})
    ],
)

customer_keys_revoke = extend_schema(
    summary="Revoke a customer's API keys (operator)",
    description=(
        "Every key of the customer stops working at once and none is "
        "issued: the customer is locked out until `rotate-key`."
    ),
    request=None,
    responses={
        200: inline_serializer(
            "KeysRevoked",
            {
                "id": serializers.IntegerField(),
                "revoked_keys": serializers.IntegerField(min_value=0),
            },
        ),
        **errors(*READ_ERRORS, 404, 409, 422),
    },
    parameters=IDEMPOTENT_POST,
    examples=[OpenApiExample("revoked", value={"id": 1, "revoked_keys": 1})],
)

customer_ledger = extend_schema(
    summary="A customer's ledger, newest first",
    description=(
        "Every change of the balance: `deposit`, `order` (negative) "
        "and `refund`, each with the balance after it."
    ),
    responses=page_of(LedgerEntrySerializer),
    examples=[
        OpenApiExample(
            "order debit",
            summary="The debit of an order",
            value={
                "id": 2,
                "kind": "order",
                "amount": "-6.00",
                "balance_after": "94.00",
                "order_id": 1,
                "created_at": "2025-01-01T12:00:00.000000Z",
            },
        )
    ],
)

customer_holdings = extend_schema(
    summary="What a customer owns, per crypto",
    description=(
        "One row per crypto the customer ordered. `amount` and `spent` "
        "are the sums over its completed orders, exactly; `on_the_way` "
        "is the amount of its pending and submitted orders; "
        "`average_price` is `spent / amount` (null when it owns none)."
    ),
    responses={
        200: HoldingSerializer(many=True),
        **errors(*READ_ERRORS, 404),
    },
    examples=[OpenApiExample("ABAN", value=[_HOLDING])],
)

house = extend_schema(
    summary="The house account (operator)",
    description=(
        "The broker's own account. When a crypto's oldest pending "
        "order has waited `POOL_MAX_WAIT_SECONDS`, the house buys what "
        "the pool lacks of the threshold, paid from this balance. "
        "`short_by` is how much more it needs to top up every pool "
        "waiting for it now (those pools wait until a deposit); "
        "`top_ups` counts the purchases it topped up."
    ),
    responses={200: HouseSerializer, **errors(*READ_ERRORS)},
    examples=[OpenApiExample("house", value=_HOUSE)],
)

house_deposit = extend_schema(
    summary="Deposit into the house's balance (operator)",
    request={"application/json": DepositSerializer},
    responses={
        200: HouseSerializer,
        **errors(400, *READ_ERRORS, 409, 413, 415, 422),
    },
    parameters=IDEMPOTENT_POST,
    examples=[
        OpenApiExample(
            "deposit", value={"amount": "100.00"}, request_only=True
        ),
        OpenApiExample("house", value=_HOUSE, response_only=True),
    ],
)

house_ledger = extend_schema_view(
    get=extend_schema(
        summary="The house's ledger, newest first (operator)",
        description=(
            "Every change of the house's balance: `deposit`, "
            "`house_top_up` (negative, naming the purchase it paid into) "
            "and `refund` (a topped-up purchase that failed)."
        ),
        responses=page_of(HouseLedgerEntrySerializer),
    )
)

ledger_audit = extend_schema_view(
    get=extend_schema(
        summary="Every customer's ledger, with who moved the money "
        "(operator)",
        description=(
            "Each entry names its `actor`: the operator or customer who "
            "made the request (with its token's prefix; none for a browser "
            "session), or `service` for what the worker did (refunds of "
            "failed purchases). Filter by `customer`, `actor` (a user id) "
            "and `kind`."
        ),
        parameters=[
            OpenApiParameter("customer", OpenApiTypes.INT),
            _ACTOR,
            OpenApiParameter(
                "kind", OpenApiTypes.STR, enum=LedgerEntry.Kind.values
            ),
        ],
        responses=page_of(AuditedLedgerEntrySerializer),
    )
)

credential_events = extend_schema_view(
    get=extend_schema(
        summary="Keys and tokens created and revoked, and by whom "
        "(operator)",
        parameters=[
            OpenApiParameter(
                "subject",
                OpenApiTypes.INT,
                description="The user id whose credential it is.",
            ),
            _ACTOR,
        ],
        responses=page_of(CredentialEventSerializer),
    )
)

token_issue = extend_schema(
    summary="An operator's API token",
    description=(
        "Trade an operator's (staff user's) username and password for "
        "a token; send it as `Authorization: Token <token>`."
    ),
    auth=[],
    request={"application/json": TokenRequestSerializer},
    responses={
        200: TokenSerializer,
        **errors(400, 401, 413, 415, 429, 503),
    },
    examples=[
        OpenApiExample(
            "credentials",
            value={"username": "operator", "password": "s3cret"},
            request_only=True,
        ),
        OpenApiExample(
            "token",
            value={"token": "op_9s8V2kQ4mN1xT7cR5bW3yH6jL0pZ2aF4dG8e"},
            response_only=True,
        ),
    ],
)

token_revoke = extend_schema(
    summary="Revoke the token of this request",
    description=(
        "The token (or customer key) sent in `Authorization` stops "
        "working at once. A browser session has no token to revoke: "
        "log out instead."
    ),
    request=None,
    responses={204: None, **errors(400, 401, 429, 503)},
)
