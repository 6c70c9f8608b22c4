"""``manage.py house_demo_float``: a float for a house never funded,
and nothing for one an operator funded or the bounded wait spent."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import House, HouseLedgerEntry
from ledger.movements import house_deposit

pytestmark = pytest.mark.django_db


def run():
    out = StringIO()
    call_command("house_demo_float", stdout=out)
    return out.getvalue()


def test_a_house_never_funded_gets_the_float_once(assert_books_balance):
    first = run()
    second = run()

    assert "float of 100" in first
    assert "funded already" in second
    assert House.objects.get(pk=House.ID).balance == Decimal("100.00")
    assert HouseLedgerEntry.objects.count() == 1
    assert_books_balance()


def test_a_house_an_operator_funded_is_left_alone():
    house_deposit(amount=Decimal("5.00"))

    run()

    assert House.objects.get(pk=House.ID).balance == Decimal("5.00")
