"""HTTP for customers, deposits, ledgers and operator tokens."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.permissions import IsOperator, IsOperatorOrCustomer
from accounts.serializers import (
    CustomerCreatedSerializer,
    CustomerCreateSerializer,
    CustomerSerializer,
    DepositSerializer,
    LedgerEntrySerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from core.idempotency import idempotent


def _created_payload(created):
    data = CustomerCreatedSerializer(created.customer).data
    data["api_key"] = created.api_key
    return data


class CustomerViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = CustomerSerializer
    operator_actions = {"create", "deposit", "rotate_key"}

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
        request=CustomerCreateSerializer,
        responses={201: CustomerCreatedSerializer},
    )
    @idempotent
    def create(self, request):
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        created = services.customer_create(**serializer.validated_data)
        return Response(_created_payload(created), status.HTTP_201_CREATED)

    @extend_schema(
        request=DepositSerializer, responses={200: CustomerSerializer}
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def deposit(self, request, pk=None):
        customer = self.get_object()
        serializer = DepositSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = services.customer_deposit(
            customer_id=customer.pk,
            amount=serializer.validated_data["amount"],
        )
        return Response(CustomerSerializer(customer).data)

    @extend_schema(request=None, responses={200: CustomerCreatedSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-key")
    @idempotent
    def rotate_key(self, request, pk=None):
        """Revoke the customer's keys and return a new one, shown once."""
        customer = self.get_object()
        created = services.customer_key_rotate(customer_id=customer.pk)
        return Response(_created_payload(created))

    @extend_schema(responses={200: LedgerEntrySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def ledger(self, request, pk=None):
        customer = self.get_object()
        page = self.paginate_queryset(selectors.ledger_of(customer))
        return self.get_paginated_response(
            LedgerEntrySerializer(page, many=True).data
        )


class TokenView(APIView):
    """An operator trades username and password for an API token."""

    permission_classes = [AllowAny]
    serializer_class = TokenRequestSerializer

    @extend_schema(
        request=TokenRequestSerializer, responses={200: TokenSerializer}
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
