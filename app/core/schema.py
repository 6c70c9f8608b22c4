"""OpenAPI pieces shared by every view's ``@extend_schema``.

- ``ErrorEnvelope``: the body of every error (see ``core.errors``);
  ``errors(400, 401, ...)`` documents those statuses with it, each with
  an example of the codes it can carry.
- ``HashedTokenScheme``: tells drf-spectacular that
  ``Authorization: Token <key>`` is how callers authenticate. It
  registers itself when this module is imported, which every ``api``
  module does.
- ``IDEMPOTENCY_KEY`` and the response headers of docs/api.md.
- ``AutoSchema``: descriptions only from what is written for readers of
  the API, never from docstrings (which are written for developers).
- ``health`` and ``ping``: the schema of core's own views, as
  ``accounts.schema`` and ``orders.schema`` hold their apps'.
"""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import get_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers

from core.errors import ErrorCode


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's schema, except that no docstring becomes a
    description. drf-spectacular describes an operation by its view's
    docstring and a component by its serializer's, or by the first base
    class that has one; ours are notes for developers (how a mixin
    shares fields, what a benchmark measured). A description comes only
    from ``@extend_schema(description=...)``,
    ``@extend_schema_serializer(description=...)`` or a field's
    ``help_text``."""

    def get_description(self):
        # @extend_schema(description=...) overrides this in a subclass.
        return ""

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if get_override(serializer, "description") is None:
            schema.pop("description", None)
        return schema

    def _map_response_type_hint(self, method):
        schema = super()._map_response_type_hint(method)
        if isinstance(schema, dict) and "$ref" not in schema:
            schema.pop("description", None)
        return schema


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[code.value for code in ErrorCode],
        help_text="A stable, machine-readable code.",
    )
    message = serializers.CharField(help_text="For humans; may change.")
    details = serializers.DictField(
        child=serializers.JSONField(),
        help_text=(
            "For `invalid`: each field mapped to its messages. Otherwise "
            "extra facts about the error, often empty."
        ),
    )


@extend_schema_serializer(
    description="Every error answers this, from validation to a server "
    "fault."
)
class ErrorEnvelopeSerializer(serializers.Serializer):
    error = ErrorBodySerializer()

    class Meta:
        ref_name = "ErrorEnvelope"


ErrorEnvelope = ErrorEnvelopeSerializer


class HashedTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.HashedTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Token <key>`: an operator's token from `POST /api/token/`"
                ", or a customer's API key (returned once, when the "
                "customer is created)."
            ),
        }


def _envelope(code, message, details=None):
    return {
        "error": {"code": code, "message": message, "details": details or {}}
    }


# One example per error code: (status, summary, body).
ERROR_EXAMPLES = {
    "invalid": (
        400,
        "A missing or malformed field",
        _envelope(
            "invalid",
            "The request is invalid.",
            {"amount": ["A valid number is required."]},
        ),
    ),
    "insufficient_funds": (
        400,
        "The balance does not cover the total; nothing is written",
        _envelope(
            "insufficient_funds",
            "The balance does not cover the total.",
            {"required": "6.00"},
        ),
    ),
    "unknown_crypto": (
        400,
        "The symbol is not listed",
        _envelope(
            "unknown_crypto",
            "'XYZ' is not listed. Listed: ABAN, BTC, DOGE, ETH, SOL.",
            {
                "crypto": [
                    "'XYZ' is not listed. Listed: ABAN, BTC, DOGE, ETH, SOL."
                ]
            },
        ),
    ),
    "not_authenticated": (
        401,
        "No or bad credentials",
        _envelope(
            "not_authenticated",
            "Authentication credentials were not provided.",
        ),
    ),
    "permission_denied": (
        403,
        "Acting for another customer, or an operator-only action",
        _envelope(
            "permission_denied",
            "You do not have permission to perform this action.",
        ),
    ),
    "not_found": (
        404,
        "Unknown id, or one the caller may not see",
        _envelope("not_found", "Not found."),
    ),
    "idempotency_key_in_use": (
        409,
        "The first request with this Idempotency-Key is still running",
        _envelope(
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still running.",
        ),
    ),
    "order_not_cancellable": (
        409,
        "The order is no longer pending",
        _envelope(
            "order_not_cancellable",
            "The order is submitted; only a pending order can be "
            "cancelled.",
            {"status": "submitted"},
        ),
    ),
    "request_too_large": (
        413,
        "A body over the size limit, refused unread",
        _envelope(
            "request_too_large",
            "The request body is larger than 65536 bytes.",
            {"max_bytes": 65536},
        ),
    ),
    "unsupported_media_type": (
        415,
        "A body that is not JSON",
        _envelope(
            "unsupported_media_type",
            'Unsupported media type "text/plain" in request.',
        ),
    ),
    "idempotency_key_reused": (
        422,
        "Same Idempotency-Key, different body",
        _envelope(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request.",
        ),
    ),
    "throttled": (
        429,
        "Rate limit; see Retry-After",
        _envelope(
            "throttled",
            "Request was throttled. Expected available in 1 second.",
        ),
    ),
    "unavailable": (
        503,
        "The database is down; see Retry-After",
        _envelope(
            "unavailable",
            "The database is unavailable; try again shortly.",
        ),
    ),
    "server_error": (
        500,
        "A bug; never an HTML page",
        _envelope("server_error", "Internal server error."),
    ),
}

# What each status means, and the codes it carries unless told otherwise.
STATUS_ERRORS = {
    400: ("Invalid request", ["invalid"]),
    401: ("Not authenticated", ["not_authenticated"]),
    403: ("Permission denied", ["permission_denied"]),
    404: ("Not found", ["not_found"]),
    409: ("Idempotency key in use", ["idempotency_key_in_use"]),
    413: ("Request too large", ["request_too_large"]),
    415: ("Unsupported media type", ["unsupported_media_type"]),
    422: ("Idempotency key reused", ["idempotency_key_reused"]),
    429: ("Throttled", ["throttled"]),
    500: ("Server error", ["server_error"]),
    503: ("Unavailable", ["unavailable"]),
}


def error_example(code):
    status, summary, body = ERROR_EXAMPLES[code]
    return OpenApiExample(
        code,
        value=body,
        summary=summary,
        response_only=True,
        status_codes=[status],
    )


def errors(*statuses, codes=None):
    """``{status: OpenApiResponse(ErrorEnvelope)}`` for each status, with
    an example per code; ``codes`` overrides a status's codes, as in
    ``errors(400, codes={400: ["invalid", "insufficient_funds"]})``."""
    codes = codes or {}
    responses = {}
    for status in statuses:
        description, default_codes = STATUS_ERRORS[status]
        responses[status] = OpenApiResponse(
            ErrorEnvelope,
            description=description,
            examples=[
                error_example(code)
                for code in codes.get(status, default_codes)
            ],
        )
    return responses


# Every authenticated endpoint can answer these.
READ_ERRORS = (401, 403, 429, 503)


def page_of(serializer):
    """The responses of a paginated list of ``serializer``: a bad
    cursor, page size or filter is ``400``."""
    return {200: serializer(many=True), **errors(400, *READ_ERRORS, 404)}


def list_and_retrieve(
    serializer, *, summaries, example, description=None, parameters=None
):
    """A read-only viewset's ``list`` (a page) and ``retrieve`` (one),
    both shown with ``example``, a ``(name, value)`` pair; the list's
    ``description`` and ``parameters`` are optional."""
    list_summary, one_summary = summaries
    name, value = example
    return extend_schema_view(
        list=extend_schema(
            summary=list_summary,
            description=description,
            parameters=parameters,
            responses=page_of(serializer),
            examples=[OpenApiExample(name, value=value)],
        ),
        retrieve=extend_schema(
            summary=one_summary,
            responses={200: serializer, **errors(*READ_ERRORS, 404)},
            examples=[OpenApiExample(name, value=value)],
        ),
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    description=(
        "At most 255 characters, scoped to the caller, kept 24 hours at "
        "least. The same key with the same body replays the first "
        "response (header `Idempotent-Replayed: true`), debiting nothing "
        "twice; with another body it is `422`; while the first request "
        "runs, `409`."
    ),
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    description="`true` when this is the replay of an earlier response.",
    enum=["true"],
    response=[200, 201],
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    description="Seconds to wait before trying again.",
    response=[429, 503],
)
# The parameters of a POST that takes an Idempotency-Key.
IDEMPOTENT_POST = [IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, RETRY_AFTER]

# The schema of core's own views, applied in ``core.api``.

_HEALTH = inline_serializer(
    "Health",
    {
        name: serializers.CharField(help_text="`ok` or `unavailable`")
        for name in ("status", "database", "redis")
    },
)

health = extend_schema(
    summary="Can the service take orders?",
    description=(
        "`200` when PostgreSQL and Redis both answer, else `503`; the "
        "body names each."
    ),
    auth=[],
    responses={
        (200, "application/json"): OpenApiResponse(
            _HEALTH,
            description="Both answer.",
            examples=[
                OpenApiExample(
                    "healthy",
                    value={
                        "status": "ok",
                        "database": "ok",
                        "redis": "ok",
                    },
                )
            ],
        ),
        (503, "application/json"): OpenApiResponse(
            _HEALTH,
            description="One of them does not answer.",
            examples=[
                OpenApiExample(
                    "redis down",
                    value={
                        "status": "unavailable",
                        "database": "ok",
                        "redis": "unavailable",
                    },
                    status_codes=[503],
                )
            ],
        ),
        **errors(429),
    },
)

ping = extend_schema(
    responses={
        (200, "application/json"): inline_serializer(
            "Pong", {"pong": serializers.BooleanField()}
        )
    }
)
