"""The Strategy and Factory of the original design.

The factory compares what an order is worth at the exchange (price ×
amount, exact: the total charged is that rounded up to the cent) to
``PURCHASE_THRESHOLD``: a large order is bought on its own at once; a
small one waits in its crypto's pool until the pool is worth a
purchase.

Each strategy writes its order with one statement of
``ledger.movements``: the conditional debit, the order, its ledger entry,
and either the order's own purchase or the pool's running total.
"""

import logging
import uuid
from abc import ABC, abstractmethod
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, connection

from accounts.actors import SERVICE, Actor
from ledger import movements
from orders import pool
from orders.doorbell import purchase_ring_on_commit
from orders.models import Crypto, Order

logger = logging.getLogger(__name__)


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

    def _write(self, write, *, customer_id, crypto, amount, total, **extra):
        """Write the order with ``write`` (a statement of
        ``ledger.movements``): the order as written, or
        ``OrderNotWritten``. A pooled order also carries its pool's state
        as the statement left it (``pool_pending``,
        ``pool_waiting_since``), for its progress in the answer."""
        written = write(
            customer_id=customer_id,
            crypto=crypto,
            amount=amount,
            total=total,
            **extra,
        )
        if written is None:
            raise OrderNotWritten()
        order = Order(
            id=written.id,
            customer_id=customer_id,
            crypto_id=crypto.pk,
            amount=amount,
            price=crypto.price,
            total=total,
            status=self.status,
            purchase_id=written.purchase_id,
            created_at=written.created_at,
            updated_at=written.updated_at,
        )
        order._state.adding = False
        order.pool_pending = written.pool_pending
        order.pool_waiting_since = written.pool_waiting_since
        return order


class LargeOrderStrategy(OrderStrategy):
    """At or above the threshold: a purchase of its own, rung at commit.

    Its one statement is its whole transaction: outside an outer
    transaction it runs in autocommit, which saves the round trips of
    BEGIN and COMMIT on the busiest path of the service.
    """

    def execute(self, *, customer_id, crypto, amount, total, actor=SERVICE):
        order = self._write(
            movements.order_write_large,
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
        order = self._write(
            movements.order_write_small,
            customer_id=customer_id,
            crypto=crypto,
            amount=amount,
            total=total,
            actor=actor,
        )
        if order.pool_pending >= settings.PURCHASE_THRESHOLD:
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
    def create_strategy(worth: Decimal) -> OrderStrategy:
        """``worth``: price × amount, exact, not the rounded total: an
        order charged $10.00 for $9.99999996 of crypto is under the
        exchange's minimum, and waits in the pool."""
        if worth < settings.PURCHASE_THRESHOLD:
            return SmallOrderStrategy()
        return LargeOrderStrategy()
