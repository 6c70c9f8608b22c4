"""Errors raised outside DRF's views still answer the JSON envelope."""

import logging

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, JsonResponse

from core.errors import (
    ErrorCode,
    RequestTooLarge,
    envelope,
    is_database_down,
    json_error,
)

logger = logging.getLogger(__name__)

_DJANGO_ANSWERS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


class JsonErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
        if isinstance(exc, RequestDataTooBig):
            error = RequestTooLarge()
            return JsonResponse(
                envelope(error.code, error.message, error.details),
                status=error.status,
            )
        if isinstance(exc, _DJANGO_ANSWERS):
            # Django answers these itself, through handler404/403/400
            # (the JSON views in core.views_errors): not a server error.
            return None
        if is_database_down(exc):
            logger.warning("database unavailable: %s", exc)
            response = json_error(
                503,
                ErrorCode.UNAVAILABLE,
                "The database is unavailable; try again shortly.",
            )
            response["Retry-After"] = "1"
            return response
        logger.exception("unexpected error", exc_info=exc)
        return json_error(
            500, ErrorCode.SERVER_ERROR, "Internal server error."
        )
