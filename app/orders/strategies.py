"""The Strategy and Factory of the original design.

The factory compares an order's total to ``PURCHASE_THRESHOLD``: a large
order is bought on its own at once; a small one waits in its crypto's
pool until the pool is worth a purchase. Both run inside the order's
transaction, after the customer has been debited.
"""

from abc import ABC, abstractmethod
from decimal import Decimal

from django.conf import settings

from orders import pool
from orders.models import Crypto, Order


class OrderStrategy(ABC):
    @abstractmethod
    def execute(
        self,
        *,
        customer_id: int,
        crypto: Crypto,
        amount: Decimal,
        total: Decimal,
    ) -> Order:
        """Write the order and start its way to the exchange."""


class LargeOrderStrategy(OrderStrategy):
    """At or above the threshold: a purchase of its own, rung at commit."""

    def execute(self, *, customer_id, crypto, amount, total):
        purchase = pool.purchase_create(
            crypto_id=crypto.pk, amount=amount, total=total
        )
        return Order.objects.create(
            customer_id=customer_id,
            crypto=crypto,
            amount=amount,
            price=crypto.price,
            total=total,
            status=Order.Status.SUBMITTED,
            purchase=purchase,
        )


class SmallOrderStrategy(OrderStrategy):
    """Below the threshold: into the pool; the order that tips the pool
    takes every pending order of its crypto into one purchase."""

    def execute(self, *, customer_id, crypto, amount, total):
        order = Order.objects.create(
            customer_id=customer_id,
            crypto=crypto,
            amount=amount,
            price=crypto.price,
            total=total,
            status=Order.Status.PENDING,
        )
        purchase = pool.pool_add(crypto_id=crypto.pk, total=total)
        if purchase is not None:
            order.status = Order.Status.SUBMITTED
            order.purchase = purchase
        return order


class OrderStrategyFactory:
    @staticmethod
    def create_strategy(total_price: Decimal) -> OrderStrategy:
        if total_price < settings.PURCHASE_THRESHOLD:
            return SmallOrderStrategy()
        return LargeOrderStrategy()
