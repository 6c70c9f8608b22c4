"""``Idempotency-Key`` for POST views, as docs/api.md describes it.

The request runs in one transaction that first takes a PostgreSQL
advisory lock on (principal, key): a second request with the key while
the first runs gets ``409``; after it, the stored first response is
replayed (``Idempotent-Replayed: true``), or ``422`` if the body
differs. The response is stored in the same transaction as the work, so
a crash can never leave one without the other. Keys are kept
``TTL_HOURS`` (48) hours; the worker purges older ones.
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone
from rest_framework.response import Response

from core.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InvalidInput,
    ServiceError,
    exception_handler,
)
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
# monitoring.middleware counts the responses that carry it.
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
TTL_HOURS = 48
# Transient answers are not kept: the client should simply try again.
_NOT_STORED = {409, 429}
# Secrets are never stored in plain text: a replay answers them as null
# (a client that lost a new customer's key rotates it).
_SECRET_FIELDS = {"api_key"}


def _storable(data):
    if isinstance(data, dict):
        return {
            name: None if name in _SECRET_FIELDS else value
            for name, value in data.items()
        }
    return data


def _fingerprint(request):
    body = json.dumps(request.data, sort_keys=True, default=str)
    text = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _lock_id(principal, key):
    digest = hashlib.blake2b(f"{principal}\0{key}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _replay(record):
    response = Response(record.body, status=record.status_code)
    response[REPLAYED_HEADER] = "true"
    return response


def idempotent(view_method):
    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            raise InvalidInput(
                details={
                    HEADER: [
                        f"Must be 1 to {MAX_KEY_LENGTH} ASCII characters."
                    ]
                }
            )
        # A control character (NUL above all, which PostgreSQL cannot
        # store) is no part of a key.
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
            raise InvalidInput(
                details={HEADER: ["Must not contain control characters."]}
            )
        # A header carries no encoding: the same non-ASCII key would
        # arrive differently through different clients and servers.
        if not key.isascii():
            raise InvalidInput(
                details={HEADER: ["Must be ASCII characters only."]}
            )
        principal = f"user:{request.user.pk}"
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_xact_lock(%s)",
                    [_lock_id(principal, key)],
                )
                if not cursor.fetchone()[0]:
                    raise IdempotencyKeyInUse()
            record = IdempotencyRecord.objects.filter(
                principal=principal, key=key
            ).first()
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise IdempotencyKeyReused()
                return _replay(record)
            try:
                with transaction.atomic():
                    response = view_method(self, request, *args, **kwargs)
            except ServiceError as exc:
                response = exception_handler(exc, {"request": request})
            if response.status_code not in _NOT_STORED:
                IdempotencyRecord.objects.create(
                    principal=principal,
                    key=key,
                    fingerprint=fingerprint,
                    status_code=response.status_code,
                    body=_storable(response.data),
                )
            return response

    return wrapper


def idempotency_records_purge() -> int:
    cutoff = timezone.now() - timedelta(hours=TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=cutoff
    ).delete()
    return deleted
