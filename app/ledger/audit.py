"""The books, checked: every money invariant of docs/api.md as one SQL
query.

Each check returns the rows that break it (none when the books are
right). The queries are set-based, so an audit of a million orders is a
few scans, not a loop. Tables and status values are named from the
models (``{order}``, ``{order_failed}``, ...).
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from accounts.models import (
    Customer,
    House,
    HouseHolding,
    HouseLedgerEntry,
    LedgerEntry,
)
from core.sql import table, text
from exchange.models import SimulatedExchangeOrder
from orders.models import Crypto, Order, Pool, Purchase


def _names() -> dict[str, str]:
    names = {
        "customer": table(Customer),
        "ledger": table(LedgerEntry),
        "house": table(House),
        "house_ledger": table(HouseLedgerEntry),
        "house_holding": table(HouseHolding),
        "crypto": table(Crypto),
        "order": table(Order),
        "purchase": table(Purchase),
        "pool": table(Pool),
        "exchange_order": table(SimulatedExchangeOrder),
    }
    for prefix, choices in (
        ("order", Order.Status),
        ("purchase", Purchase.Status),
        ("ledger", LedgerEntry.Kind),
        ("house_ledger", HouseLedgerEntry.Kind),
    ):
        for member in choices:
            names[f"{prefix}_{member.name.lower()}"] = text(member.value)
    return names


NAMES = _names()


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    sql: str

    def __post_init__(self):
        object.__setattr__(self, "sql", self.sql.format(**NAMES))


CHECKS = [
    Check(
        "balance_equals_ledger",
        "a customer's balance equals the sum of its ledger entries",
        """
        SELECT c.id, c.balance, COALESCE(SUM(l.amount), 0) AS ledger_sum
        FROM {customer} c
        LEFT JOIN {ledger} l ON l.customer_id = c.id
        GROUP BY c.id, c.balance
        HAVING c.balance <> COALESCE(SUM(l.amount), 0)
        """,
    ),
    Check(
        "balance_not_negative",
        "no balance is below zero",
        "SELECT id, balance FROM {customer} WHERE balance < 0",
    ),
    Check(
        "latest_entry_matches_balance",
        "the newest ledger entry's balance_after is the balance",
        """
        SELECT c.id, c.balance, l.balance_after
        FROM {customer} c
        JOIN LATERAL (
            SELECT balance_after FROM {ledger}
            WHERE customer_id = c.id ORDER BY id DESC LIMIT 1
        ) l ON TRUE
        WHERE l.balance_after <> c.balance
        """,
    ),
    Check(
        "deposits_equal_balance_plus_orders",
        "deposits equal balance plus the totals of orders not refunded",
        """
        SELECT c.id, d.deposits, c.balance, o.spent
        FROM {customer} c
        LEFT JOIN (
            SELECT customer_id, SUM(amount) AS deposits
            FROM {ledger} WHERE kind = {ledger_deposit}
            GROUP BY customer_id
        ) d ON d.customer_id = c.id
        LEFT JOIN (
            SELECT customer_id, SUM(total) AS spent
            FROM {order}
            WHERE status NOT IN ({order_failed}, {order_cancelled})
            GROUP BY customer_id
        ) o ON o.customer_id = c.id
        WHERE COALESCE(d.deposits, 0)
              <> c.balance + COALESCE(o.spent, 0)
        """,
    ),
    Check(
        "order_debited_once",
        "every order has exactly one debit entry of minus its total",
        """
        SELECT o.id, o.total, COUNT(l.id) AS entries, SUM(l.amount)
        FROM {order} o
        LEFT JOIN {ledger} l
               ON l.order_id = o.id AND l.kind = {ledger_order}
        GROUP BY o.id, o.total
        HAVING COUNT(l.id) <> 1 OR SUM(l.amount) <> -o.total
        """,
    ),
    Check(
        "refund_only_for_failed_or_cancelled",
        "failed and cancelled orders have one refund of their total; "
        "others have none",
        """
        SELECT o.id, o.status, o.total, COUNT(l.id), SUM(l.amount)
        FROM {order} o
        LEFT JOIN {ledger} l
               ON l.order_id = o.id AND l.kind = {ledger_refund}
        GROUP BY o.id, o.status, o.total
        HAVING (o.status IN ({order_failed}, {order_cancelled})
                AND (COUNT(l.id) <> 1 OR SUM(l.amount) <> o.total))
            OR (o.status NOT IN ({order_failed}, {order_cancelled})
                AND COUNT(l.id) <> 0)
        """,
    ),
    Check(
        "entry_customer_matches_order",
        "an order's ledger entries belong to the order's customer",
        """
        SELECT l.id, l.customer_id, o.customer_id
        FROM {ledger} l
        JOIN {order} o ON o.id = l.order_id
        WHERE l.customer_id <> o.customer_id
        """,
    ),
    Check(
        "purchase_sums_its_orders",
        "a purchase's total and amount are the sums of its orders' and "
        "the house's share",
        """
        SELECT p.id, p.total, SUM(o.total), p.house_total,
               p.amount, SUM(o.amount), p.house_amount
        FROM {purchase} p
        LEFT JOIN {order} o ON o.purchase_id = p.id
        GROUP BY p.id, p.total, p.amount, p.house_total, p.house_amount
        HAVING COUNT(o.id) = 0
            OR p.total <> SUM(o.total) + p.house_total
            OR p.amount <> SUM(o.amount) + p.house_amount
        """,
    ),
    Check(
        "purchase_at_least_threshold",
        "every purchase is at least PURCHASE_THRESHOLD",
        "SELECT id, total FROM {purchase} WHERE total < %(threshold)s",
    ),
    Check(
        "purchase_one_crypto",
        "a purchase's orders are all of the purchase's crypto",
        """
        SELECT p.id, p.crypto_id, o.id, o.crypto_id
        FROM {purchase} p JOIN {order} o ON o.purchase_id = p.id
        WHERE o.crypto_id <> p.crypto_id
        """,
    ),
    Check(
        "states_agree",
        "orders follow their purchase: queued or in flight -> submitted, "
        "completed -> completed, failed -> failed; pending or cancelled "
        "-> no purchase",
        """
        SELECT o.id, o.status, p.id, p.status
        FROM {order} o
        LEFT JOIN {purchase} p ON p.id = o.purchase_id
        WHERE (p.id IS NULL
               AND o.status NOT IN ({order_pending}, {order_cancelled}))
           OR (p.id IS NOT NULL AND NOT (
                (p.status IN ({purchase_queued}, {purchase_in_flight})
                    AND o.status = {order_submitted})
             OR (p.status = {purchase_completed}
                 AND o.status = {order_completed})
             OR (p.status = {purchase_failed} AND o.status = {order_failed})))
        """,
    ),
    Check(
        "pool_matches_pending",
        "a pool's running total is the sum of its pending orders",
        """
        SELECT c.symbol, COALESCE(pl.pending_total, 0), COALESCE(o.s, 0)
        FROM {crypto} c
        LEFT JOIN {pool} pl ON pl.crypto_id = c.symbol
        LEFT JOIN (
            SELECT crypto_id, SUM(total) AS s FROM {order}
            WHERE status = {order_pending} GROUP BY crypto_id
        ) o ON o.crypto_id = c.symbol
        WHERE COALESCE(pl.pending_total, 0) <> COALESCE(o.s, 0)
        """,
    ),
    Check(
        "pool_waits_since_oldest_order",
        "a pool waits since its oldest pending order (and an empty pool "
        "waits for nothing)",
        """
        SELECT pl.crypto_id, pl.waiting_since, o.oldest
        FROM {pool} pl
        LEFT JOIN (
            SELECT crypto_id, MIN(created_at) AS oldest FROM {order}
            WHERE status = {order_pending} GROUP BY crypto_id
        ) o ON o.crypto_id = pl.crypto_id
        WHERE pl.waiting_since IS DISTINCT FROM o.oldest
        """,
    ),
    Check(
        "house_balance_equals_ledger",
        "the house's balance equals the sum of its ledger entries, and "
        "its newest entry's balance_after is the balance",
        """
        SELECT h.id, h.balance, COALESCE(SUM(l.amount), 0),
               (SELECT balance_after FROM {house_ledger}
                ORDER BY id DESC LIMIT 1)
        FROM {house} h
        LEFT JOIN {house_ledger} l ON TRUE
        GROUP BY h.id, h.balance
        HAVING h.balance <> COALESCE(SUM(l.amount), 0)
            OR h.balance <> COALESCE((
                SELECT balance_after FROM {house_ledger}
                ORDER BY id DESC LIMIT 1), 0)
        """,
    ),
    Check(
        "house_deposits_equal_balance_plus_shares",
        "the house's deposits equal its balance plus its shares of "
        "purchases not failed",
        """
        SELECT d.deposits, h.balance, s.shares
        FROM (SELECT COALESCE(SUM(amount), 0) AS deposits
              FROM {house_ledger} WHERE kind = {house_ledger_deposit}) d,
             (SELECT COALESCE(SUM(balance), 0) AS balance
              FROM {house}) h,
             (SELECT COALESCE(SUM(house_total), 0) AS shares
              FROM {purchase} WHERE status <> {purchase_failed}) s
        WHERE d.deposits <> h.balance + s.shares
        """,
    ),
    Check(
        "house_share_paid_once",
        "a purchase with a house share has one top-up of minus that "
        "share, and one refund of it if it failed; no other purchase has "
        "house entries",
        """
        SELECT p.id, p.status, p.house_total, t.n, t.s, r.n, r.s
        FROM {purchase} p
        LEFT JOIN (
            SELECT purchase_id, COUNT(*) AS n, SUM(amount) AS s
            FROM {house_ledger} WHERE kind = {house_ledger_house_top_up}
            GROUP BY purchase_id
        ) t ON t.purchase_id = p.id
        LEFT JOIN (
            SELECT purchase_id, COUNT(*) AS n, SUM(amount) AS s
            FROM {house_ledger} WHERE kind = {house_ledger_refund}
            GROUP BY purchase_id
        ) r ON r.purchase_id = p.id
        WHERE (p.house_total = 0 AND (t.n IS NOT NULL OR r.n IS NOT NULL))
           OR (p.house_total > 0
               AND (t.n IS DISTINCT FROM 1 OR t.s <> -p.house_total))
           OR (p.house_total > 0 AND p.status = {purchase_failed}
               AND (r.n IS DISTINCT FROM 1 OR r.s <> p.house_total))
           OR (p.house_total > 0 AND p.status <> {purchase_failed}
               AND r.n IS NOT NULL)
        """,
    ),
    Check(
        "house_holdings_are_its_completed_shares",
        "what the house holds of a crypto is the sum of its shares of "
        "completed purchases",
        """
        SELECT COALESCE(h.crypto_id, p.crypto_id), h.amount, p.amount,
               h.spent, p.spent
        FROM {house_holding} h
        FULL JOIN (
            SELECT crypto_id, SUM(house_amount) AS amount,
                   SUM(house_total) AS spent
            FROM {purchase}
            WHERE status = {purchase_completed} AND house_total > 0
            GROUP BY crypto_id
        ) p ON p.crypto_id = h.crypto_id
        WHERE COALESCE(h.amount, 0) <> COALESCE(p.amount, 0)
           OR COALESCE(h.spent, 0) <> COALESCE(p.spent, 0)
        """,
    ),
    Check(
        "pool_below_threshold",
        "no pool's pending orders are worth a purchase, each at its own "
        "price, as a flush counts them (under load a pool is full for the "
        "moment between the order that fills it and its flush; the "
        "sweeper flushes one left full within a second)",
        """
        SELECT crypto_id, SUM(amount * price) FROM {order}
        WHERE status = {order_pending}
        GROUP BY crypto_id
        HAVING SUM(amount * price) >= %(threshold)s
        """,
    ),
]

SIMULATED_EXCHANGE_CHECKS = [
    Check(
        "completed_filled_once",
        "every completed purchase was filled at the exchange, once, for "
        "its amount; no failed purchase was filled",
        """
        SELECT p.id, p.status, p.amount, x.amount, x.filled_at
        FROM {purchase} p
        LEFT JOIN {exchange_order} x
               ON x.client_order_id = p.client_order_id
        WHERE (p.status = {purchase_completed}
               AND (x.filled_at IS NULL OR x.amount <> p.amount))
           OR (p.status = {purchase_failed} AND x.filled_at IS NOT NULL)
        """,
    ),
]


@dataclass(frozen=True)
class Finding:
    check: Check
    rows: list


def audit() -> list[Finding]:
    """Every broken invariant with up to 20 of its offending rows."""
    checks = list(CHECKS)
    if settings.EXCHANGE_CLIENT.startswith("exchange.simulated."):
        checks += SIMULATED_EXCHANGE_CHECKS
    params = {"threshold": settings.PURCHASE_THRESHOLD}
    findings = []
    with connection.cursor() as cursor:
        for check in checks:
            uses_params = "%(" in check.sql
            cursor.execute(
                f"{check.sql} LIMIT 20", params if uses_params else None
            )
            rows = cursor.fetchall()
            if rows:
                findings.append(Finding(check, rows))
    return findings
