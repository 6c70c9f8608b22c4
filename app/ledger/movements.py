"""Every movement of money: the one module that changes a balance.

A customer's balance, the house's balance and a pool's running total
change here and nowhere else, each with its ledger entry in the same
transaction, and each debit is conditional, so nothing is overdrawn:

- an order: its debit, the order, its ledger entry and either its own
  purchase or its pool's running total, in one statement
  (``order_write_large``, ``order_write_small``);
- a pool's flush into one purchase, with the house's share when the
  bounded wait tops it up (``pool_flush``, ``house_top_up``), and the
  worker's merge of fresh purchases into one exchange call
  (``purchases_merge``);
- deposits (``customer_open``, ``customer_deposit``,
  ``house_deposit``), and refunds of cancelled and failed orders
  (``order_refund``, ``pool_take_back``, ``house_refund``);
- what the house holds once its share is bought
  (``house_holding_add``).

Locks are always taken in one order, so no two movements deadlock: the
customer, then the pool, then the order; the pool, then the house.
Every movement records its ``Actor``. ``ledger.audit`` checks the books
that these functions keep.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F, Min, Sum
from django.db.models.functions import Now

from accounts.actors import SERVICE, Actor
from accounts.models import (
    Customer,
    House,
    HouseHolding,
    HouseLedgerEntry,
    LedgerEntry,
)
from core.errors import InvalidInput, NotFound
from core.money import MAX_BALANCE, require_money
from core.prepared import PreparedStatement
from core.sql import insert, table, text
from orders.models import Crypto, Order, Pool, Purchase

ZERO = Decimal(0)

# -- Orders: one statement each ---------------------------------------
#
# The conditional debit (which also checks that the price is still the
# one quoted) comes first, so the customer's row is locked before the
# pool's; every other part reads its result. One statement is one round
# trip, and holds the row locks for as short a time as possible.

_DEBIT = f"""
    debit AS (
        UPDATE {table(Customer)} SET balance = balance - %(total)s
        WHERE id = %(customer_id)s AND balance >= %(total)s
          AND EXISTS (
              SELECT 1 FROM {table(Crypto)}
              WHERE symbol = %(crypto)s AND price = %(price)s)
        RETURNING id, balance
    )"""


def _purchase_insert(*, amount, total, house_amount, house_total, source):
    """The one INSERT of a purchase: queued, never sent."""
    return insert(
        Purchase,
        {
            "crypto": "%(crypto)s",
            "amount": amount,
            "total": total,
            "house_amount": house_amount,
            "house_total": house_total,
            "status": text(Purchase.Status.QUEUED),
            "client_order_id": "%(client_order_id)s",
            "attempts": "0",
            "lease_owner": "''",
            "last_error": "''",
            "enqueued_at": "now()",
            "created_at": "now()",
            "updated_at": "now()",
        },
        source=source,
        returning="id, total",
    )


def _order_and_entry(*, status, purchase_id, source):
    """The order and its debit's ledger entry, after ``debit``."""
    order = insert(
        Order,
        {
            "customer": "debit.id",
            "crypto": "%(crypto)s",
            "amount": "%(amount)s",
            "price": "%(price)s",
            "total": "%(total)s",
            "status": text(status),
            "purchase": purchase_id,
            "created_at": "now()",
            "updated_at": "now()",
        },
        source=source,
        returning="id, purchase_id, created_at, updated_at",
    )
    entry = insert(
        LedgerEntry,
        {
            "customer": "debit.id",
            "kind": text(LedgerEntry.Kind.ORDER),
            "amount": "-%(total)s",
            "balance_after": "debit.balance",
            "order": "new_order.id",
            "actor_user": "%(actor_user_id)s",
            "actor_token": "%(actor_token_id)s",
            "created_at": "now()",
        },
        source="FROM debit, new_order",
        returning="id",
    )
    return f"new_order AS ({order}), entry AS ({entry})"


_LARGE_ORDER_SQL = f"""
    WITH {_DEBIT},
    purchase AS ({_purchase_insert(
        amount="%(amount)s",
        total="%(total)s",
        house_amount="0",
        house_total="0",
        source="FROM debit",
    )}),
    {_order_and_entry(
        status=Order.Status.SUBMITTED,
        purchase_id="purchase.id",
        source="FROM debit, purchase",
    )}
    SELECT id, purchase_id, created_at, updated_at, NULL, NULL
    FROM new_order"""

_SMALL_ORDER_SQL = f"""
    WITH {_DEBIT},
    {_order_and_entry(
        status=Order.Status.PENDING,
        purchase_id="NULL::bigint",
        source="FROM debit",
    )},
    pooled AS (
        INSERT INTO {table(Pool)} (crypto_id, pending_total, waiting_since)
        SELECT %(crypto)s, %(total)s, now() FROM debit
        ON CONFLICT (crypto_id) DO UPDATE
        SET pending_total = {table(Pool)}.pending_total
                            + EXCLUDED.pending_total,
            waiting_since = LEAST(
                {table(Pool)}.waiting_since, EXCLUDED.waiting_since)
        RETURNING pending_total, waiting_since
    )
    SELECT id, purchase_id, created_at, updated_at, pooled.pending_total,
           pooled.waiting_since
    FROM new_order, pooled"""

_ORDER_PARAMS = [
    ("customer_id", "bigint"),
    ("crypto", "varchar"),
    ("amount", "numeric"),
    ("price", "numeric"),
    ("total", "numeric"),
    ("actor_user_id", "bigint"),
    ("actor_token_id", "bigint"),
]
_LARGE_ORDER = PreparedStatement(
    "order_large",
    _LARGE_ORDER_SQL,
    [*_ORDER_PARAMS, ("client_order_id", "uuid")],
)
_SMALL_ORDER = PreparedStatement(
    "order_small", _SMALL_ORDER_SQL, _ORDER_PARAMS
)


@dataclass(frozen=True)
class WrittenOrder:
    """What an order's statement wrote; the pool's state as the
    statement left it, for a pooled order."""

    id: int
    purchase_id: int | None
    created_at: datetime
    updated_at: datetime
    pool_pending: Decimal | None = None
    pool_waiting_since: datetime | None = None


def _order_write(statement, *, crypto, actor, **values):
    row = statement.fetchone(
        crypto=crypto.pk,
        price=crypto.price,
        actor_user_id=actor.user_id,
        actor_token_id=actor.token_id,
        **values,
    )
    return None if row is None else WrittenOrder(*row)


def order_write_large(
    *,
    customer_id: int,
    crypto: Crypto,
    amount: Decimal,
    total: Decimal,
    client_order_id,
    actor: Actor = SERVICE,
) -> WrittenOrder | None:
    """Debit ``total`` at the quoted price and write the order with a
    purchase of its own (queued); None (nothing written) when the
    customer is unknown or short, or the price moved."""
    return _order_write(
        _LARGE_ORDER,
        customer_id=customer_id,
        crypto=crypto,
        amount=amount,
        total=total,
        client_order_id=client_order_id,
        actor=actor,
    )


def order_write_small(
    *,
    customer_id: int,
    crypto: Crypto,
    amount: Decimal,
    total: Decimal,
    actor: Actor = SERVICE,
) -> WrittenOrder | None:
    """Debit ``total`` and write the order as pending, its total added
    to its crypto's pool (made if the crypto has none); None as for
    ``order_write_large``."""
    return _order_write(
        _SMALL_ORDER,
        customer_id=customer_id,
        crypto=crypto,
        amount=amount,
        total=total,
        actor=actor,
    )


# -- A pool's flush into one purchase ---------------------------------
#
# Every pending order of a crypto into one new purchase, if the pool
# with the house's share (zero but for the bounded wait's flush) holds
# at least the threshold: the orders (locked), the purchase of their
# sums and the house's share, the orders moved into it, and the pool
# emptied of exactly what was taken. "Holds" is what the orders are
# worth, each at its own price (the house's share at today's), not the
# sum of totals that each order rounded up to the cent: 500 orders
# charged $0.02 for $0.01 of crypto each are $10.00 of totals and $5 of
# crypto, under the exchange's minimum.

_FLUSH_SOURCE = f"""FROM pending HAVING COUNT(*) > 0
          AND SUM(amount * price) + %(house_amount)s * (
              SELECT price FROM {table(Crypto)} WHERE symbol = %(crypto)s)
              >= %(threshold)s"""
_FLUSH_SQL = f"""
    WITH pending AS (
        SELECT id, amount, price, total FROM {table(Order)}
        WHERE crypto_id = %(crypto)s
          AND status = {text(Order.Status.PENDING)}
          AND EXISTS (
              SELECT 1 FROM {table(Pool)}
              WHERE crypto_id = %(crypto)s
                AND pending_total + %(house_total)s >= %(threshold)s)
        FOR UPDATE
    ),
    purchase AS ({_purchase_insert(
        amount="SUM(amount) + %(house_amount)s",
        total="SUM(total) + %(house_total)s",
        house_amount="%(house_amount)s",
        house_total="%(house_total)s",
        source=_FLUSH_SOURCE,
    )}),
    moved AS (
        UPDATE {table(Order)} o
        SET status = {text(Order.Status.SUBMITTED)},
            purchase_id = purchase.id, updated_at = now()
        FROM purchase, pending
        WHERE o.id = pending.id
    ),
    pooled AS (
        UPDATE {table(Pool)}
        SET pending_total = pending_total
                            - (purchase.total - %(house_total)s),
            waiting_since = NULL
        FROM purchase
        WHERE crypto_id = %(crypto)s
    )
    SELECT id FROM purchase
"""
# The pool's row is locked first, by a statement of its own sent in the
# same message (one round trip for both, one transaction).
_POOL_FLUSH = PreparedStatement(
    "pool_flush",
    _FLUSH_SQL,
    [
        ("crypto", "varchar"),
        ("threshold", "numeric"),
        ("client_order_id", "uuid"),
        ("house_amount", "numeric"),
        ("house_total", "numeric"),
    ],
    prelude=f"SELECT 1 FROM {table(Pool)} WHERE crypto_id = %(crypto)s "
    "FOR UPDATE",
)


def pool_flush(
    *,
    crypto_id: str,
    threshold: Decimal,
    client_order_id,
    house_amount: Decimal = ZERO,
    house_total: Decimal = ZERO,
) -> int | None:
    """Every pending order of the crypto into one purchase if the pool
    (with the house's share) holds ``threshold``: the purchase's id, or
    None when it does not (nothing written). The house's share is
    debited by the caller, in the same transaction (``house_top_up``).

    The pool's row is locked first, so no other flush of the crypto
    runs at the same time and no order is added meanwhile; the flush's
    snapshot, taken after the lock, sees exactly the orders whose
    totals the pool counts.
    """
    row = _POOL_FLUSH.fetchone(
        crypto=crypto_id,
        threshold=threshold,
        client_order_id=client_order_id,
        house_amount=house_amount,
        house_total=house_total,
    )
    return None if row is None else row[0]


def pool_take_back(*, order: Order) -> None:
    """A cancelled order's total out of its pool, which then waits
    since its oldest remaining order. The caller holds the pool's lock
    and has marked the order cancelled."""
    oldest = Order.objects.filter(
        crypto_id=order.crypto_id, status=Order.Status.PENDING
    ).aggregate(oldest=Min("created_at"))["oldest"]
    Pool.objects.filter(crypto_id=order.crypto_id).update(
        pending_total=F("pending_total") - order.total, waiting_since=oldest
    )


def purchases_merge(*, into: Purchase, absorbed: list[Purchase]) -> None:
    """Fresh purchases of one crypto made into one exchange call:
    ``into`` takes each absorbed purchase's amount, total and orders,
    and the absorbed rows go. No balance moves; a purchase's total stays
    the sum of its orders' (``ledger.audit`` checks it). The caller
    holds every row's lock."""
    ids = [purchase.pk for purchase in absorbed]
    into.amount += sum(purchase.amount for purchase in absorbed)
    into.total += sum(purchase.total for purchase in absorbed)
    Order.objects.filter(purchase_id__in=ids).update(
        purchase=into, updated_at=Now()
    )
    Purchase.objects.filter(pk__in=ids).delete()
    Purchase.objects.filter(pk=into.pk).update(
        amount=into.amount, total=into.total
    )


# -- Customers ---------------------------------------------------------


def _returned(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _entry(**fields) -> LedgerEntry:
    return LedgerEntry.objects.create(**fields)


def balance_credit(
    *, customer_id: int, amount: Decimal, cap: Decimal = MAX_BALANCE
) -> Decimal:
    """Add ``amount`` to the balance, refusing a balance above ``cap``
    (by default what the column can hold); the new balance. The caller
    writes the ledger entry, in the same transaction."""
    require_money(amount)
    balance = _returned(
        f"UPDATE {table(Customer)} SET balance = balance + %s "
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


def customer_open(
    *, user, name: str, balance: Decimal, actor: Actor = SERVICE
) -> Customer:
    """A new customer of ``user`` with its opening balance and, if any,
    its deposit entry, in the caller's transaction."""
    customer = Customer.objects.create(user=user, name=name, balance=balance)
    if balance > 0:
        _entry(
            customer=customer,
            kind=LedgerEntry.Kind.DEPOSIT,
            amount=balance,
            balance_after=balance,
            **actor.fields(),
        )
    return customer


def _open_orders_total(customer_id) -> Decimal:
    """What the customer's unfinished orders may still bring back."""
    return Order.objects.filter(
        customer_id=customer_id,
        status__in=[Order.Status.PENDING, Order.Status.SUBMITTED],
    ).aggregate(total=Sum("total"))["total"] or Decimal(0)


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
    if not Customer.objects.select_for_update().filter(pk=customer_id):
        raise NotFound("No such customer.")
    room = MAX_BALANCE - _open_orders_total(customer_id)
    balance = balance_credit(customer_id=customer_id, amount=amount, cap=room)
    _entry(
        customer_id=customer_id,
        kind=LedgerEntry.Kind.DEPOSIT,
        amount=amount,
        balance_after=balance,
        **actor.fields(),
    )
    return Customer.objects.get(pk=customer_id)


def order_refund(*, order: Order, actor: Actor = SERVICE) -> Decimal:
    """Give a cancelled or failed order's total back, with its refund
    entry, in the caller's transaction; the customer's new balance.
    Deposits keep room for it, so it always fits."""
    balance = balance_credit(customer_id=order.customer_id, amount=order.total)
    _entry(
        customer_id=order.customer_id,
        kind=LedgerEntry.Kind.REFUND,
        amount=order.total,
        balance_after=balance,
        order=order,
        **actor.fields(),
    )
    return balance


# -- The house ---------------------------------------------------------


def house_ensure() -> None:
    """The house's row, made if missing (the migration makes it; a test
    database flushed between tests does not keep it)."""
    House.objects.get_or_create(pk=House.ID)


def _house_entry(**fields) -> HouseLedgerEntry:
    return HouseLedgerEntry.objects.create(**fields)


def _house_open_shares_total() -> Decimal:
    """What the house's shares of unfinished purchases may still bring
    back as refunds."""
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
    balance = _returned(
        f"UPDATE {table(House)} SET balance = balance + %s "
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
    _house_entry(
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
    balance = _returned(
        f"UPDATE {table(House)} SET balance = balance - %s "
        "WHERE id = %s AND balance >= %s RETURNING balance",
        [amount, House.ID, amount],
    )
    if balance is not None:
        _house_entry(
            kind=HouseLedgerEntry.Kind.HOUSE_TOP_UP,
            amount=-amount,
            balance_after=balance,
            purchase_id=purchase_id,
        )
    return balance


def house_refund(*, purchase: Purchase) -> Decimal:
    """Give the house its share of a failed purchase back, in the
    caller's transaction. Deposits keep room for it, so it always fits."""
    require_money(purchase.house_total)
    balance = _returned(
        f"UPDATE {table(House)} SET balance = balance + %s "
        "WHERE id = %s RETURNING balance",
        [purchase.house_total, House.ID],
    )
    _house_entry(
        kind=HouseLedgerEntry.Kind.REFUND,
        amount=purchase.house_total,
        balance_after=balance,
        purchase_id=purchase.pk,
    )
    return balance


def house_holding_add(*, purchase: Purchase) -> None:
    """The house's share of a completed purchase, added to what it
    holds of the crypto, in the caller's transaction."""
    holdings = table(HouseHolding)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {holdings} (crypto_id, amount, spent) "
            "VALUES (%s, %s, %s) ON CONFLICT (crypto_id) DO UPDATE SET "
            f"amount = {holdings}.amount + EXCLUDED.amount, "
            f"spent = {holdings}.spent + EXCLUDED.spent",
            [purchase.crypto_id, purchase.house_amount, purchase.house_total],
        )
