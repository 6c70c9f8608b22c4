"""Writes to customers and their credentials.

Money moves in ``ledger.movements`` (a new customer's opening deposit
too). Each credential created or revoked records its ``Actor``.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.actors import SERVICE, Actor
from accounts.authentication import token_digest, token_generate
from accounts.models import ApiToken, CredentialEvent, Customer
from core.errors import InvalidInput, NotFound
from core.money import MAX_BALANCE
from ledger import movements

User = get_user_model()


@dataclass(frozen=True)
class CreatedCustomer:
    customer: Customer
    api_key: str


def _api_token_create(*, user, prefix, kind, actor) -> str:
    """A new token of ``user``, recorded as a ``kind`` event by
    ``actor``; the plain key, shown once."""
    raw_key = token_generate(prefix)
    token = ApiToken.objects.create(
        user=user, digest=token_digest(raw_key), prefix=raw_key[:10]
    )
    CredentialEvent.objects.create(
        kind=kind, subject=user, token=token, **actor.fields()
    )
    return raw_key


@transaction.atomic
def customer_create(
    *, name: str, balance: Decimal | None = None, actor: Actor = SERVICE
) -> CreatedCustomer:
    """A customer with its opening deposit and a one-time API key."""
    opening = settings.DEFAULT_CUSTOMER_BALANCE if balance is None else balance
    if not isinstance(opening, Decimal) or opening < 0:
        raise InvalidInput(details={"balance": ["Must be zero or more."]})
    if opening > MAX_BALANCE:
        raise InvalidInput(
            details={"balance": [f"Must be at most {MAX_BALANCE}."]}
        )
    user = User(username=f"customer-{uuid.uuid4().hex}")
    user.set_unusable_password()
    user.save()
    customer = movements.customer_open(
        user=user, name=name, balance=opening, actor=actor
    )
    api_key = _api_token_create(
        user=user,
        prefix="ck",
        kind=CredentialEvent.Kind.CUSTOMER_KEY_CREATED,
        actor=actor,
    )
    return CreatedCustomer(customer=customer, api_key=api_key)


def _customer_locked(customer_id):
    customer = (
        Customer.objects.select_for_update().filter(pk=customer_id).first()
    )
    if customer is None:
        raise NotFound("No such customer.")
    return customer


def _api_tokens_revoke(*, user_id) -> int:
    return ApiToken.objects.filter(
        user_id=user_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())


@transaction.atomic
def customer_key_rotate(
    *, customer_id: int, actor: Actor = SERVICE
) -> CreatedCustomer:
    """Revoke every key of the customer and issue a new one."""
    customer = _customer_locked(customer_id)
    _api_tokens_revoke(user_id=customer.user_id)
    api_key = _api_token_create(
        user=customer.user,
        prefix="ck",
        kind=CredentialEvent.Kind.CUSTOMER_KEY_ROTATED,
        actor=actor,
    )
    return CreatedCustomer(customer=customer, api_key=api_key)


@transaction.atomic
def customer_keys_revoke(*, customer_id: int, actor: Actor = SERVICE) -> int:
    """Revoke every key of the customer, issuing none: it is locked out
    until an operator rotates its key. How many keys were live."""
    customer = _customer_locked(customer_id)
    revoked = _api_tokens_revoke(user_id=customer.user_id)
    CredentialEvent.objects.create(
        kind=CredentialEvent.Kind.CUSTOMER_KEYS_REVOKED,
        subject_id=customer.user_id,
        **actor.fields(),
    )
    return revoked


@transaction.atomic
def api_token_revoke(*, token_id: int, actor: Actor = SERVICE) -> bool:
    """Revoke one token (the one a request came with); False if it was
    revoked already."""
    token = ApiToken.objects.filter(pk=token_id).first()
    revoked = ApiToken.objects.filter(
        pk=token_id, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if revoked:
        CredentialEvent.objects.create(
            kind=CredentialEvent.Kind.TOKEN_REVOKED,
            subject_id=token.user_id,
            token_id=token_id,
            **actor.fields(),
        )
    return bool(revoked)


@transaction.atomic
def operator_token_issue(*, user) -> str:
    """A new token for a staff user who has proven their password: the
    operator is its own actor."""
    return _api_token_create(
        user=user,
        prefix="op",
        kind=CredentialEvent.Kind.OPERATOR_TOKEN_ISSUED,
        actor=Actor(user_id=user.pk),
    )
