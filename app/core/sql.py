"""Names for hand-written SQL, taken from the models.

The hot statements of ``ledger.movements`` and the checks of
``ledger.audit`` are SQL that the ORM cannot write (one statement per
order, set-based checks). Their table names, columns and status values
come from here, so a renamed column or a new status is one model edit.
"""

from django.db import models


def table(model: type[models.Model]) -> str:
    return model._meta.db_table


def column(model: type[models.Model], field: str) -> str:
    return model._meta.get_field(field).column


def text(value: str) -> str:
    """A string constant (a status, a kind) as an SQL literal."""
    return "'" + str(value).replace("'", "''") + "'"


def insert(
    model: type[models.Model],
    values: dict[str, str],
    *,
    source: str,
    returning: str,
) -> str:
    """``INSERT INTO <table> (...) SELECT ... <source> RETURNING ...``
    with one SQL expression per field in ``values``.

    A column the database must be given (NOT NULL, with no database
    default) and that ``values`` leaves out is an error at import, so a
    new column of the model is either given a ``db_default`` or added
    to the one statement that writes the table.
    """
    meta = model._meta
    required = {
        field.name
        for field in meta.concrete_fields
        if not field.primary_key
        and not field.null
        and field.db_default is models.NOT_PROVIDED
    }
    missing = required - values.keys()
    if missing:
        raise LookupError(
            f"INSERT INTO {meta.db_table} leaves out {sorted(missing)}"
        )
    columns = ", ".join(column(model, field) for field in values)
    expressions = ", ".join(values.values())
    return (
        f"INSERT INTO {meta.db_table} ({columns}) "
        f"SELECT {expressions} {source} RETURNING {returning}"
    )
