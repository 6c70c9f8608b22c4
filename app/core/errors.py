"""Domain errors and the one handler that shapes every error response.

Every error leaves the service as
``{"error": {"code": ..., "message": ..., "details": {...}}}``.
"""

import logging
from enum import StrEnum

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    INVALID = "invalid"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_CRYPTO = "unknown_crypto"
    NOT_AUTHENTICATED = "not_authenticated"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    IDEMPOTENCY_KEY_IN_USE = "idempotency_key_in_use"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    ORDER_NOT_CANCELLABLE = "order_not_cancellable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    REQUEST_TOO_LARGE = "request_too_large"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    SERVER_ERROR = "server_error"


class ServiceError(Exception):
    """A refusal of the domain, carried to the client with its code."""

    status = 400
    code = ErrorCode.INVALID
    message = "The request is invalid."

    def __init__(self, message=None, *, details=None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details or {}


class InvalidInput(ServiceError):
    pass


class InsufficientFunds(ServiceError):
    code = ErrorCode.INSUFFICIENT_FUNDS
    message = "The balance does not cover the total."


class UnknownCrypto(ServiceError):
    code = ErrorCode.UNKNOWN_CRYPTO
    message = "This crypto is not listed."


class PriceMoving(ServiceError):
    status = 503
    code = ErrorCode.UNAVAILABLE
    message = "The price changed while the order was placed; try again."


class NotFound(ServiceError):
    status = 404
    code = ErrorCode.NOT_FOUND
    message = "Not found."


class Forbidden(ServiceError):
    status = 403
    code = ErrorCode.PERMISSION_DENIED
    message = "You do not have permission to perform this action."


class OrderNotCancellable(ServiceError):
    status = 409
    code = ErrorCode.ORDER_NOT_CANCELLABLE
    message = "Only a pending order can be cancelled."


class IdempotencyKeyInUse(ServiceError):
    status = 409
    code = ErrorCode.IDEMPOTENCY_KEY_IN_USE
    message = "A request with this Idempotency-Key is still running."


class IdempotencyKeyReused(ServiceError):
    status = 422
    code = ErrorCode.IDEMPOTENCY_KEY_REUSED
    message = "This Idempotency-Key was used with a different request."


class RequestTooLarge(ServiceError):
    """A body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``: refused unread."""

    status = 413
    code = ErrorCode.REQUEST_TOO_LARGE

    def __init__(self):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        super().__init__(
            f"The request body is larger than {limit} bytes.",
            details={"max_bytes": limit},
        )


def envelope(code, message, details=None):
    return {
        "error": {
            "code": str(code),
            "message": str(message),
            "details": details or {},
        }
    }


def _validation_details(detail):
    if isinstance(detail, dict):
        return detail
    if isinstance(detail, list):
        return {"non_field_errors": detail}
    return {"non_field_errors": [detail]}


# DRF exception class -> (status, code). Order matters: first match wins.
_DRF_ERRORS = (
    (drf.ParseError, 400, ErrorCode.INVALID),
    (drf.ValidationError, 400, ErrorCode.INVALID),
    (drf.NotAuthenticated, 401, ErrorCode.NOT_AUTHENTICATED),
    (drf.AuthenticationFailed, 401, ErrorCode.NOT_AUTHENTICATED),
    (drf.PermissionDenied, 403, ErrorCode.PERMISSION_DENIED),
    (drf.NotFound, 404, ErrorCode.NOT_FOUND),
    (drf.MethodNotAllowed, 405, ErrorCode.METHOD_NOT_ALLOWED),
    (drf.NotAcceptable, 406, ErrorCode.NOT_ACCEPTABLE),
    (drf.UnsupportedMediaType, 415, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (drf.Throttled, 429, ErrorCode.THROTTLED),
)


def _classify(exc):
    for klass, status, code in _DRF_ERRORS:
        if isinstance(exc, klass):
            return status, code
    if isinstance(exc, drf.APIException):
        return exc.status_code, ErrorCode.INVALID
    return None


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception becomes the envelope."""
    set_rollback()
    headers = {}
    # Django refuses an oversized body when DRF first reads request.body.
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = InvalidInput(str(exc))
    if isinstance(exc, ServiceError):
        return Response(
            envelope(exc.code, exc.message, exc.details),
            status=exc.status,
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.warning("database unavailable: %s", exc)
        return Response(
            envelope(
                ErrorCode.UNAVAILABLE,
                "The database is unavailable; try again shortly.",
            ),
            status=503,
            headers={"Retry-After": "1"},
        )
    known = _classify(exc)
    if known is None:
        logger.exception("unexpected error", exc_info=exc)
        return Response(
            envelope(ErrorCode.SERVER_ERROR, "Internal server error."),
            status=500,
        )
    status, code = known
    if isinstance(exc, drf.NotAcceptable):
        # No renderer was agreed on, and DRF would fall back to the
        # view's first (YAML for the schema, HTML for the docs): a 406
        # answers the envelope in JSON, as every error does.
        context["request"].accepted_renderer = JSONRenderer()
        context["request"].accepted_media_type = JSONRenderer.media_type
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(int(exc.wait) or 1)
    if isinstance(exc, drf.ValidationError):
        message = "The request is invalid."
        details = _validation_details(exc.detail)
    else:
        message, details = str(exc.detail), {}
    return Response(envelope(code, message, details), status, headers=headers)


def json_error(status, code, message):
    """A plain Django response in the envelope, for non-DRF paths."""
    return JsonResponse(envelope(code, message), status=status)


def is_database_down(exc):
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    )
