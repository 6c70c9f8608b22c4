"""The hand-written SQL of the ledger follows the models: a column the
database must be given cannot be left out of the one statement that
writes its table, and the audit names every status the models have."""

import pytest

from core.sql import insert, text
from ledger import audit, movements
from orders.models import Order, Purchase

# Every column of a purchase that has no database default.
PURCHASE_VALUES = {
    "crypto": "'ABAN'",
    "amount": "1",
    "total": "10",
    "status": text(Purchase.Status.QUEUED),
    "client_order_id": "gen_random_uuid()",
    "attempts": "0",
    "lease_owner": "''",
    "last_error": "''",
    "created_at": "now()",
    "updated_at": "now()",
}


def test_insert_refuses_to_leave_out_a_column_without_a_database_default():
    values = dict(PURCHASE_VALUES)
    del values["client_order_id"]
    with pytest.raises(LookupError, match="client_order_id"):
        insert(Purchase, values, source="", returning="id")


def test_insert_may_leave_out_a_column_with_a_database_default():
    sql = insert(Purchase, PURCHASE_VALUES, source="", returning="id")
    assert "house_total" not in sql
    assert sql.startswith(f"INSERT INTO {Purchase._meta.db_table} (")


def test_a_string_constant_is_quoted_for_sql():
    assert text("it's") == "'it''s'"


def test_the_order_and_flush_statements_name_the_models_tables():
    for statement in (
        movements._LARGE_ORDER,
        movements._SMALL_ORDER,
        movements._POOL_FLUSH,
    ):
        assert Order._meta.db_table in statement.prepare_sql
    assert Purchase._meta.db_table in movements._LARGE_ORDER.prepare_sql


def test_the_audit_knows_every_status_of_orders_and_purchases():
    for member in Order.Status:
        assert audit.NAMES[f"order_{member.name.lower()}"] == text(member)
    for member in Purchase.Status:
        assert audit.NAMES[f"purchase_{member.name.lower()}"] == text(member)
    assert all("{" not in check.sql for check in audit.CHECKS)
