"""The per-crypto pool of small orders, flushed into a purchase.

A small order's own statement adds its total to the pool
(``ledger.movements``). The order that brings the pool to the
threshold then flushes it here, in a transaction of its own: the pool's
row is locked first, then its pending orders. Nothing else locks a pool
and then a customer, so no deadlock forms with the orders' statements
and cancels, which lock the customer first and the pool second.

The bounded wait (``pool_flush_overdue``, run by the worker's sweeper)
flushes a pool whose oldest order waited ``POOL_MAX_WAIT_SECONDS`` with
the house buying what it lacks of the threshold: the pool's row, then
the house's, are locked in that order, which nothing reverses.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal, localcontext

from django.conf import settings
from django.contrib.postgres.functions import TransactionNow
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.models import House
from core.money import order_total
from ledger import movements
from orders.doorbell import purchase_ring_on_commit
from orders.models import Crypto, Order, Pool

ZERO = Decimal(0)
# The smallest unit of a crypto amount: 10 decimal places.
UNIT = Decimal("1E-10")


def pool_flush_if_full(
    *,
    crypto_id: str,
    house_amount: Decimal = ZERO,
    house_total: Decimal = ZERO,
) -> int | None:
    """If the crypto's pool (with the house's share, if any) holds at
    least the threshold, every pending order of the crypto into one
    purchase, rung when it commits; the purchase's id, or None if the
    pool was not full (another flush emptied it first).

    One round trip, one transaction of its own (or a part of the
    caller's); see ``ledger.movements.pool_flush``.
    """
    purchase_id = movements.pool_flush(
        crypto_id=crypto_id,
        threshold=settings.PURCHASE_THRESHOLD,
        client_order_id=uuid.uuid4(),
        house_amount=house_amount,
        house_total=house_total,
    )
    if purchase_id is not None:
        purchase_ring_on_commit(purchase_id)
    return purchase_id


def pools_flush_full() -> list[int]:
    """Flush every pool left at or above the threshold: the sweeper's
    catch-up after a process died between an order and its flush."""
    full = Pool.objects.filter(
        pending_total__gte=settings.PURCHASE_THRESHOLD
    ).values_list("crypto_id", flat=True)
    flushed = [pool_flush_if_full(crypto_id=crypto_id) for crypto_id in full]
    return [purchase_id for purchase_id in flushed if purchase_id]


def house_top_up_due(waiting_since: datetime | None) -> datetime | None:
    """When the house tops up a pool that waits since ``waiting_since``
    (its oldest order's time): ``POOL_MAX_WAIT_SECONDS`` later; None
    when the pool is empty or the bounded wait is off."""
    wait = settings.POOL_MAX_WAIT_SECONDS
    if wait is None or waiting_since is None:
        return None
    return waiting_since + timedelta(seconds=wait)


@dataclass(frozen=True)
class HouseShare:
    """What the house buys so that a pool's purchase reaches the
    threshold, at the crypto's current price."""

    amount: Decimal
    total: Decimal


def house_share(*, pending_worth: Decimal, price: Decimal) -> HouseShare:
    """The units the house buys, at ``price``, so that with the pool's
    orders (worth ``pending_worth``, each at its own price) the purchase
    is worth the threshold: rounded up to the 10th place, and their
    price rounded up to the cent, so the house pays for every unit it
    gets. Nothing when the pool is full already."""
    missing = settings.PURCHASE_THRESHOLD - pending_worth
    if missing <= 0:
        return HouseShare(amount=ZERO, total=ZERO)
    with localcontext() as context:
        context.prec = 60
        amount = (missing / price).quantize(UNIT, rounding=ROUND_CEILING)
    return HouseShare(amount=amount, total=order_total(price, amount))


def house_needed(pools, *, now=None) -> Decimal:
    """What the house must pay to top up every pool past its bounded
    wait, at today's prices; ``pools`` are ``(pending_total,
    waiting_since, price)`` rows. A pool full already needs nothing."""
    now = now or timezone.now()
    needed = ZERO
    for pending_total, waiting_since, price in pools:
        due = house_top_up_due(waiting_since)
        if due is None or due > now or pending_total <= 0:
            continue
        # From the totals: the orders may be worth a few cents less
        # (each total is rounded up), which the flush itself counts
        # (``pool_flush_overdue``).
        needed += house_share(pending_worth=pending_total, price=price).total
    return needed


@dataclass(frozen=True)
class OverdueFlush:
    """What became of one overdue pool: flushed into ``purchase_id``,
    or left waiting because the house is ``short_by`` that much."""

    crypto_id: str
    purchase_id: int | None = None
    house_total: Decimal = ZERO
    short_by: Decimal = ZERO


@transaction.atomic
def pool_flush_overdue(*, crypto_id: str) -> OverdueFlush | None:
    """Flush the crypto's pool if its oldest order has waited
    ``POOL_MAX_WAIT_SECONDS``, the house buying what the pool lacks of
    the threshold; None if it is not due (or was flushed meanwhile).

    The pool's row is locked first, as every flush does, so a
    concurrent cancel or flush either ran before (and is seen) or waits.
    The house is debited in this transaction, conditionally: with too
    little money the pool keeps waiting and nothing is written.
    """
    # The database's clock, read in this transaction: the pool's
    # ``waiting_since`` and the purchase's ``created_at`` are its
    # ``now()`` too, so a purchase never shows a shorter wait than the
    # bounded one (the sweep's transaction may have begun before it
    # was due).
    pool = (
        Pool.objects.select_for_update()
        .filter(crypto_id=crypto_id)
        .annotate(database_now=TransactionNow())
        .first()
    )
    due = None if pool is None else house_top_up_due(pool.waiting_since)
    if due is None or due > pool.database_now or pool.pending_total <= 0:
        return None
    price = Crypto.objects.values_list("price", flat=True).get(pk=crypto_id)
    pending_worth = (
        Order.objects.filter(
            crypto_id=crypto_id, status=Order.Status.PENDING
        ).aggregate(worth=Sum(F("amount") * F("price")))["worth"]
        or ZERO
    )
    share = house_share(pending_worth=pending_worth, price=price)
    if not share.amount:
        # Full already (a flush still to come): no house share needed.
        purchase_id = pool_flush_if_full(crypto_id=crypto_id)
        return OverdueFlush(crypto_id, purchase_id=purchase_id)
    house = House.objects.select_for_update().filter(pk=House.ID).first()
    balance = ZERO if house is None else house.balance
    if balance < share.total:
        return OverdueFlush(crypto_id, short_by=share.total - balance)
    purchase_id = pool_flush_if_full(
        crypto_id=crypto_id,
        house_amount=share.amount,
        house_total=share.total,
    )
    if purchase_id is None:
        return None
    topped = movements.house_top_up(
        purchase_id=purchase_id, amount=share.total
    )
    if topped is None:
        raise RuntimeError("the house's balance moved under its lock")
    return OverdueFlush(
        crypto_id, purchase_id=purchase_id, house_total=share.total
    )


def pools_overdue() -> list[str]:
    """The cryptos whose pool waited its bounded wait (none when off)."""
    wait = settings.POOL_MAX_WAIT_SECONDS
    if wait is None:
        return []
    oldest = TransactionNow() - timedelta(seconds=wait)
    return list(
        Pool.objects.filter(pending_total__gt=0, waiting_since__lte=oldest)
        .order_by("waiting_since")
        .values_list("crypto_id", flat=True)
    )
