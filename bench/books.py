"""What the phases read back from the bench database, through the app's
models. Import it after ``database.setup_django``."""

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Coalesce

from exchange.models import SimulatedExchangeOrder
from orders.models import Order, Purchase


def order_counts():
    """{status: number of orders}."""
    rows = Order.objects.order_by().values_list("status").annotate(Count("id"))
    return dict(rows)


def exchange_calls():
    """What the simulated exchange received."""
    found = SimulatedExchangeOrder.objects.aggregate(
        client_orders=Count("id"),
        buy_calls=Coalesce(Sum("calls"), 0),
        filled=Count("filled_at"),
    )
    return {key: int(value) for key, value in found.items()}


def order_times():
    """The first and last order's creation, the last completion."""
    done = Q(status=Order.Status.COMPLETED)
    return Order.objects.aggregate(
        first_created=Min("created_at"),
        last_created=Max("created_at"),
        last_completed=Max("updated_at", filter=done),
    )


def completion_seconds():
    """Each completed order's time from creation to completion, sorted."""
    rows = Order.objects.filter(status=Order.Status.COMPLETED).values_list(
        "created_at", "updated_at"
    )
    return sorted((done - made).total_seconds() for made, done in rows)


def purchase_counts():
    unfinished = [Purchase.Status.QUEUED, Purchase.Status.IN_FLIGHT]
    return Purchase.objects.aggregate(
        total=Count("id"),
        completed=Count("id", filter=Q(status=Purchase.Status.COMPLETED)),
        unfinished=Count("id", filter=Q(status__in=unfinished)),
    )


def orders_as_they_came():
    """(id, crypto, total) of every order, in the order they came."""
    return list(
        Order.objects.order_by("id").values_list("id", "crypto_id", "total")
    )
