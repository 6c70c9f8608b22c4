"""The per-crypto pool of small orders, flushed into a purchase.

A small order's own statement adds its total to the pool
(``orders.strategies``). The order that brings the pool to the
threshold then flushes it here, in a transaction of its own: the pool's
row is locked first, then its pending orders. Nothing else locks a pool
and then a customer, so no deadlock forms with the orders' statements,
which lock the customer first and the pool second.
"""

import uuid

from django.conf import settings

from core.prepared import PreparedStatement
from orders.doorbell import purchase_ring_on_commit
from orders.models import Pool

# Every pending order of a crypto into one new purchase, in one
# statement, if the pool holds at least the threshold: the orders
# (locked), the purchase of their sums, the orders moved into it, and the
# pool's total lowered by exactly what was taken.
_FLUSH_SQL = """
    WITH pending AS (
        SELECT id, amount, total FROM orders_order
        WHERE crypto_id = %(crypto)s AND status = 'pending'
          AND EXISTS (
              SELECT 1 FROM orders_pool
              WHERE crypto_id = %(crypto)s
                AND pending_total >= %(threshold)s)
        FOR UPDATE
    ),
    purchase AS (
        INSERT INTO orders_purchase (
            crypto_id, amount, total, status, client_order_id, attempts,
            lease_owner, last_error, enqueued_at, created_at, updated_at)
        SELECT %(crypto)s, SUM(amount), SUM(total), 'queued',
               %(client_order_id)s, 0, '', '', now(), now(), now()
        FROM pending
        HAVING COUNT(*) > 0
        RETURNING id, total
    ),
    moved AS (
        UPDATE orders_order o
        SET status = 'submitted', purchase_id = purchase.id,
            updated_at = now()
        FROM purchase, pending
        WHERE o.id = pending.id
    ),
    pooled AS (
        UPDATE orders_pool
        SET pending_total = pending_total - purchase.total
        FROM purchase
        WHERE crypto_id = %(crypto)s
    )
    SELECT id FROM purchase
"""
# The pool's row is locked first, by a statement of its own sent in the
# same message (one round trip for both, one transaction).
POOL_FLUSH = PreparedStatement(
    "pool_flush",
    _FLUSH_SQL,
    [
        ("crypto", "varchar"),
        ("threshold", "numeric"),
        ("client_order_id", "uuid"),
    ],
    prelude="SELECT 1 FROM orders_pool WHERE crypto_id = %(crypto)s "
    "FOR UPDATE",
)


def pool_flush_if_full(*, crypto_id: str) -> int | None:
    """If the crypto's pool holds at least the threshold, every pending
    order of the crypto into one purchase, rung when it commits; the
    purchase's id, or None if the pool was not full (another flush
    emptied it first).

    One round trip, one transaction of its own (or a part of the
    caller's): the pool's row is locked first, so no other flush of the
    crypto runs at the same time and no order is added meanwhile; the
    flush statement's snapshot, taken after the lock, sees exactly the
    orders whose totals the pool counts.
    """
    row = POOL_FLUSH.fetchone(
        crypto=crypto_id,
        threshold=settings.PURCHASE_THRESHOLD,
        client_order_id=uuid.uuid4(),
    )
    if row is None:
        return None
    purchase_ring_on_commit(row[0])
    return row[0]


def pools_flush_full() -> list[int]:
    """Flush every pool left at or above the threshold: the sweeper's
    catch-up after a process died between an order and its flush."""
    full = Pool.objects.filter(
        pending_total__gte=settings.PURCHASE_THRESHOLD
    ).values_list("crypto_id", flat=True)
    flushed = [pool_flush_if_full(crypto_id=crypto_id) for crypto_id in full]
    return [purchase_id for purchase_id in flushed if purchase_id]
