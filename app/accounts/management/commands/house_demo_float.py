"""Fund a house that was never funded with a demo float (make run)."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from accounts.models import HouseLedgerEntry
from ledger.movements import house_deposit, house_ensure


class Command(BaseCommand):
    help = (
        "Deposit a demo float into the house, so that the bounded wait "
        "can top up a pool, unless the house has ever been funded (a "
        "deposit in its ledger): an operator's own funding, or a float "
        "spent down, is left as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument("--amount", type=Decimal, default=Decimal(100))

    def handle(self, *args, amount, **options):
        house_ensure()
        if HouseLedgerEntry.objects.filter(
            kind=HouseLedgerEntry.Kind.DEPOSIT
        ).exists():
            self.stdout.write("The house is funded already; left as it is.")
            return
        house = house_deposit(amount=amount)
        self.stdout.write(f"The house is funded with a float of {amount}.")
        self.stdout.write(f"balance: {house.balance}")
