"""``Authorization: Token <key>`` against hashed keys, in one query.

A customer's API key lasts until it is rotated or revoked. Any other
token (an operator's, from ``POST /api/token/``) also ends
``OPERATOR_TOKEN_SECONDS`` after it was issued (8 hours by default; a
working day, like an operator's browser session).
"""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from rest_framework import authentication, exceptions

from accounts.models import ApiToken, Customer
from core.prepared import PreparedStatement
from core.sql import table

User = get_user_model()

KEYWORD = "Token"


def token_digest(raw_key):
    return hashlib.sha256(raw_key.encode()).hexdigest()


def token_generate(prefix):
    """A new random key; the caller stores only its digest."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


# The token, its user and (for customers) the customer, in one indexed
# query written out: it runs on every authenticated request, where the
# ORM's query building cost more than the query.
_PRINCIPAL_SQL = f"""
    SELECT t.id, u.id, u.username, u.is_staff, u.is_superuser,
           c.id, c.name, c.balance, c.created_at
    FROM {table(ApiToken)} t
    JOIN {table(User)} u ON u.id = t.user_id AND u.is_active
    LEFT JOIN {table(Customer)} c ON c.user_id = u.id
    WHERE t.digest = %(digest)s AND t.revoked_at IS NULL
      AND (
        c.id IS NOT NULL
        OR %(lifetime)s IS NULL
        OR t.created_at > now() - make_interval(secs => %(lifetime)s)
      )
"""


def _loaded(model, **values):
    """An instance of ``model`` as Django loads one with only ``values``
    (``Model.from_db``): a field left out is deferred, and reading it
    loads it from the database, as with ``.only()``."""
    names = [
        field.attname
        for field in model._meta.concrete_fields
        if field.attname in values
    ]
    return model.from_db(
        DEFAULT_DB_ALIAS, names, [values[name] for name in names]
    )


_PRINCIPAL = PreparedStatement(
    "api_principal",
    _PRINCIPAL_SQL,
    [("digest", "varchar"), ("lifetime", "float8")],
)


def _principal(digest):
    """``(user, token)`` for a live token's digest, or None."""
    row = _PRINCIPAL.fetchone(
        digest=digest, lifetime=settings.OPERATOR_TOKEN_SECONDS
    )
    if row is None:
        return None
    token_id, user_id, username, is_staff, is_superuser = row[:5]
    customer_id, name, balance, created_at = row[5:]
    user = _loaded(
        User,
        id=user_id,
        username=username,
        is_staff=is_staff,
        is_superuser=is_superuser,
        is_active=True,
    )
    customer = None
    if customer_id is not None:
        customer = _loaded(
            Customer,
            id=customer_id,
            user_id=user_id,
            name=name,
            balance=balance,
            created_at=created_at,
        )
    # Cached either way, so that asking for it queries nothing more.
    User.customer.related.set_cached_value(user, customer)
    token = _loaded(ApiToken, id=token_id, user_id=user_id, digest=digest)
    return user, token


class HashedTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: expected 'Token <key>'."
            )
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        found = _principal(token_digest(raw_key))
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        return found

    def authenticate_header(self, request):
        return KEYWORD
