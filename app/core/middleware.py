"""Errors raised outside DRF's views still answer the JSON envelope."""

import logging

from core.errors import ErrorCode, is_database_down, json_error

logger = logging.getLogger(__name__)


class JsonErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exc):
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
