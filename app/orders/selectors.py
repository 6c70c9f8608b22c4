"""Reads of orders and purchases, scoped to who is asking."""

from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import F, Prefetch, Q, Sum

from accounts.models import House, HouseHolding, HouseLedgerEntry
from accounts.permissions import is_operator, principal_customer
from core.filters import QueryFilters
from orders.models import Crypto, Order, Pool, Purchase
from orders.pool import house_needed

ZERO = Decimal(0)
# Prices have 8 decimal places, as a crypto's price does.
PRICE_PLACES = Decimal("1E-8")


def cryptos_listed():
    return Crypto.objects.all()


def orders_visible_to(user, *, filters=None):
    """The orders ``user`` may see, each with its pool's state (for a
    pending order's progress) from the same query."""
    if is_operator(user):
        orders = Order.objects.all()
    else:
        customer = principal_customer(user)
        if customer is None:
            return Order.objects.none()
        orders = Order.objects.filter(customer_id=customer.pk)
    orders = orders.annotate(
        pool_pending=F("crypto__pool__pending_total"),
        pool_waiting_since=F("crypto__pool__waiting_since"),
    )
    return _filtered(orders, filters or {})


def _filtered(orders, params):
    filters = QueryFilters(params)
    customer_id = filters.id("customer", message="Must be a customer id.")
    if customer_id is not None:
        orders = orders.filter(customer_id=customer_id)
    status = filters.choice("status", Order.Status.values)
    if status is not None:
        orders = orders.filter(status=status)
    crypto = params.get("crypto")
    if crypto:
        # ASCII before upper(): "ß".upper() is "SS".
        symbol = crypto.strip()
        symbol = symbol.upper() if symbol.isascii() else ""
        if not symbol.isalnum() or len(symbol) > 10:
            filters.errors["crypto"] = ["Must be a crypto symbol."]
        else:
            orders = orders.filter(crypto_id=symbol)
    filters.raise_if_bad()
    return orders


def purchases_all():
    return Purchase.objects.prefetch_related(
        Prefetch("orders", queryset=Order.objects.only("id", "purchase_id"))
    )


def _average_price(spent, amount):
    if not amount:
        return None
    return (spent / amount).quantize(PRICE_PLACES, rounding=ROUND_HALF_EVEN)


def customer_holdings(*, customer_id: int) -> list[dict]:
    """Per crypto the customer ordered: what it owns (completed), what
    is on the way (pending or submitted), the dollars it spent on what
    it owns, and the average price of that; sums over its orders."""
    done = Q(status=Order.Status.COMPLETED)
    moving = Q(status__in=[Order.Status.PENDING, Order.Status.SUBMITTED])
    rows = (
        Order.objects.filter(customer_id=customer_id)
        .values("crypto_id")
        .annotate(
            owned=Sum("amount", filter=done, default=ZERO),
            moving=Sum("amount", filter=moving, default=ZERO),
            spent=Sum("total", filter=done, default=ZERO),
        )
        .order_by("crypto_id")
    )
    return [
        _holding(
            {
                "crypto_id": row["crypto_id"],
                "amount": row["owned"],
                "on_the_way": row["moving"],
                "spent": row["spent"],
            }
        )
        for row in rows
    ]


def house_holdings() -> list[dict]:
    """The house's holdings, shaped as a customer's: its shares of
    completed purchases (kept in ``HouseHolding``), and its shares of
    purchases on the way."""
    owned = {
        holding.crypto_id: holding for holding in HouseHolding.objects.all()
    }
    moving = dict(
        Purchase.objects.filter(
            house_total__gt=0,
            status__in=[Purchase.Status.QUEUED, Purchase.Status.IN_FLIGHT],
        )
        .values("crypto_id")
        .annotate(amount=Sum("house_amount"))
        .values_list("crypto_id", "amount")
    )
    rows = []
    for crypto_id in sorted(owned.keys() | moving.keys()):
        holding = owned.get(crypto_id)
        rows.append(
            _holding(
                {
                    "crypto_id": crypto_id,
                    "amount": holding.amount if holding else ZERO,
                    "on_the_way": moving.get(crypto_id, ZERO),
                    "spent": holding.spent if holding else ZERO,
                }
            )
        )
    return rows


def _holding(row):
    return {
        "crypto": row["crypto_id"],
        "amount": row["amount"],
        "on_the_way": row["on_the_way"],
        "spent": row["spent"],
        "average_price": _average_price(row["spent"], row["amount"]),
    }


def house_short_by() -> Decimal:
    """How much more the house needs to top up every pool that waited
    its bounded wait, at today's prices (zero when it can pay them)."""
    needed = house_needed(
        Pool.objects.values_list(
            "pending_total", "waiting_since", "crypto__price"
        )
    )
    house = House.objects.filter(pk=House.ID).first()
    balance = house.balance if house else ZERO
    return max(needed - balance, ZERO)


def house_summary() -> dict:
    """The house as operators see it: its balance, what it owns, how
    many pools it topped up, and how much it is short."""
    house = House.objects.filter(pk=House.ID).first()
    return {
        "balance": house.balance if house else ZERO,
        "short_by": house_short_by(),
        "top_ups": HouseLedgerEntry.objects.filter(
            kind=HouseLedgerEntry.Kind.HOUSE_TOP_UP
        ).count(),
        "holdings": house_holdings(),
    }


def house_ledger():
    return HouseLedgerEntry.objects.all()
