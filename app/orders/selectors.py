"""Reads of orders and purchases, scoped to who is asking."""

from django.db.models import Prefetch

from accounts.permissions import is_operator, principal_customer
from core.errors import InvalidInput
from orders.models import Crypto, Order, Purchase


def cryptos_listed():
    return Crypto.objects.all()


def orders_visible_to(user, *, filters=None):
    if is_operator(user):
        orders = Order.objects.all()
    else:
        customer = principal_customer(user)
        if customer is None:
            return Order.objects.none()
        orders = Order.objects.filter(customer_id=customer.pk)
    return _filtered(orders, filters or {})


def _filtered(orders, filters):
    errors = {}
    customer = filters.get("customer")
    if customer:
        if not customer.isdigit() or int(customer) > 2**63 - 1:
            errors["customer"] = ["Must be a customer id."]
        else:
            orders = orders.filter(customer_id=int(customer))
    status = filters.get("status")
    if status:
        if status not in Order.Status.values:
            errors["status"] = [
                f"Must be one of: {', '.join(Order.Status.values)}."
            ]
        else:
            orders = orders.filter(status=status)
    crypto = filters.get("crypto")
    if crypto:
        symbol = crypto.strip().upper()
        if not symbol.isalnum() or len(symbol) > 10:
            errors["crypto"] = ["Must be a crypto symbol."]
        else:
            orders = orders.filter(crypto_id=symbol)
    if errors:
        raise InvalidInput(details=errors)
    return orders


def purchases_all():
    return Purchase.objects.prefetch_related(
        Prefetch("orders", queryset=Order.objects.only("id", "purchase_id"))
    )
