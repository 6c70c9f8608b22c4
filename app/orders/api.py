"""HTTP for cryptos, orders and purchases. Views parse, call one
service and serialize; who may see what lives in the selectors. Their
OpenAPI descriptions live in ``orders.schema``."""

from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.actors import Actor
from accounts.permissions import (
    IsOperator,
    IsOperatorOrCustomer,
    is_operator,
    principal_customer,
)
from core.errors import Forbidden, InvalidInput
from core.idempotency import idempotent
from core.throttling import OrderCreateThrottle
from orders import schema, selectors, services
from orders.serializers import (
    CryptoSerializer,
    OrderCreateSerializer,
    OrderSerializer,
    PurchaseSerializer,
    order_data,
)


@schema.crypto_list
class CryptoListView(generics.ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = CryptoSerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.cryptos_listed()


def _customer_id_for(user, named_id):
    """The customer an order is for: operators name one; a customer
    acts only as itself."""
    if is_operator(user):
        if named_id is None:
            raise InvalidInput(
                details={"customer_id": ["Operators must name a customer."]}
            )
        return named_id
    customer = principal_customer(user)
    if named_id is not None and named_id != customer.pk:
        raise Forbidden("A customer may order only for itself.")
    return customer.pk


@schema.orders
class OrderViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = OrderSerializer
    permission_classes = [IsOperatorOrCustomer]

    def get_queryset(self):
        filters = self.request.query_params if self.action == "list" else {}
        return selectors.orders_visible_to(self.request.user, filters=filters)

    def get_serializer_class(self):
        if self.action == "create":
            return OrderCreateSerializer
        return OrderSerializer

    def get_throttles(self):
        # Placing orders is limited; reading them is not.
        if self.action == "create":
            return [OrderCreateThrottle()]
        return super().get_throttles()

    @schema.order_create
    @idempotent
    def create(self, request):
        serializer = OrderCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        order = services.order_place(
            actor=Actor.of(request),
            customer_id=_customer_id_for(
                request.user, data.get("customer_id")
            ),
            symbol=data["crypto"],
            amount=data["amount"],
        )
        return Response(order_data(order), status.HTTP_201_CREATED)

    @schema.order_cancel
    @action(detail=True, methods=["post"])
    @idempotent
    def cancel(self, request, pk=None):
        order = self.get_object()
        order = services.order_cancel(
            order_id=order.pk, actor=Actor.of(request)
        )
        return Response(order_data(order))


@schema.purchases
class PurchaseViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = PurchaseSerializer
    permission_classes = [IsOperator]

    def get_queryset(self):
        return selectors.purchases_all()
