"""Writes of the order flow: placing an order, and each step of a purchase.

An order goes: ``order_place`` (debit, ledger, order, pool or purchase:
one SQL statement of ``ledger.movements``, its own transaction in
autocommit; the order that fills a pool flushes it in a second, short
one) -> the doorbell rings the worker -> ``orders.jobs``
claims the purchase (``purchase_claim``), calls the exchange, and ends it
with ``purchase_complete``, ``purchase_retry_later`` or ``purchase_fail``
(which refunds the customers, and the house its share). A pending order
may be taken back with ``order_cancel``. The money of each step moves in
``ledger.movements``.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.actors import SERVICE, Actor
from accounts.models import Customer
from core.errors import (
    InsufficientFunds,
    InvalidInput,
    NotFound,
    OrderNotCancellable,
    PriceMoving,
    UnknownCrypto,
)
from core.money import CENT, MAX_BALANCE, exact_product, order_total
from ledger import movements
from monitoring import metrics
from orders import prices
from orders.models import Crypto, Order, Pool, Purchase
from orders.strategies import OrderNotWritten, OrderStrategyFactory

logger = logging.getLogger(__name__)


def crypto_get(*, symbol: str, fresh: bool = False) -> Crypto:
    crypto = prices.quote(symbol.strip().upper(), fresh=fresh)
    if crypto is None:
        listed = ", ".join(prices.listed_symbols())
        message = f"{symbol!r} is not listed. Listed: {listed}."
        raise UnknownCrypto(message, details={"crypto": [message]})
    return crypto


def order_place(
    *,
    customer_id: int,
    symbol: str,
    amount: Decimal,
    actor: Actor = SERVICE,
) -> Order:
    """Debit the customer and write the order, all or nothing.

    The strategy writes it in one statement, its own transaction (a
    small order that fills its pool then flushes the pool in a second,
    short one; see ``orders.pool``).
    If that statement finds no row, the price may have changed since it
    was quoted (then the order is priced again, once) or the customer is
    unknown or short of funds.
    """
    for fresh in (False, True):
        crypto = crypto_get(symbol=symbol, fresh=fresh)
        # What it is worth at the exchange; the total charged is this
        # rounded up to the cent.
        worth = exact_product(crypto.price, amount)
        if worth < CENT:
            raise InvalidInput(
                "The order's total is below 0.01.",
                details={"amount": ["The total must be at least 0.01."]},
            )
        total = order_total(crypto.price, amount)
        if total > MAX_BALANCE:
            # No balance can cover it, and no ledger column hold it.
            raise InsufficientFunds(details={"required": str(total)})
        strategy = OrderStrategyFactory.create_strategy(worth)
        try:
            order = strategy.execute(
                customer_id=customer_id,
                crypto=crypto,
                amount=amount,
                total=total,
                actor=actor,
            )
            metrics.order_counted(strategy, "placed")
            return order
        except OrderNotWritten:
            if not Customer.objects.filter(pk=customer_id).exists():
                # docs/api.md's 404 for an unknown id, naming the body's
                # field, so that it does not read as a wrong URL.
                raise NotFound(
                    "No customer has this id.",
                    details={"customer_id": ["No customer has this id."]},
                ) from None
            if Crypto.objects.filter(
                pk=crypto.pk, price=crypto.price
            ).exists():
                metrics.order_counted(strategy, "insufficient_funds")
                raise InsufficientFunds(
                    details={"required": str(total)}
                ) from None
    raise PriceMoving()


@transaction.atomic
def order_cancel(*, order_id: int, actor: Actor = SERVICE) -> Order:
    """Take a pending order out of its pool and refund it, in one
    transaction; ``OrderNotCancellable`` once it is in a purchase.

    Locks the customer, then the pool, then the order: the order
    statements lock in the same order, and every flush takes the pool's
    row before the orders, so a cancel and a flush of the same order
    cannot both happen: whichever locks the pool first wins, and the
    other sees what it did.
    """
    known = (
        Order.objects.filter(pk=order_id)
        .values_list("customer_id", "crypto_id")
        .first()
    )
    if known is None:
        raise NotFound("No such order.")
    customer_id, crypto_id = known
    Customer.objects.select_for_update().filter(pk=customer_id).first()
    pool = Pool.objects.select_for_update().filter(crypto_id=crypto_id)
    pool = pool.first()
    order = Order.objects.select_for_update().get(pk=order_id)
    if order.status != Order.Status.PENDING or pool is None:
        raise OrderNotCancellable(
            f"The order is {order.status}; only a pending order can be "
            "cancelled.",
            details={"status": order.status},
        )
    order.status = Order.Status.CANCELLED
    order.save(update_fields=["status", "updated_at"])
    movements.order_refund(order=order, actor=actor)
    movements.pool_take_back(order=order)
    transaction.on_commit(lambda: metrics.refunds_counted("order_cancelled"))
    logger.info(
        "order #%s cancelled: %s %s, $%s refunded",
        order.pk,
        order.amount.normalize(),
        crypto_id,
        order.total,
    )
    return order


def _claimable(now):
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return Q(status=Purchase.Status.QUEUED) & due | Q(
        status=Purchase.Status.IN_FLIGHT, lease_expires_at__lt=now
    )


@dataclass
class Claim:
    """A purchase taken for one attempt, with the purchases it absorbed."""

    purchase: Purchase
    absorbed: list[int] = field(default_factory=list)


def _lease_until(now):
    return now + timedelta(seconds=settings.PURCHASE_LEASE_SECONDS)


@transaction.atomic
def purchases_claim_ready(*, owner: str, limit: int = 1000) -> list[Claim]:
    """Take every purchase that is ready now, one exchange call's worth
    per crypto: the fresh (never sent) purchases of a crypto are merged
    into the oldest of them, so a burst of orders costs few calls.

    A purchase already sent once (a retry, or one whose worker died)
    keeps its own ``client_order_id`` and amount: the exchange may have
    filled it, so it is never merged. Rows held by another worker are
    skipped, never waited for.
    """
    now = timezone.now()
    ready = list(
        Purchase.objects.select_for_update(skip_locked=True)
        .filter(_claimable(now))
        .order_by("id")[:limit]
    )
    merged, leads = {}, {}
    for purchase in ready:
        # A purchase with a house share keeps its own: the house's
        # ledger names it.
        lead = None
        if purchase.attempts == 0 and purchase.house_total == 0:
            lead = leads.setdefault(purchase.crypto_id, purchase)
        if lead is None or lead is purchase:
            merged[purchase] = []
        else:
            merged[lead].append(purchase)
    claims = []
    for purchase, absorbed in merged.items():
        if absorbed:
            movements.purchases_merge(into=purchase, absorbed=absorbed)
        purchase.status = Purchase.Status.IN_FLIGHT
        purchase.attempts += 1
        purchase.lease_owner = owner
        purchase.lease_expires_at = _lease_until(now)
        purchase.save(update_fields=_CLAIMED)
        claims.append(Claim(purchase, [each.pk for each in absorbed]))
    return claims


# What each step changes of a purchase: never its amounts or totals,
# which are the ledger's (``movements``).
_LEASE = ["status", "lease_owner", "lease_expires_at", "updated_at"]
_CLAIMED = [*_LEASE, "attempts"]
_REQUEUED = [*_LEASE, "next_attempt_at", "last_error"]
_FINISHED = [*_LEASE, "completed_at", "last_error"]


def purchases_lease_extend(*, owner: str) -> int:
    """The heartbeat of a worker still waiting on the exchange."""
    return Purchase.objects.filter(
        status=Purchase.Status.IN_FLIGHT, lease_owner=owner
    ).update(lease_expires_at=_lease_until(timezone.now()))


def _lock_unfinished(purchase_id):
    return (
        Purchase.objects.select_for_update()
        .filter(
            pk=purchase_id,
            status__in=[Purchase.Status.QUEUED, Purchase.Status.IN_FLIGHT],
        )
        .first()
    )


@transaction.atomic
def purchase_complete(*, purchase_id: int) -> bool:
    """The exchange filled it: the purchase and its orders are done."""
    purchase = _lock_unfinished(purchase_id)
    if purchase is None:
        return False
    now = timezone.now()
    purchase.status = Purchase.Status.COMPLETED
    purchase.completed_at = now
    purchase.lease_owner = ""
    purchase.lease_expires_at = None
    purchase.last_error = ""
    purchase.save(update_fields=_FINISHED)
    purchase.orders.update(status=Order.Status.COMPLETED, updated_at=now)
    if purchase.house_total:
        movements.house_holding_add(purchase=purchase)
    return True


@transaction.atomic
def purchase_retry_later(
    *, purchase_id: int, owner: str, error: str
) -> Purchase | None:
    """Back to the queue after a transient failure, with backoff."""
    purchase = _lock_unfinished(purchase_id)
    if purchase is None or purchase.lease_owner != owner:
        return None
    delay = min(
        settings.PURCHASE_RETRY_BASE_SECONDS * 2 ** (purchase.attempts - 1),
        60.0,
    )
    purchase.status = Purchase.Status.QUEUED
    purchase.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    purchase.lease_owner = ""
    purchase.lease_expires_at = None
    purchase.last_error = error[:1000]
    purchase.save(update_fields=_REQUEUED)
    return purchase


@transaction.atomic
def purchase_fail(*, purchase_id: int, error: str) -> bool:
    """The exchange refused for good: fail the orders and refund each
    customer, in one transaction, customers locked in id order."""
    purchase = _lock_unfinished(purchase_id)
    if purchase is None:
        return False
    now = timezone.now()
    purchase.status = Purchase.Status.FAILED
    purchase.completed_at = now
    purchase.lease_owner = ""
    purchase.lease_expires_at = None
    purchase.last_error = error[:1000]
    purchase.save(update_fields=_FINISHED)
    orders = list(purchase.orders.order_by("customer_id", "id"))
    for order in orders:
        movements.order_refund(order=order)
    purchase.orders.update(status=Order.Status.FAILED, updated_at=now)
    if purchase.house_total:
        movements.house_refund(purchase=purchase)
    transaction.on_commit(
        lambda: metrics.refunds_counted("purchase_failed", len(orders))
    )
    logger.warning(
        "purchase #%s failed for good (%s): refunded %s orders",
        purchase_id,
        error,
        len(orders),
    )
    return True


def purchases_due(*, limit: int = 500) -> list[int]:
    """Purchases that need a ring: due and not rung lately, or held by a
    worker whose lease ran out."""
    now = timezone.now()
    quiet = Q(enqueued_at__isnull=True) | Q(
        enqueued_at__lte=now
        - timedelta(seconds=settings.PURCHASE_RERING_SECONDS)
    )
    return list(
        Purchase.objects.filter(_claimable(now) & quiet)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )


def purchases_mark_rung(*, purchase_ids: list[int]) -> None:
    Purchase.objects.filter(pk__in=purchase_ids).update(
        enqueued_at=timezone.now()
    )
