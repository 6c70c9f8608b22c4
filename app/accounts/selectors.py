"""Reads of accounts, scoped to who is asking: the one place that
decides which customers and ledger entries a principal may see."""

from accounts.models import Customer, LedgerEntry
from accounts.permissions import is_operator, principal_customer


def customers_visible_to(user):
    if is_operator(user):
        return Customer.objects.all()
    customer = principal_customer(user)
    if customer is None:
        return Customer.objects.none()
    return Customer.objects.filter(pk=customer.pk)


def ledger_of(customer):
    return LedgerEntry.objects.filter(customer=customer)
