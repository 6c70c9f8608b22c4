"""Errors raised outside DRF's views still answer the JSON envelope; the
Content-Security-Policy header is built once; a path without its
trailing slash is redirected keeping its method."""

import logging

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, JsonResponse
from django.http.response import HttpResponseRedirectBase
from django.middleware.common import CommonMiddleware
from django.utils.http import escape_leading_slashes

from core.errors import (
    ErrorCode,
    RequestTooLarge,
    envelope,
    is_database_down,
    json_error,
)

logger = logging.getLogger(__name__)

_DJANGO_ANSWERS = (Http404, PermissionDenied, BadRequest, SuspiciousOperation)


class PermanentRedirectKeepingMethod(HttpResponseRedirectBase):
    status_code = 308


class SlashMiddleware(CommonMiddleware):
    """Django's ``CommonMiddleware``, whose ``APPEND_SLASH`` redirect is
    a 308, not a 301: a client that follows ``POST /api/order`` sends
    the same POST to ``/api/order/``, where a 301 has it send a GET (the
    order list) and place nothing."""

    response_redirect_class = PermanentRedirectKeepingMethod

    def get_full_path_with_slash(self, request):
        # Django's, without its DEBUG-only refusal of a POST: that
        # refusal is there because a 301 drops the body; a 308 keeps it.
        path = request.get_full_path(force_append_slash=True)
        return escape_leading_slashes(path)


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


# What a view or a template may set to change the policy of one answer.
_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_exempt",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
    "_csp_exempt_ro",
)


class StaticPolicyCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with the policy built once per process.

    The service's policy has no nonce, no excluded paths and no per-view
    changes, yet django-csp builds it anew for every answer, a large
    share of an order request's Python (bench/README.md has the
    figures). An answer that does change it (a nonce asked for, a
    decorator's changes) goes through django-csp as before."""

    def __init__(self, get_response):
        super().__init__(get_response)
        static = not any(
            (getattr(settings, name, None) or {}).get("EXCLUDE_URL_PREFIXES")
            for name in (
                "CONTENT_SECURITY_POLICY",
                "CONTENT_SECURITY_POLICY_REPORT_ONLY",
            )
        )
        self.policy = build_policy() if static else None
        self.policy_ro = build_policy(report_only=True) if static else None

    def process_response(self, request, response):
        if (
            self.policy is None
            or settings.DEBUG
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
        ):
            return super().process_response(request, response)
        if self.policy and HEADER not in response:
            response[HEADER] = self.policy
        if self.policy_ro and HEADER_REPORT_ONLY not in response:
            response[HEADER_REPORT_ONLY] = self.policy_ro
        return response
