"""The Strategy and Factory of the original design.

The factory compares an order's total to ``PURCHASE_THRESHOLD``: a large
order is bought on its own at once; a small one waits in its crypto's
pool until the pool is worth a purchase.

Each strategy writes its order in one SQL statement: the conditional
debit (``UPDATE ... WHERE balance >= total``, which also checks that the
price is still the one quoted), the order, its ledger entry, and either
the order's own purchase or the pool's running total. One statement is
one round trip and holds the customer's and the pool's row locks for as
short a time as possible; the customer's row is always locked first,
because every other part of the statement reads the debit's result.
"""

import logging
import uuid
from abc import ABC, abstractmethod
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, connection

from accounts.actors import SERVICE, Actor
from core.prepared import PreparedStatement
from orders import pool
from orders.doorbell import purchase_ring_on_commit
from orders.models import Crypto, Order

logger = logging.getLogger(__name__)

_DEBIT = """
    debit AS (
        UPDATE accounts_customer SET balance = balance - %(total)s
        WHERE id = %(customer_id)s AND balance >= %(total)s
          AND EXISTS (
              SELECT 1 FROM orders_crypto
              WHERE symbol = %(crypto)s AND price = %(price)s)
        RETURNING id, balance
    )"""

_ORDER_AND_ENTRY = """
    new_order AS (
        INSERT INTO orders_order (
            customer_id, crypto_id, amount, price, total, status,
            purchase_id, created_at, updated_at)
        SELECT debit.id, %(crypto)s, %(amount)s, %(price)s, %(total)s,
               %(status)s, {purchase_id}, now(), now()
        FROM debit {purchase_from}
        RETURNING id, purchase_id, created_at, updated_at
    ),
    entry AS (
        INSERT INTO accounts_ledgerentry (
            customer_id, kind, amount, balance_after, order_id,
            actor_user_id, actor_token_id, created_at)
        SELECT debit.id, 'order', -%(total)s, debit.balance, new_order.id,
               %(actor_user_id)s, %(actor_token_id)s, now()
        FROM debit, new_order
    )"""

LARGE_ORDER_SQL = (
    "WITH"
    + _DEBIT
    + """,
    purchase AS (
        INSERT INTO orders_purchase (
            crypto_id, amount, total, status, client_order_id, attempts,
            lease_owner, last_error, enqueued_at, created_at, updated_at)
        SELECT %(crypto)s, %(amount)s, %(total)s, 'queued',
               %(client_order_id)s, 0, '', '', now(), now(), now()
        FROM debit
        RETURNING id
    ),"""
    + _ORDER_AND_ENTRY.format(
        purchase_id="purchase.id", purchase_from=", purchase"
    )
    + """
    SELECT id, purchase_id, created_at, updated_at, NULL, NULL
    FROM new_order"""
)

SMALL_ORDER_SQL = (
    "WITH"
    + _DEBIT
    + ","
    + _ORDER_AND_ENTRY.format(purchase_id="NULL::bigint", purchase_from="")
    + """,
    pooled AS (
        INSERT INTO orders_pool (crypto_id, pending_total, waiting_since)
        SELECT %(crypto)s, %(total)s, now() FROM debit
        ON CONFLICT (crypto_id) DO UPDATE
        SET pending_total = orders_pool.pending_total + EXCLUDED.pending_total,
            waiting_since = LEAST(
                orders_pool.waiting_since, EXCLUDED.waiting_since)
        RETURNING pending_total, waiting_since
    )
    SELECT id, purchase_id, created_at, updated_at, pooled.pending_total,
           pooled.waiting_since
    FROM new_order, pooled"""
)


_ORDER_PARAMS = [
    ("customer_id", "bigint"),
    ("crypto", "varchar"),
    ("amount", "numeric"),
    ("price", "numeric"),
    ("total", "numeric"),
    ("status", "varchar"),
    ("actor_user_id", "bigint"),
    ("actor_token_id", "bigint"),
]
LARGE_ORDER = PreparedStatement(
    "order_large",
    LARGE_ORDER_SQL,
    [*_ORDER_PARAMS, ("client_order_id", "uuid")],
)
SMALL_ORDER = PreparedStatement("order_small", SMALL_ORDER_SQL, _ORDER_PARAMS)


class OrderNotWritten(Exception):
    """The debit found no row: unknown customer, insufficient funds, or
    a price that changed since it was quoted. The caller tells which."""


class OrderStrategy(ABC):
    status = Order.Status.SUBMITTED

    @abstractmethod
    def execute(
        self,
        *,
        customer_id: int,
        crypto: Crypto,
        amount: Decimal,
        total: Decimal,
        actor: Actor = SERVICE,
    ) -> Order:
        """Debit the customer, write the order and its ledger entry (by
        ``actor``), and start its way to the exchange, in one statement:
        its own transaction in autocommit, or a part of the caller's
        when one is open (an idempotent request's)."""

    def _write(
        self, statement, *, customer_id, crypto, amount, total, actor, **extra
    ):
        """Run the order's statement; the order as written, and the
        pool's pending total (None when the statement has no pool).

        A pooled order also carries its pool's state as the statement
        left it (``pool_pending``, ``pool_waiting_since``), for its
        progress in the answer."""
        row = statement.fetchone(
            customer_id=customer_id,
            crypto=crypto.pk,
            amount=amount,
            price=crypto.price,
            total=total,
            status=self.status,
            actor_user_id=actor.user_id,
            actor_token_id=actor.token_id,
            **extra,
        )
        if row is None:
            raise OrderNotWritten()
        order_id, purchase_id, created_at, updated_at, pending, since = row
        order = Order(
            id=order_id,
            customer_id=customer_id,
            crypto_id=crypto.pk,
            amount=amount,
            price=crypto.price,
            total=total,
            status=self.status,
            purchase_id=purchase_id,
            created_at=created_at,
            updated_at=updated_at,
        )
        order._state.adding = False
        order.pool_pending = pending
        order.pool_waiting_since = since
        return order, pending


class LargeOrderStrategy(OrderStrategy):
    """At or above the threshold: a purchase of its own, rung at commit.

    Its one statement is its whole transaction: outside an outer
    transaction it runs in autocommit, which saves the round trips of
    BEGIN and COMMIT on the busiest path of the service.
    """

    def execute(self, *, customer_id, crypto, amount, total, actor=SERVICE):
        order, _ = self._write(
            LARGE_ORDER,
            customer_id=customer_id,
            crypto=crypto,
            amount=amount,
            total=total,
            actor=actor,
            client_order_id=uuid.uuid4(),
        )
        purchase_ring_on_commit(order.purchase_id)
        return order


class SmallOrderStrategy(OrderStrategy):
    """Below the threshold: into the pool; the order that tips the pool
    takes every pending order of its crypto into one purchase.

    Its statement adds the order's total to the pool (creating the pool
    if the crypto has none yet) and, like a large order's, is its whole
    transaction. The pool's row lock is held only while the statement
    runs. When it brought the pool to the threshold, a second short
    transaction flushes the pool; if the process dies in between, the
    next order of the crypto or the worker's sweeper flushes it.
    """

    status = Order.Status.PENDING

    def execute(self, *, customer_id, crypto, amount, total, actor=SERVICE):
        order, pending = self._write(
            SMALL_ORDER,
            customer_id=customer_id,
            crypto=crypto,
            amount=amount,
            total=total,
            actor=actor,
        )
        if pending >= settings.PURCHASE_THRESHOLD:
            try:
                purchase_id = pool.pool_flush_if_full(crypto_id=crypto.pk)
            except DatabaseError:
                if connection.in_atomic_block:
                    raise  # the caller's transaction: all or nothing
                # The order is committed and debited: answering an error
                # would invite a second order. It waits in the pool; the
                # next order of the crypto or the sweeper flushes it.
                logger.exception("pool %s not flushed", crypto.pk)
                return order
            if purchase_id is None:
                # Another order's flush took this one first.
                order.refresh_from_db(
                    fields=["status", "purchase", "updated_at"]
                )
            else:
                order.status = Order.Status.SUBMITTED
                order.purchase_id = purchase_id
        return order


class OrderStrategyFactory:
    @staticmethod
    def create_strategy(total_price: Decimal) -> OrderStrategy:
        if total_price < settings.PURCHASE_THRESHOLD:
            return SmallOrderStrategy()
        return LargeOrderStrategy()
