"""HTTP for customers, deposits, ledgers and operator tokens."""

from django.contrib.auth import authenticate
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import (
    exceptions,
    generics,
    mixins,
    serializers,
    status,
    viewsets,
)
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.actors import Actor
from accounts.models import ApiToken, LedgerEntry
from accounts.permissions import IsOperator, IsOperatorOrCustomer
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
from core.errors import InvalidInput
from core.idempotency import idempotent
from core.renderers import browsable_page_only
from core.schema import IDEMPOTENT_POST, READ_ERRORS, errors
from core.throttling import TokenThrottle
from ledger import movements
from orders import selectors as order_selectors
from orders.serializers import HoldingSerializer


def _created_payload(created):
    data = CustomerCreatedSerializer(created.customer).data
    data["api_key"] = created.api_key
    return data


_CUSTOMER = {"id": 1, "name": "farbod", "balance": "100.00"}
_HOLDING = {
    "crypto": "ABAN",
    "amount": "3.0000000000",
    "on_the_way": "1.5000000000",
    "spent": "12.00",
    "average_price": "4.00000000",
}
_API_KEY = "ck_Hq0x5c1H2v7m9Jt3kP8yW4rN6bE2uD1sZ0aQ5fG7hL"


@extend_schema_view(
    list=extend_schema(
        summary="List customers",
        description="Operators see every customer; a customer, itself.",
        responses={
            200: CustomerSerializer(many=True),
            **errors(400, *READ_ERRORS, 404),
        },
        examples=[OpenApiExample("customer", value=_CUSTOMER)],
    ),
    retrieve=extend_schema(
        summary="One customer",
        responses={200: CustomerSerializer, **errors(*READ_ERRORS, 404)},
        examples=[OpenApiExample("customer", value=_CUSTOMER)],
    ),
)
class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CustomerSerializer
    operator_actions = {"create", "deposit", "rotate_key", "revoke_keys"}

    def get_permissions(self):
        if self.action in self.operator_actions:
            return [IsOperator()]
        return [IsOperatorOrCustomer()]

    def get_queryset(self):
        return selectors.customers_visible_to(self.request.user)

    def get_serializer_class(self):
        if self.action == "create":
            return CustomerCreateSerializer
        if self.action == "deposit":
            return DepositSerializer
        return CustomerSerializer

    @extend_schema(
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
    @idempotent
    def create(self, request):
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.customer_create(
            **serializer.validated_data, actor=Actor.of(request)
        )
        return Response(_created_payload(created), status.HTTP_201_CREATED)

    @extend_schema(
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
    @extend_schema(methods=["GET"], exclude=True)
    @action(detail=True, methods=["get", "post"])
    def deposit(self, request, pk=None):
        if request.method == "GET":
            browsable_page_only(request)
            return Response(
                CustomerSerializer(
                    self.get_object(), context={"request": request}
                ).data
            )
        return self._deposit(request, pk)

    @idempotent
    def _deposit(self, request, pk=None):
        customer = self.get_object()
        serializer = DepositSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = movements.customer_deposit(
            customer_id=customer.pk,
            actor=Actor.of(request),
            amount=serializer.validated_data["amount"],
        )
        return Response(CustomerSerializer(customer).data)

    @extend_schema(
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
    @action(detail=True, methods=["post"], url_path="rotate-key")
    @idempotent
    def rotate_key(self, request, pk=None):
        """Revoke the customer's keys and return a new one, shown once."""
        customer = self.get_object()
        created = services.customer_key_rotate(
            customer_id=customer.pk, actor=Actor.of(request)
        )
        return Response(_created_payload(created))

    @extend_schema(
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
        examples=[
            OpenApiExample("revoked", value={"id": 1, "revoked_keys": 1})
        ],
    )
    @action(detail=True, methods=["post"], url_path="revoke-keys")
    @idempotent
    def revoke_keys(self, request, pk=None):
        customer = self.get_object()
        revoked = services.customer_keys_revoke(
            customer_id=customer.pk, actor=Actor.of(request)
        )
        return Response({"id": customer.pk, "revoked_keys": revoked})

    @extend_schema(
        summary="A customer's ledger, newest first",
        description=(
            "Every change of the balance: `deposit`, `order` (negative) "
            "and `refund`, each with the balance after it."
        ),
        responses={
            200: LedgerEntrySerializer(many=True),
            **errors(400, *READ_ERRORS, 404),
        },
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
    @action(detail=True, methods=["get"])
    def ledger(self, request, pk=None):
        customer = self.get_object()
        page = self.paginate_queryset(selectors.ledger_of(customer))
        return self.get_paginated_response(
            LedgerEntrySerializer(page, many=True).data
        )

    @extend_schema(
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
    @action(detail=True, methods=["get"], pagination_class=None)
    def holdings(self, request, pk=None):
        customer = self.get_object()
        rows = order_selectors.customer_holdings(customer_id=customer.pk)
        return Response(HoldingSerializer(rows, many=True).data)


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


class HouseView(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
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
    def get(self, request):
        return Response(
            HouseSerializer(
                order_selectors.house_summary(), context={"request": request}
            ).data
        )


class HouseDepositView(APIView):
    permission_classes = [IsOperator]
    serializer_class = DepositSerializer

    @extend_schema(exclude=True)
    def get(self, request):
        browsable_page_only(request)
        return Response(
            HouseSerializer(
                order_selectors.house_summary(), context={"request": request}
            ).data
        )

    @extend_schema(
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
    @idempotent
    def post(self, request):
        serializer = DepositSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        movements.house_deposit(
            amount=serializer.validated_data["amount"],
            actor=Actor.of(request),
        )
        return Response(
            HouseSerializer(
                order_selectors.house_summary(), context={"request": request}
            ).data
        )


class HouseLedgerView(generics.ListAPIView):
    """Every change of the house's balance, newest first: `deposit`,
    `house_top_up` (negative, naming the purchase it paid into) and
    `refund` (a topped-up purchase that failed)."""

    permission_classes = [IsOperator]
    serializer_class = HouseLedgerEntrySerializer

    def get_queryset(self):
        return order_selectors.house_ledger()

    @extend_schema(
        summary="The house's ledger, newest first (operator)",
        description=(
            "Every change of the house's balance: `deposit`, "
            "`house_top_up` (negative, naming the purchase it paid into) "
            "and `refund` (a topped-up purchase that failed)."
        ),
        responses={
            200: HouseLedgerEntrySerializer(many=True),
            **errors(400, *READ_ERRORS, 404),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class LedgerAuditView(generics.ListAPIView):
    permission_classes = [IsOperator]
    serializer_class = AuditedLedgerEntrySerializer

    def get_queryset(self):
        return selectors.ledger_audited(filters=self.request.query_params)

    @extend_schema(
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
            OpenApiParameter(
                "actor", OpenApiTypes.INT, description="A user id."
            ),
            OpenApiParameter(
                "kind", OpenApiTypes.STR, enum=LedgerEntry.Kind.values
            ),
        ],
        responses={
            200: AuditedLedgerEntrySerializer(many=True),
            **errors(400, *READ_ERRORS, 404),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CredentialEventView(generics.ListAPIView):
    permission_classes = [IsOperator]
    serializer_class = CredentialEventSerializer

    def get_queryset(self):
        return selectors.credential_events(filters=self.request.query_params)

    @extend_schema(
        summary="Keys and tokens created and revoked, and by whom "
        "(operator)",
        parameters=[
            OpenApiParameter(
                "subject",
                OpenApiTypes.INT,
                description="The user id whose credential it is.",
            ),
            OpenApiParameter(
                "actor", OpenApiTypes.INT, description="A user id."
            ),
        ],
        responses={
            200: CredentialEventSerializer(many=True),
            **errors(400, *READ_ERRORS, 404),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TokenView(APIView):
    """An operator trades username and password for an API token."""

    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer
    throttle_classes = [TokenThrottle]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return super().get_permissions()

    @extend_schema(
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
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request, **serializer.validated_data)
        if user is None or not user.is_staff or not user.is_active:
            raise exceptions.AuthenticationFailed(
                "Invalid username or password."
            )
        token = services.operator_token_issue(user=user)
        return Response({"token": token})

    @extend_schema(
        summary="Revoke the token of this request",
        description=(
            "The token (or customer key) sent in `Authorization` stops "
            "working at once. A browser session has no token to revoke: "
            "log out instead."
        ),
        request=None,
        responses={204: None, **errors(400, 401, 429, 503)},
    )
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise InvalidInput("This request carries no token to revoke.")
        services.api_token_revoke(
            token_id=request.auth.pk, actor=Actor.of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
