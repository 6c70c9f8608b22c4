"""Reads of accounts, scoped to who is asking: the one place that
decides which customers and ledger entries a principal may see."""

from accounts.models import CredentialEvent, Customer, LedgerEntry
from accounts.permissions import is_operator, principal_customer
from core.errors import InvalidInput


def customers_visible_to(user):
    if is_operator(user):
        return Customer.objects.all()
    customer = principal_customer(user)
    if customer is None:
        return Customer.objects.none()
    return Customer.objects.filter(pk=customer.pk)


def ledger_of(customer):
    return LedgerEntry.objects.filter(customer=customer)


def _id_filter(filters, name, errors):
    value = filters.get(name)
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > 2**63 - 1:
        errors[name] = ["Must be an id."]
        return None
    return int(value)


def ledger_audited(*, filters):
    """Every customer's ledger entries with their actors, for operators,
    filtered by customer, actor (a user id) and kind."""
    errors = {}
    entries = LedgerEntry.objects.select_related(
        "actor_user__customer", "actor_token"
    )
    customer = _id_filter(filters, "customer", errors)
    if customer is not None:
        entries = entries.filter(customer_id=customer)
    actor = _id_filter(filters, "actor", errors)
    if actor is not None:
        entries = entries.filter(actor_user_id=actor)
    kind = filters.get("kind")
    if kind:
        if kind not in LedgerEntry.Kind.values:
            errors["kind"] = [
                f"Must be one of: {', '.join(LedgerEntry.Kind.values)}."
            ]
        else:
            entries = entries.filter(kind=kind)
    if errors:
        raise InvalidInput(details=errors)
    return entries.order_by("-id")


def credential_events(*, filters):
    """Credential events with their actors, for operators, filtered by
    whose credential (``subject``, a user id) and actor."""
    errors = {}
    events = CredentialEvent.objects.select_related(
        "token", "actor_user__customer", "actor_token"
    )
    subject = _id_filter(filters, "subject", errors)
    if subject is not None:
        events = events.filter(subject_id=subject)
    actor = _id_filter(filters, "actor", errors)
    if actor is not None:
        events = events.filter(actor_user_id=actor)
    if errors:
        raise InvalidInput(details=errors)
    return events.order_by("-id")
