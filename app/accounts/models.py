"""Customers, their ledger, and the hashed API credentials of everyone."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class ActorFields(models.Model):
    """Who did it: the user who acted and the token (operator token or
    customer key) the request carried; the user alone for a browser
    session; neither for the service itself (the worker's refunds and
    the house's top-ups).

    Not foreign keys in the database: PostgreSQL's check of one locks
    the referenced row (FOR KEY SHARE), which on every order would lock
    the customer's user and key rows (its cost: bench/README.md).
    The ids come from the authenticated request, and Django's PROTECT
    still refuses to delete a user or token that moved money."""

    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    actor_token = models.ForeignKey(
        "accounts.ApiToken",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        abstract = True


class Customer(models.Model):
    """A holder of a USD balance. Its credentials belong to ``user``."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="customer",
    )
    name = models.CharField(max_length=100)
    balance = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=settings.DEFAULT_CUSTOMER_BALANCE,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0),
                name="customer_balance_not_negative",
            )
        ]

    def __str__(self):
        return f"{self.name} (#{self.pk})"


class LedgerEntry(ActorFields):
    """One change of a customer's balance, signed, with the result."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        ORDER = "order"
        REFUND = "refund"

    # Indexed by (customer, -id) below; a second index on customer alone
    # would only slow every order's insert.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="ledger",
        db_index=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    balance_after = models.DecimalField(max_digits=10, decimal_places=2)
    order = models.ForeignKey(
        "orders.Order",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        indexes = [models.Index(fields=["customer", "-id"])]
        constraints = [
            # The sign of an entry follows from its kind; an order entry
            # and a refund name their order, a deposit names none.
            models.CheckConstraint(
                condition=(
                    Q(kind="deposit", amount__gt=0, order__isnull=True)
                    | Q(kind="order", amount__lt=0, order__isnull=False)
                    | Q(kind="refund", amount__gt=0, order__isnull=False)
                ),
                name="ledger_entry_sign_follows_kind",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0),
                name="ledger_entry_balance_after_not_negative",
            ),
            # An order is debited once and refunded at most once.
            models.UniqueConstraint(
                fields=["order", "kind"],
                condition=Q(order__isnull=False),
                name="ledger_entry_once_per_order_and_kind",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount} for customer {self.customer_id}"


class House(models.Model):
    """The broker's own account, one row: it buys the rest of a pool
    that waited ``POOL_MAX_WAIT_SECONDS``, so that no customer's small
    order waits without bound. Funded by operators' deposits; its
    ledger explains its balance as a customer's does."""

    ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=ID)
    balance = models.DecimalField(max_digits=10, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="house_balance_not_negative"
            ),
            models.CheckConstraint(condition=Q(id=1), name="house_is_one"),
        ]

    def __str__(self):
        return "the house"


class HouseLedgerEntry(ActorFields):
    """One change of the house's balance, signed, with the result."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        HOUSE_TOP_UP = "house_top_up"
        REFUND = "refund"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    balance_after = models.DecimalField(max_digits=10, decimal_places=2)
    purchase = models.ForeignKey(
        "orders.Purchase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="house_entries",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "house ledger entries"
        constraints = [
            # A top-up pays for a purchase's house share, a refund gives
            # a failed one back; a deposit names no purchase.
            models.CheckConstraint(
                condition=(
                    Q(kind="deposit", amount__gt=0, purchase__isnull=True)
                    | Q(
                        kind="house_top_up",
                        amount__lt=0,
                        purchase__isnull=False,
                    )
                    | Q(kind="refund", amount__gt=0, purchase__isnull=False)
                ),
                name="house_entry_sign_follows_kind",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0),
                name="house_entry_balance_after_not_negative",
            ),
            models.UniqueConstraint(
                fields=["purchase", "kind"],
                condition=Q(purchase__isnull=False),
                name="house_entry_once_per_purchase_and_kind",
            ),
        ]

    def __str__(self):
        return f"house {self.kind} {self.amount}"


class HouseHolding(models.Model):
    """What the house owns of one crypto: the sum of its shares of
    completed purchases, kept with each completion."""

    crypto = models.OneToOneField(
        "orders.Crypto", on_delete=models.PROTECT, primary_key=True
    )
    amount = models.DecimalField(max_digits=30, decimal_places=10, default=0)
    spent = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    def __str__(self):
        return f"house holds {self.amount} {self.crypto_id}"


class ApiToken(models.Model):
    """A bearer credential, kept only as its SHA-256 digest.

    Customers get one when their account is created; operators get one
    from ``POST /api/token/``. The plain key is shown once and never
    stored.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.prefix}… of {self.user}"


class CredentialEvent(ActorFields):
    """A credential created or revoked, with who did it: the audit trail
    of keys and tokens beside the ledger's of money."""

    class Kind(models.TextChoices):
        CUSTOMER_KEY_CREATED = "customer_key_created"
        CUSTOMER_KEY_ROTATED = "customer_key_rotated"
        CUSTOMER_KEYS_REVOKED = "customer_keys_revoked"
        OPERATOR_TOKEN_ISSUED = "operator_token_issued"
        TOKEN_REVOKED = "token_revoked"

    kind = models.CharField(max_length=24, choices=Kind.choices)
    # Whose credential it is, and the one created or revoked (none when
    # every key of a customer was revoked at once).
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="credential_events",
    )
    token = models.ForeignKey(
        ApiToken,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.kind} of {self.subject}"
