"""HTTP for customers, deposits, ledgers and operator tokens. Their
OpenAPI descriptions live in ``accounts.schema``."""

from django.contrib.auth import authenticate
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import schema, selectors, services
from accounts.actors import Actor
from accounts.models import ApiToken
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
)
from core.errors import InvalidInput
from core.idempotency import idempotent
from core.renderers import browsable_page_only
from core.throttling import TokenThrottle
from ledger import movements
from orders import selectors as order_selectors
from orders.serializers import HoldingSerializer


def _created_payload(created):
    data = CustomerCreatedSerializer(created.customer).data
    data["api_key"] = created.api_key
    return data


@schema.customers
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

    @schema.customer_create
    @idempotent
    def create(self, request):
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.customer_create(
            **serializer.validated_data, actor=Actor.of(request)
        )
        return Response(_created_payload(created), status.HTTP_201_CREATED)

    @schema.customer_deposit
    @schema.customer_deposit_form
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

    @schema.customer_key_rotate
    @action(detail=True, methods=["post"], url_path="rotate-key")
    @idempotent
    def rotate_key(self, request, pk=None):
        """Revoke the customer's keys and return a new one, shown once."""
        customer = self.get_object()
        created = services.customer_key_rotate(
            customer_id=customer.pk, actor=Actor.of(request)
        )
        return Response(_created_payload(created))

    @schema.customer_keys_revoke
    @action(detail=True, methods=["post"], url_path="revoke-keys")
    @idempotent
    def revoke_keys(self, request, pk=None):
        customer = self.get_object()
        revoked = services.customer_keys_revoke(
            customer_id=customer.pk, actor=Actor.of(request)
        )
        return Response({"id": customer.pk, "revoked_keys": revoked})

    @schema.customer_ledger
    @action(detail=True, methods=["get"])
    def ledger(self, request, pk=None):
        customer = self.get_object()
        page = self.paginate_queryset(selectors.ledger_of(customer))
        return self.get_paginated_response(
            LedgerEntrySerializer(page, many=True).data
        )

    @schema.customer_holdings
    @action(detail=True, methods=["get"], pagination_class=None)
    def holdings(self, request, pk=None):
        customer = self.get_object()
        rows = order_selectors.customer_holdings(customer_id=customer.pk)
        return Response(HoldingSerializer(rows, many=True).data)


class HouseView(APIView):
    permission_classes = [IsOperator]

    @schema.house
    def get(self, request):
        return Response(
            HouseSerializer(
                order_selectors.house_summary(), context={"request": request}
            ).data
        )


class HouseDepositView(APIView):
    permission_classes = [IsOperator]
    serializer_class = DepositSerializer

    @schema.house_deposit_form
    def get(self, request):
        browsable_page_only(request)
        return Response(
            HouseSerializer(
                order_selectors.house_summary(), context={"request": request}
            ).data
        )

    @schema.house_deposit
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


@schema.house_ledger
class HouseLedgerView(generics.ListAPIView):
    """Every change of the house's balance, newest first: `deposit`,
    `house_top_up` (negative, naming the purchase it paid into) and
    `refund` (a topped-up purchase that failed)."""

    permission_classes = [IsOperator]
    serializer_class = HouseLedgerEntrySerializer

    def get_queryset(self):
        return order_selectors.house_ledger()


@schema.ledger_audit
class LedgerAuditView(generics.ListAPIView):
    permission_classes = [IsOperator]
    serializer_class = AuditedLedgerEntrySerializer

    def get_queryset(self):
        return selectors.ledger_audited(filters=self.request.query_params)


@schema.credential_events
class CredentialEventView(generics.ListAPIView):
    permission_classes = [IsOperator]
    serializer_class = CredentialEventSerializer

    def get_queryset(self):
        return selectors.credential_events(filters=self.request.query_params)


class TokenView(APIView):
    """An operator trades username and password for an API token."""

    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer
    throttle_classes = [TokenThrottle]

    def get_permissions(self):
        if self.request.method == "DELETE":
            return [IsAuthenticated()]
        return super().get_permissions()

    @schema.token_issue
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

    @schema.token_revoke
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise InvalidInput("This request carries no token to revoke.")
        services.api_token_revoke(
            token_id=request.auth.pk, actor=Actor.of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
