"""Writes to customers, balances and credentials.

Every balance change is a single conditional ``UPDATE ... RETURNING``
that locks the customer's row, so no update is ever lost and no balance
goes below zero, paired with its ledger entry in the same transaction:
credits (deposits, refunds) through ``balance_credit``; an order's debit
inside the order's own statement (``orders/strategies.py``).
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.authentication import token_digest, token_generate
from accounts.models import ApiToken, Customer, LedgerEntry
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


def _open_orders_total(customer_id) -> Decimal:
    """What the customer's unfinished orders may still bring back."""
    from orders.models import Order

    return Order.objects.filter(
        customer_id=customer_id,
        status__in=[Order.Status.PENDING, Order.Status.SUBMITTED],
    ).aggregate(total=Sum("total"))["total"] or Decimal(0)


def _api_token_create(*, user, prefix) -> str:
    raw_key = token_generate(prefix)
    ApiToken.objects.create(
        user=user, digest=token_digest(raw_key), prefix=raw_key[:10]
    )
    return raw_key


@transaction.atomic
def customer_create(
    *, name: str, balance: Decimal | None = None
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
        )
    api_key = _api_token_create(user=user, prefix="ck")
    return CreatedCustomer(customer=customer, api_key=api_key)


@transaction.atomic
def customer_deposit(*, customer_id: int, amount: Decimal) -> Customer:
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
def customer_key_rotate(*, customer_id: int) -> CreatedCustomer:
    """Revoke every key of the customer and issue a new one."""
    customer = _customer_locked(customer_id)
    _api_tokens_revoke(user_id=customer.user_id)
    api_key = _api_token_create(user=customer.user, prefix="ck")
    return CreatedCustomer(customer=customer, api_key=api_key)


@transaction.atomic
def customer_keys_revoke(*, customer_id: int) -> int:
    """Revoke every key of the customer, issuing none: it is locked out
    until an operator rotates its key. How many keys were live."""
    customer = _customer_locked(customer_id)
    return _api_tokens_revoke(user_id=customer.user_id)


def api_token_revoke(*, token_id: int) -> bool:
    """Revoke one token (the one a request came with); False if it was
    revoked already."""
    revoked = ApiToken.objects.filter(
        pk=token_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    return bool(revoked)


def operator_token_issue(*, user) -> str:
    """A new token for a staff user who has proven their password."""
    return _api_token_create(user=user, prefix="op")
