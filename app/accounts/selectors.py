"""Reads of accounts, scoped to who is asking: the one place that
decides which customers and ledger entries a principal may see."""

from accounts.models import CredentialEvent, Customer, LedgerEntry
from accounts.permissions import is_operator, principal_customer
from core.filters import QueryFilters


def customers_visible_to(user):
    if is_operator(user):
        return Customer.objects.all()
    customer = principal_customer(user)
    if customer is None:
        return Customer.objects.none()
    return Customer.objects.filter(pk=customer.pk)


def ledger_of(customer):
    return LedgerEntry.objects.filter(customer=customer)


def ledger_audited(*, filters):
    """Every customer's ledger entries with their actors, for operators,
    filtered by customer, actor (a user id) and kind."""
    filters = QueryFilters(filters)
    entries = LedgerEntry.objects.select_related(
        "actor_user__customer", "actor_token"
    )
    customer = filters.id("customer")
    if customer is not None:
        entries = entries.filter(customer_id=customer)
    actor = filters.id("actor")
    if actor is not None:
        entries = entries.filter(actor_user_id=actor)
    kind = filters.choice("kind", LedgerEntry.Kind.values)
    if kind is not None:
        entries = entries.filter(kind=kind)
    filters.raise_if_bad()
    return entries.order_by("-id")


def credential_events(*, filters):
    """Credential events with their actors, for operators, filtered by
    whose credential (``subject``, a user id) and actor."""
    filters = QueryFilters(filters)
    events = CredentialEvent.objects.select_related(
        "token", "actor_user__customer", "actor_token"
    )
    subject = filters.id("subject")
    if subject is not None:
        events = events.filter(subject_id=subject)
    actor = filters.id("actor")
    if actor is not None:
        events = events.filter(actor_user_id=actor)
    filters.raise_if_bad()
    return events.order_by("-id")
