"""The operators' view of cryptos, orders, pools and purchases.

Orders, pools and purchases are money in motion: they are read-only
here and change only through the order services and the worker. A
crypto's name and price may be edited; a new price applies to orders
placed after it.
"""

from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from core.admin import (
    ReadOnlyAdmin,
    admin_link,
    admin_link_by_id,
    changelist_link,
)
from orders.models import Crypto, Order, Pool, Purchase
from orders.pool import house_top_up_due


def _count_of_orders(**filters):
    """A per-row count of orders, as a subquery (each uses an index)."""
    counted = (
        Order.objects.filter(**filters)
        .order_by()
        .values(*filters)
        .annotate(count=Count("*"))
        .values("count")
    )
    return Coalesce(
        Subquery(counted, output_field=IntegerField()),
        0,
        output_field=IntegerField(),
    )


@admin.register(Crypto)
class CryptoAdmin(admin.ModelAdmin):
    list_display = ["symbol", "name", "price"]
    list_editable = ["price"]
    search_fields = ["symbol", "name"]
    ordering = ["symbol"]

    def get_readonly_fields(self, request, obj=None):
        # The symbol is the key orders and purchases refer to.
        return ["symbol"] if obj is not None else []

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "customer_link",
        "crypto",
        "amount",
        "price",
        "total",
        "status",
        "purchase_link",
        "created_at",
    ]
    list_filter = ["status", "crypto", "created_at"]
    search_fields = [
        "=id",
        "=customer__id",
        "customer__name",
        "=purchase__id",
        "purchase__client_order_id",
    ]
    list_select_related = ["customer"]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "customer_link",
        "crypto",
        "amount",
        "price",
        "total",
        "status",
        "purchase_link",
        "ledger_link",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description="customer", ordering="customer")
    def customer_link(self, order):
        return admin_link(order.customer)

    @admin.display(description="purchase", ordering="purchase")
    def purchase_link(self, order):
        return admin_link_by_id(
            Purchase,
            order.purchase_id,
            f"purchase #{order.purchase_id}",
            empty="- (in the pool)",
        )

    @admin.display(description="ledger")
    def ledger_link(self, order):
        from accounts.models import LedgerEntry

        return changelist_link(
            LedgerEntry, "debit and refund", order__id__exact=order.pk
        )


@admin.register(Pool)
class PoolAdmin(ReadOnlyAdmin):
    """What small orders of each crypto wait for the threshold."""

    list_display = [
        "crypto",
        "pending_total",
        "pending_orders",
        "waiting_since",
        "house_top_up_at",
    ]
    ordering = ["crypto"]

    @admin.display(description="the house tops it up at")
    def house_top_up_at(self, pool):
        return house_top_up_due(pool.waiting_since) or "-"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _pending=_count_of_orders(
                    crypto=OuterRef("crypto"), status=Order.Status.PENDING
                )
            )
        )

    @admin.display(description="pending orders", ordering="_pending")
    def pending_orders(self, pool):
        return changelist_link(
            Order,
            str(pool._pending),
            crypto__symbol__exact=pool.crypto_id,
            status__exact=Order.Status.PENDING,
        )


@admin.register(Purchase)
class PurchaseAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "crypto",
        "amount",
        "total",
        "house_total",
        "status",
        "attempts",
        "client_order_id",
        "order_count",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "crypto", "created_at"]
    search_fields = ["=id", "client_order_id", "=orders__id"]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "crypto",
        "amount",
        "total",
        "house_amount",
        "house_total",
        "status",
        "client_order_id",
        "attempts",
        "orders_link",
        "last_error",
        "next_attempt_at",
        "lease_owner",
        "lease_expires_at",
        "enqueued_at",
        "created_at",
        "updated_at",
        "completed_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_order_count=_count_of_orders(purchase=OuterRef("pk")))
        )

    @admin.display(description="orders", ordering="_order_count")
    def order_count(self, purchase):
        return purchase._order_count

    @admin.display(description="orders")
    def orders_link(self, purchase):
        return changelist_link(
            Order,
            f"{purchase._order_count} order(s)",
            purchase__id__exact=purchase.pk,
        )
