"""The simulated exchange's own book: what it was asked and what it
filled, by client order id. Read-only: it stands for the exchange's side.
"""

from django.contrib import admin

from core.admin import ReadOnlyAdmin, admin_link
from exchange.models import SimulatedExchangeOrder
from orders.models import Purchase


@admin.register(SimulatedExchangeOrder)
class SimulatedExchangeOrderAdmin(ReadOnlyAdmin):
    list_display = [
        "client_order_id",
        "crypto",
        "amount",
        "calls",
        "filled",
        "filled_at",
        "created_at",
    ]
    list_filter = [
        "crypto",
        ("filled_at", admin.EmptyFieldListFilter),
        "created_at",
    ]
    search_fields = ["client_order_id", "crypto"]
    ordering = ["-id"]
    date_hierarchy = "created_at"
    fields = [
        "client_order_id",
        "purchase_link",
        "crypto",
        "amount",
        "calls",
        "filled_at",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="filled", boolean=True)
    def filled(self, order):
        return order.filled_at is not None

    @admin.display(description="our purchase")
    def purchase_link(self, order):
        purchase = Purchase.objects.filter(
            client_order_id=order.client_order_id
        ).first()
        return admin_link(purchase)
