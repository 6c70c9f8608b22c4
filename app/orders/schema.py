"""The OpenAPI description of ``orders.api``: one decorator per view or
action, applied there as ``@schema.<name>``. What a client reads in the
schema is written here; what the server does, in ``orders.api``."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)

from core.schema import (
    IDEMPOTENT_POST,
    READ_ERRORS,
    errors,
    list_and_retrieve,
)
from orders.models import Order
from orders.serializers import (
    CryptoSerializer,
    OrderCreateSerializer,
    OrderSerializer,
    PurchaseSerializer,
)

_ORDER = {
    "id": 1,
    "customer_id": 1,
    "crypto": "ABAN",
    "amount": "1.5000000000",
    "price": "4.00000000",
    "total": "6.00",
    "status": "pending",
    "purchase_id": None,
    "pool": {
        "pending_total": "6.00",
        "threshold": "10.00",
        "waiting_since": "2025-01-01T12:00:00.000000Z",
        "house_top_up_at": "2025-01-01T12:01:00.000000Z",
    },
    "created_at": "2025-01-01T12:00:00.000000Z",
    "updated_at": "2025-01-01T12:00:00.000000Z",
}
_PURCHASE = {
    "id": 1,
    "crypto": "ABAN",
    "amount": "3.0000000000",
    "total": "12.00",
    "house_amount": "0.0000000000",
    "house_total": "0.00",
    "status": "completed",
    "client_order_id": "3f2b8c1e-5d4a-4e1b-9a7c-2d6e8f0a1b3c",
    "attempts": 1,
    "order_ids": [1, 2],
    "created_at": "2025-01-01T12:00:01.000000Z",
    "completed_at": "2025-01-01T12:00:06.000000Z",
}


crypto_list = extend_schema_view(
    get=extend_schema(
        summary="Listed cryptos and their USD prices",
        auth=[],
        responses={
            200: CryptoSerializer(many=True),
            **errors(401, 429, 503),
        },
        examples=[
            OpenApiExample(
                "ABAN",
                value={
                    "symbol": "ABAN",
                    "name": "Aban Tether",
                    "price": "4.00000000",
                },
            )
        ],
    )
)

orders = list_and_retrieve(
    OrderSerializer,
    summaries=("List orders, newest first", "One order"),
    description="Operators see every order; a customer, its own.",
    parameters=[
        OpenApiParameter(
            "customer", OpenApiTypes.INT, description="A customer id."
        ),
        OpenApiParameter("status", OpenApiTypes.STR, enum=Order.Status.values),
        OpenApiParameter(
            "crypto", OpenApiTypes.STR, description="A symbol: ABAN."
        ),
    ],
    example=("pooled order", _ORDER),
)

order_create = extend_schema(
    summary="Place an order",
    description=(
        "Debits the customer `total` (price x amount, rounded up to "
        "the cent) at once, in the transaction that writes the order. "
        "Below `PURCHASE_THRESHOLD` (USD 10) the order waits `pending` "
        "in its crypto's pool until the pool reaches the threshold; "
        "then it is `submitted` in an exchange purchase, bought by the "
        "worker. Operators must name `customer_id`; a customer may "
        "omit it (naming another customer is `403`)."
    ),
    request={"application/json": OrderCreateSerializer},
    responses={
        201: OrderSerializer,
        **errors(
            400,
            *READ_ERRORS,
            404,
            409,
            413,
            415,
            422,
            codes={400: ["invalid", "insufficient_funds", "unknown_crypto"]},
        ),
    },
    parameters=IDEMPOTENT_POST,
    examples=[
        OpenApiExample(
            "operator order",
            summary="The original design's order, by an operator",
            value={"crypto": "ABAN", "amount": 1.5, "customer_id": 1},
            request_only=True,
        ),
        OpenApiExample(
            "customer order",
            summary="A customer's own order (customer_id omitted)",
            value={"crypto": "BTC", "amount": "0.001"},
            request_only=True,
        ),
        OpenApiExample(
            "pooled",
            summary="Below the threshold: pending in the pool",
            value=_ORDER,
            response_only=True,
            status_codes=[201],
        ),
        OpenApiExample(
            "submitted",
            summary="At or above the threshold: its own purchase",
            value={
                **_ORDER,
                "id": 2,
                "crypto": "BTC",
                "amount": "0.0010000000",
                "price": "65000.00000000",
                "total": "65.00",
                "status": "submitted",
                "purchase_id": 2,
                "pool": None,
            },
            response_only=True,
            status_codes=[201],
        ),
    ],
)

order_cancel = extend_schema(
    summary="Cancel a pending order",
    description=(
        "Takes a `pending` order out of its pool and refunds its total "
        "(ledger kind `refund`), in one transaction; the order becomes "
        "`cancelled`. Once the order is `submitted` (in a purchase) it "
        "can no longer be cancelled: `409 order_not_cancellable`. A "
        "cancel and a flush of the pool never both happen."
    ),
    request=None,
    responses={
        200: OrderSerializer,
        **errors(
            *READ_ERRORS,
            404,
            409,
            422,
            codes={409: ["order_not_cancellable", "idempotency_key_in_use"]},
        ),
    },
    parameters=IDEMPOTENT_POST,
    examples=[
        OpenApiExample(
            "cancelled",
            value={**_ORDER, "status": "cancelled", "pool": None},
            response_only=True,
        )
    ],
)

purchases = list_and_retrieve(
    PurchaseSerializer,
    summaries=(
        "List exchange purchases (operator)",
        "One exchange purchase (operator)",
    ),
    example=("pool purchase", _PURCHASE),
)
