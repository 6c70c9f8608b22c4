"""The bench database's state, through the app's models: a clean slate,
the listed cryptos, every customer's balance reset before a phase, and
the 'big' phase's history of completed orders.

Import it after ``database.setup_django``."""

import io
import uuid
from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import (
    ApiToken,
    Customer,
    House,
    HouseHolding,
    HouseLedgerEntry,
    LedgerEntry,
)
from bench.workload import (
    HISTORY,
    HISTORY_ORDERS_PER_PURCHASE,
    PRICES,
    order_total,
)
from core.money import MAX_BALANCE
from exchange.models import SimulatedExchangeOrder
from orders.models import Crypto, Order, Pool, Purchase

NULL = r"\N"
# Rows per COPY statement of the history, so that no statement's text
# holds a million rows in memory.
COPY_BATCH = 50_000


def service_models():
    """The models the order flow writes: every model of the orders,
    exchange and core apps but the listed cryptos and their pools (new
    models of those apps are reset too)."""
    keep = {Crypto, Pool}
    return [
        model
        for label in ("orders", "exchange", "core")
        for model in apps.get_app_config(label).get_models(
            include_auto_created=True
        )
        if model not in keep
    ]


def _truncate(models):
    tables = [model._meta.db_table for model in models]
    statements = connection.ops.sql_flush(
        no_style(), tables, reset_sequences=True, allow_cascade=True
    )
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _analyze(models):
    quote = connection.ops.quote_name
    tables = ", ".join(quote(model._meta.db_table) for model in models)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def _empty_pools_and_house():
    Pool.objects.update(pending_total=0, waiting_since=None)
    House.objects.update(balance=0)


def wipe_everyone():
    """No customer, no operator, no order: a clean slate."""
    _truncate(
        [
            get_user_model(),
            LedgerEntry,
            ApiToken,
            Customer,
            *service_models(),
            HouseLedgerEntry,
            HouseHolding,
        ]
    )
    _empty_pools_and_house()


def ensure_cryptos():
    """The bench's cryptos listed at its fixed prices, each with a pool."""
    for symbol, (name, price) in PRICES.items():
        Crypto.objects.update_or_create(
            symbol=symbol,
            defaults={"price": price},
            create_defaults={"name": name, "price": price},
        )
    Pool.objects.bulk_create(
        [
            Pool(crypto_id=symbol)
            for symbol in Crypto.objects.values_list("symbol", flat=True)
        ],
        ignore_conflicts=True,
    )


def reset():
    """Orders, purchases, exchange calls, idempotency records and the
    ledger emptied; every customer back to the largest balance with
    one deposit, so the audit holds and no order lacks funds."""
    _truncate([LedgerEntry, *service_models(), HouseLedgerEntry, HouseHolding])
    _empty_pools_and_house()
    Customer.objects.update(balance=MAX_BALANCE)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            customer_id=customer_id,
            kind=LedgerEntry.Kind.DEPOSIT,
            amount=MAX_BALANCE,
            balance_after=MAX_BALANCE,
        )
        for customer_id in Customer.objects.order_by("id").values_list(
            "id", flat=True
        )
    )
    # Statistics for the customers only. An emptied table is left
    # unanalyzed: statistics of an empty table make the planner
    # choose sequential scans, and the plans of the foreign-key
    # checks, cached per connection, would keep scanning the whole
    # table as it grows for the rest of the phase (a fresh table in
    # production is analyzed again as it grows).
    _analyze([Customer])


def _copy(cursor, model, fields, rows):
    """COPY ``rows`` (tuples of text, in the order of ``fields``) into
    ``model``'s table; the table's and columns' names come from its
    _meta. Used where bulk_create would not do: the history's rows carry
    their own timestamps, which auto_now and auto_now_add overwrite."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(quote(meta.get_field(f).column) for f in fields)
    text = "".join("\t".join(row) + "\n" for row in rows)
    cursor.copy_expert(
        f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN",
        io.StringIO(text),
    )


def _batches(rows):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == COPY_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def seed_history(count):
    """``count`` completed orders, ten of one crypto to a completed
    purchase, over the last 30 days and over the customers, with their
    debits (each carrying the running balance), the customers' balances
    lowered to match and the simulated exchange's fills: what the audit
    expects of real history. Foreign-key triggers are off when the
    database role may turn them off."""
    group = HISTORY_ORDERS_PER_PURCHASE
    purchases = count // group
    count = purchases * group
    if not count:
        return {"orders": 0, "purchases": 0}
    step = timedelta(seconds=30 * 86400 / count)
    start = timezone.now() - timedelta(days=30)
    fill = timedelta(seconds=5)
    mix = [
        (
            symbol,
            Decimal(amount),
            PRICES[symbol][1],
            order_total(symbol, amount),
        )
        for symbol, amount in HISTORY
    ]
    balances = dict(
        Customer.objects.order_by("id").values_list("id", "balance")
    )
    customers = list(balances)
    completed = Purchase.Status.COMPLETED.value
    order_done = Order.Status.COMPLETED.value
    debit = LedgerEntry.Kind.ORDER.value

    def purchase_rows():
        """(the purchase, the simulated exchange's fill of it)."""
        for p in range(1, purchases + 1):
            symbol, amount, _price, total = mix[p % len(mix)]
            at = (start + p * group * step).isoformat()
            done = (start + p * group * step + fill).isoformat()
            bought, client_order_id = str(amount * group), str(uuid.uuid4())
            yield (
                (str(p), symbol, bought, str(total * group), completed)
                + (client_order_id, "1", "", "", at, at, done, done),
                (client_order_id, symbol, bought, "1", done, at),
            )

    def order_rows():
        for o in range(1, count + 1):
            p = (o - 1) // group + 1
            symbol, amount, price, total = mix[p % len(mix)]
            customer = customers[(o - 1) % len(customers)]
            balances[customer] -= total
            created = (start + o * step).isoformat()
            updated = (start + p * group * step + fill).isoformat()
            yield (
                (str(o), str(customer), symbol, str(amount), str(price))
                + (str(total), order_done, str(p), created, updated),
                (str(customer), debit, str(-total))
                + (str(balances[customer]), str(o), created),
            )

    purchase_fields = ["id", "crypto", "amount", "total", "status"]
    purchase_fields += ["client_order_id", "attempts", "lease_owner"]
    purchase_fields += ["last_error", "enqueued_at", "created_at"]
    purchase_fields += ["updated_at", "completed_at"]
    order_fields = ["id", "customer", "crypto", "amount", "price", "total"]
    order_fields += ["status", "purchase", "created_at", "updated_at"]
    debit_fields = ["customer", "kind", "amount", "balance_after"]
    debit_fields += ["order", "created_at"]
    fill_fields = ["client_order_id", "crypto", "amount", "calls"]
    fill_fields += ["filled_at", "created_at"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        if cursor.fetchone()[0]:
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SET LOCAL synchronous_commit = off")
        for batch in _batches(purchase_rows()):
            _copy(cursor, Purchase, purchase_fields, [r for r, _ in batch])
            fills = [row for _, row in batch]
            _copy(cursor, SimulatedExchangeOrder, fill_fields, fills)
        for batch in _batches(order_rows()):
            _copy(cursor, Order, order_fields, [row for row, _ in batch])
            _copy(cursor, LedgerEntry, debit_fields, [row for _, row in batch])
        Customer.objects.bulk_update(
            [Customer(id=pk, balance=b) for pk, b in balances.items()],
            ["balance"],
            batch_size=1000,
        )
        for sql in connection.ops.sequence_reset_sql(
            no_style(), [Order, Purchase]
        ):
            cursor.execute(sql)
    _analyze([Order, Purchase, LedgerEntry, Customer, SimulatedExchangeOrder])
    return {"orders": count, "purchases": purchases}
