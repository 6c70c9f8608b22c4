"""Purchases and the per-crypto pool of small orders.

Called inside the order's transaction, after the customer's row is
locked by the debit; the pool row is locked second. That fixed order
(customer, then pool) keeps deadlocks from forming.
"""

from decimal import Decimal

from django.db import connection
from django.utils import timezone

from orders.doorbell import purchase_ring_on_commit
from orders.models import Order, Pool, Purchase


def purchase_create(
    *, crypto_id: str, amount: Decimal, total: Decimal
) -> Purchase:
    """A queued purchase, rung when the transaction commits."""
    purchase = Purchase.objects.create(
        crypto_id=crypto_id,
        amount=amount,
        total=total,
        enqueued_at=timezone.now(),
    )
    purchase_ring_on_commit(purchase.pk)
    return purchase


def pool_add(*, crypto_id: str, total: Decimal) -> Decimal:
    """Add a pending order's total to its crypto's pool, creating the
    pool if the crypto has none yet; the new pending total."""
    Pool.objects.get_or_create(crypto_id=crypto_id)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_pool SET pending_total = pending_total + %s "
            "WHERE crypto_id = %s RETURNING pending_total",
            [total, crypto_id],
        )
        return cursor.fetchone()[0]


def pool_flush(*, crypto_id: str) -> Purchase:
    """Every pending order of the crypto into one purchase.

    The caller holds the pool's row lock, so no other flush of this
    crypto runs at the same time; orders still uncommitted elsewhere are
    invisible here and stay pending, their totals still counted in the
    pool when they commit.
    """
    pending = list(
        Order.objects.select_for_update()
        .filter(crypto_id=crypto_id, status=Order.Status.PENDING)
        .values_list("id", "amount", "total")
    )
    amount = sum((row[1] for row in pending), Decimal(0))
    total = sum((row[2] for row in pending), Decimal(0))
    purchase = purchase_create(crypto_id=crypto_id, amount=amount, total=total)
    Order.objects.filter(id__in=[row[0] for row in pending]).update(
        status=Order.Status.SUBMITTED,
        purchase=purchase,
        updated_at=timezone.now(),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orders_pool SET pending_total = pending_total - %s "
            "WHERE crypto_id = %s",
            [total, crypto_id],
        )
    return purchase
