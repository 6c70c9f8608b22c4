"""Writes to customers, balances and credentials.

Every balance change is a single conditional ``UPDATE ... RETURNING``
that locks the customer's row, so no update is ever lost and no balance
goes below zero, paired with its ledger entry in the same transaction:
credits (deposits, refunds) through ``balance_credit``; an order's debit
inside the order's own statement (``orders/strategies.py``). Each entry,
and each credential created or revoked, records its ``Actor``. The house's
balance (``House``) changes the same way, through the ``house_*``
functions, with its own ledger.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.actors import SERVICE, Actor
from accounts.authentication import token_digest, token_generate
from accounts.models import (
    ApiToken,
    CredentialEvent,
    Customer,
    House,
    HouseHolding,
    HouseLedgerEntry,
    LedgerEntry,
)
from core.errors import InvalidInput, NotFound
from core.money import MAX_BALANCE, require_money

User = get_user_model()


@dataclass(frozen=True)
class CreatedCustomer:
    customer: Customer
    api_key: str


def _balance_update(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def balance_credit(
    *, customer_id: int, amount: Decimal, cap: Decimal = MAX_BALANCE
) -> Decimal:
    """Add ``amount`` to the balance, refusing a balance above ``cap``
    (by default what the column can hold)."""
    require_money(amount)
    balance = _balance_update(
        "UPDATE accounts_customer SET balance = balance + %s "
        "WHERE id = %s AND balance + %s <= %s RETURNING balance",
        [amount, customer_id, amount, cap],
    )
    if balance is None:
        if not Customer.objects.filter(pk=customer_id).exists():
            raise NotFound("No such customer.")
        message = f"The balance may not exceed {MAX_BALANCE}."
        if cap < MAX_BALANCE:
            message = (
                f"The balance may not exceed {MAX_BALANCE} with the "
                f"{MAX_BALANCE - cap} of open orders that may be refunded."
            )
        raise InvalidInput(
            "The balance would exceed its maximum.",
            details={"amount": [message]},
        )
    return balance


def house_ensure() -> None:
    """The house's row, made if missing (the migration makes it; a test
    database flushed between tests does not keep it)."""
    House.objects.get_or_create(pk=House.ID)


def _house_open_shares_total() -> Decimal:
    """What the house's shares of unfinished purchases may still bring
    back as refunds."""
    from orders.models import Purchase

    return Purchase.objects.filter(
        house_total__gt=0,
        status__in=[Purchase.Status.QUEUED, Purchase.Status.IN_FLIGHT],
    ).aggregate(total=Sum("house_total"))["total"] or Decimal(0)


@transaction.atomic
def house_deposit(*, amount: Decimal, actor: Actor = SERVICE) -> House:
    """Fund the house, keeping room for the refund of every open share
    (as ``customer_deposit`` does for a customer's open orders)."""
    require_money(amount)
    house_ensure()
    House.objects.select_for_update().get(pk=House.ID)
    room = MAX_BALANCE - _house_open_shares_total()
    balance = _balance_update(
        "UPDATE accounts_house SET balance = balance + %s "
        "WHERE id = %s AND balance + %s <= %s RETURNING balance",
        [amount, House.ID, amount, room],
    )
    if balance is None:
        raise InvalidInput(
            "The balance would exceed its maximum.",
            details={
                "amount": [
                    f"The house's balance may not exceed {MAX_BALANCE} with "
                    f"the {MAX_BALANCE - room} of open shares that may be "
                    "refunded."
                ]
            },
        )
    HouseLedgerEntry.objects.create(
        kind=HouseLedgerEntry.Kind.DEPOSIT,
        amount=amount,
        balance_after=balance,
        **actor.fields(),
    )
    return House.objects.get(pk=House.ID)


def house_top_up(*, purchase_id: int, amount: Decimal) -> Decimal | None:
    """Debit the house for its share of a purchase, in the caller's
    transaction: the new balance, or None if the house is short (nothing
    is written then). Never overdraws: the debit is conditional."""
    require_money(amount)
    balance = _balance_update(
        "UPDATE accounts_house SET balance = balance - %s "
        "WHERE id = %s AND balance >= %s RETURNING balance",
        [amount, House.ID, amount],
    )
    if balance is not None:
        HouseLedgerEntry.objects.create(
            kind=HouseLedgerEntry.Kind.HOUSE_TOP_UP,
            amount=-amount,
            balance_after=balance,
            purchase_id=purchase_id,
        )
    return balance


def house_refund(*, purchase_id: int, amount: Decimal) -> Decimal:
    """Give the house its share of a failed purchase back, in the
    caller's transaction. Deposits keep room for it, so it always fits."""
    require_money(amount)
    balance = _balance_update(
        "UPDATE accounts_house SET balance = balance + %s "
        "WHERE id = %s RETURNING balance",
        [amount, House.ID],
    )
    HouseLedgerEntry.objects.create(
        kind=HouseLedgerEntry.Kind.REFUND,
        amount=amount,
        balance_after=balance,
        purchase_id=purchase_id,
    )
    return balance


def house_holding_add(
    *, crypto_id: str, amount: Decimal, spent: Decimal
) -> None:
    """The house's share of a completed purchase, added to what it
    holds of the crypto, in the caller's transaction."""
    table = HouseHolding._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (crypto_id, amount, spent) "
            "VALUES (%s, %s, %s) ON CONFLICT (crypto_id) DO UPDATE SET "
            f"amount = {table}.amount + EXCLUDED.amount, "
            f"spent = {table}.spent + EXCLUDED.spent",
            [crypto_id, amount, spent],
        )


def _open_orders_total(customer_id) -> Decimal:
    """What the customer's unfinished orders may still bring back."""
    from orders.models import Order

    return Order.objects.filter(
        customer_id=customer_id,
        status__in=[Order.Status.PENDING, Order.Status.SUBMITTED],
    ).aggregate(total=Sum("total"))["total"] or Decimal(0)


def _api_token_create(*, user, prefix, kind, actor) -> str:
    """A new token of ``user``, recorded as a ``kind`` event by
    ``actor``; the plain key, shown once."""
    raw_key = token_generate(prefix)
    token = ApiToken.objects.create(
        user=user, digest=token_digest(raw_key), prefix=raw_key[:10]
    )
    CredentialEvent.objects.create(
        kind=kind, subject=user, token=token, **actor.fields()
    )
    return raw_key


@transaction.atomic
def customer_create(
    *, name: str, balance: Decimal | None = None, actor: Actor = SERVICE
) -> CreatedCustomer:
    """A customer with its opening deposit and a one-time API key."""
    opening = settings.DEFAULT_CUSTOMER_BALANCE if balance is None else balance
    if not isinstance(opening, Decimal) or opening < 0:
        raise InvalidInput(details={"balance": ["Must be zero or more."]})
    if opening > MAX_BALANCE:
        raise InvalidInput(
            details={"balance": [f"Must be at most {MAX_BALANCE}."]}
        )
    user = User(username=f"customer-{uuid.uuid4().hex}")
    user.set_unusable_password()
    user.save()
    customer = Customer.objects.create(user=user, name=name, balance=opening)
    if opening > 0:
        LedgerEntry.objects.create(
            customer=customer,
            kind=LedgerEntry.Kind.DEPOSIT,
            amount=opening,
            balance_after=opening,
            **actor.fields(),
        )
    api_key = _api_token_create(
        user=user,
        prefix="ck",
        kind=CredentialEvent.Kind.CUSTOMER_KEY_CREATED,
        actor=actor,
    )
    return CreatedCustomer(customer=customer, api_key=api_key)


@transaction.atomic
def customer_deposit(
    *, customer_id: int, amount: Decimal, actor: Actor = SERVICE
) -> Customer:
    """Credit a deposit, keeping room for every refund: the balance plus
    the totals of the customer's open orders stays within what the
    balance column holds, so a failed purchase's refund always fits.

    The customer's row is locked first, so no order is debited while the
    open orders are summed.
    """
    require_money(amount)
    _customer_locked(customer_id)
    room = MAX_BALANCE - _open_orders_total(customer_id)
    balance = balance_credit(customer_id=customer_id, amount=amount, cap=room)
    LedgerEntry.objects.create(
        customer_id=customer_id,
        kind=LedgerEntry.Kind.DEPOSIT,
        amount=amount,
        balance_after=balance,
        **actor.fields(),
    )
    return Customer.objects.get(pk=customer_id)


def _customer_locked(customer_id):
    customer = (
        Customer.objects.select_for_update().filter(pk=customer_id).first()
    )
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def _api_tokens_revoke(*, user_id) -> int:
    return ApiToken.objects.filter(
        user_id=user_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


@transaction.atomic
def customer_key_rotate(
    *, customer_id: int, actor: Actor = SERVICE
) -> CreatedCustomer:
    """Revoke every key of the customer and issue a new one."""
    customer = _customer_locked(customer_id)
    _api_tokens_revoke(user_id=customer.user_id)
    api_key = _api_token_create(
        user=customer.user,
        prefix="ck",
        kind=CredentialEvent.Kind.CUSTOMER_KEY_ROTATED,
        actor=actor,
    )
    return CreatedCustomer(customer=customer, api_key=api_key)


@transaction.atomic
def customer_keys_revoke(*, customer_id: int, actor: Actor = SERVICE) -> int:
    """Revoke every key of the customer, issuing none: it is locked out
    until an operator rotates its key. How many keys were live."""
    customer = _customer_locked(customer_id)
    revoked = _api_tokens_revoke(user_id=customer.user_id)
    CredentialEvent.objects.create(
        kind=CredentialEvent.Kind.CUSTOMER_KEYS_REVOKED,
        subject_id=customer.user_id,
        **actor.fields(),
    )
    return revoked


@transaction.atomic
def api_token_revoke(*, token_id: int, actor: Actor = SERVICE) -> bool:
    """Revoke one token (the one a request came with); False if it was
    revoked already."""
    token = ApiToken.objects.filter(pk=token_id).first()
    revoked = ApiToken.objects.filter(
        pk=token_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if revoked:
        CredentialEvent.objects.create(
            kind=CredentialEvent.Kind.TOKEN_REVOKED,
            subject_id=token.user_id,
            token_id=token_id,
            **actor.fields(),
        )
    return bool(revoked)


@transaction.atomic
def operator_token_issue(*, user) -> str:
    """A new token for a staff user who has proven their password: the
    operator is its own actor."""
    return _api_token_create(
        user=user,
        prefix="op",
        kind=CredentialEvent.Kind.OPERATOR_TOKEN_ISSUED,
        actor=Actor(user_id=user.pk),
    )
