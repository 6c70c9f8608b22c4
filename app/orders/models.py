"""Cryptos, orders, the per-crypto pool of small orders, and purchases.

A ``Purchase`` is one exchange purchase: the orders it carries, their
summed amount and total, and the state of its trip to the exchange. It is
committed with its orders, so the database itself is the outbox of what
must be bought; Redis only rings the doorbell.
"""

import uuid

from django.db import models
from django.db.models import F, Q

from accounts.models import Customer


class Crypto(models.Model):
    symbol = models.CharField(max_length=10, primary_key=True)
    name = models.CharField(max_length=50)
    price = models.DecimalField(max_digits=18, decimal_places=8)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gt=0), name="crypto_price_positive"
            )
        ]

    def __str__(self):
        return self.symbol


class Pool(models.Model):
    """The running total of a crypto's pending orders.

    Its row is the lock that serializes pool changes of one crypto; the
    total is kept here so that nobody sums a growing table under it.
    """

    crypto = models.OneToOneField(
        Crypto, on_delete=models.CASCADE, primary_key=True
    )
    pending_total = models.DecimalField(
        max_digits=16, decimal_places=2, default=0
    )
    # When its oldest pending order was placed (None when empty): the
    # bounded wait counts from here. Kept by the orders' own statements,
    # so reading it costs the sweeper no scan of the orders.
    waiting_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(pending_total__gte=0),
                name="pool_pending_total_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(pending_total=0, waiting_since__isnull=True)
                | Q(pending_total__gt=0, waiting_since__isnull=False),
                name="pool_waiting_since_when_not_empty",
            ),
        ]

    def __str__(self):
        return f"pool {self.crypto_id}: {self.pending_total}"


class Purchase(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        IN_FLIGHT = "in_flight"
        COMPLETED = "completed"
        FAILED = "failed"

    # Not indexed: purchases are found by id or by the partial index of
    # unfinished ones, and every index slows each purchase's insert.
    crypto = models.ForeignKey(
        Crypto,
        on_delete=models.PROTECT,
        related_name="purchases",
        db_index=False,
    )
    amount = models.DecimalField(max_digits=30, decimal_places=10)
    total = models.DecimalField(max_digits=16, decimal_places=2)
    # The house's share, when the bounded wait flushed a pool under the
    # threshold: included in ``amount`` and ``total`` above.
    house_amount = models.DecimalField(
        max_digits=30, decimal_places=10, default=0, db_default=0
    )
    house_total = models.DecimalField(
        max_digits=16, decimal_places=2, default=0, db_default=0
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    client_order_id = models.UUIDField(default=uuid.uuid4, unique=True)
    attempts = models.PositiveIntegerField(default=0)
    # The worker that holds the purchase and until when; a lease that
    # runs out without a heartbeat means the worker died.
    lease_owner = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The sweeper's scan: only unfinished purchases are indexed.
            models.Index(
                fields=["status"],
                name="purchase_unfinished",
                condition=Q(status__in=["queued", "in_flight"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(total__gt=0),
                name="purchase_amount_and_total_positive",
            ),
            # The house buys a share only with the customers' orders, and
            # pays for every unit it buys.
            models.CheckConstraint(
                condition=(
                    Q(house_amount=0, house_total=0)
                    | Q(
                        house_amount__gt=0,
                        house_total__gt=0,
                        house_amount__lt=F("amount"),
                        house_total__lt=F("total"),
                    )
                ),
                name="purchase_house_share_paid_and_partial",
            ),
        ]

    def __str__(self):
        return f"purchase #{self.pk} {self.crypto_id} {self.total}"


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        SUBMITTED = "submitted"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    # Both indexed with the id below (a customer's orders and one
    # crypto's, newest first): a plain index on either would only slow
    # every order's insert.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    crypto = models.ForeignKey(
        Crypto, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    amount = models.DecimalField(max_digits=20, decimal_places=10)
    price = models.DecimalField(max_digits=18, decimal_places=8)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=10, choices=Status.choices)
    purchase = models.ForeignKey(
        Purchase,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="orders",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "-id"]),
            models.Index(fields=["crypto", "-id"]),
            # The pool flush reads only a crypto's pending orders.
            models.Index(
                fields=["crypto"],
                name="order_pending_by_crypto",
                condition=Q(status="pending"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="order_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(total__gte="0.01"), name="order_total_min_cent"
            ),
            # Pending means in the pool and in no purchase, cancelled
            # means taken out of it before any purchase; every other
            # state belongs to exactly one purchase.
            models.CheckConstraint(
                condition=(
                    Q(
                        status__in=["pending", "cancelled"],
                        purchase__isnull=True,
                    )
                    | Q(
                        status__in=["submitted", "completed", "failed"],
                        purchase__isnull=False,
                    )
                ),
                name="order_purchase_follows_status",
            ),
        ]

    def __str__(self):
        return f"order #{self.pk} {self.amount} {self.crypto_id}"
