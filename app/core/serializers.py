"""Serializer building blocks shared by every app."""

import re
from decimal import Decimal, InvalidOperation

from django.utils.functional import cached_property
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict

# Sent by the browsable API's HTML forms; checked by the CSRF middleware.
_FORM_FIELDS = {"csrfmiddlewaretoken"}
# A decimal as a client writes it: ASCII digits and at most one point.
# Python's Decimal would also take "1_000" and non-ASCII digits.
_PLAIN_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
# An id as a client writes it: ASCII digits only. Python's int() would
# also read "١" (Arabic-Indic one) as 1, "1_0" as 10 and " 1 " as 1.
_ASCII_ID = re.compile(r"[0-9]{1,19}", re.ASCII)
MAX_ID = 2**63 - 1


def parse_id(text):
    """The id that ``text`` writes in ASCII digits (1 to 2**63 - 1, a
    PostgreSQL bigint), or None for anything else."""
    if not isinstance(text, str) or not _ASCII_ID.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, instead of silently dropping them:
    a client that sends ``price`` or ``status`` learns it has no say."""

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            unknown = sorted(set(data) - set(self.fields) - _FORM_FIELDS)
            if unknown:
                raise serializers.ValidationError(
                    {name: ["Unknown field."] for name in unknown}
                )
        return super().to_internal_value(data)


class SharedFieldsMixin:
    """Builds a serializer's fields once per class, not once per instance.

    DRF deep-copies every declared field for each serializer it makes,
    which costs more than validating a small body. For an input
    serializer on a hot path whose fields keep nothing between calls and
    need no context (plain value fields: no nested serializers, no
    ``HiddenField`` or ``CurrentUserDefault``, no validators that need
    the serializer), one bound set of fields serves every instance.
    """

    @cached_property
    def fields(self):
        fields = type(self).__dict__.get("_shared_fields")
        if fields is None:
            fields = BindingDict(self)
            for name, field in self.get_fields().items():
                fields[name] = field
            type(self)._shared_fields = fields
        return fields


class MoneyField(serializers.DecimalField):
    """A decimal sent as a JSON string or number, never through a float,
    and never in exponent form (``1e3``)."""

    default_error_messages = {
        "exponent": "Write the number in plain digits, without an exponent."
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str | Decimal) and "e" in str(data).lower():
            self.fail("exponent")
        if isinstance(data, str) and not _PLAIN_DECIMAL.fullmatch(
            data.strip()
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    """In the OpenAPI schema, a request may send a money field as a
    string or a JSON number (docs/api.md, "Conventions"); a response
    always has a string."""

    target_class = MoneyField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        as_string = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        if direction != "request":
            return as_string
        as_number = {"type": "number"}
        if self.target.min_value is not None:
            as_number["minimum"] = float(self.target.min_value)
        if self.target.max_value is not None:
            as_number["maximum"] = float(self.target.max_value)
        return {"oneOf": [as_string, as_number]}


class IdField(serializers.IntegerField):
    """An id: a JSON integer, or a string of ASCII digits; never a
    boolean, a fraction (``1.0``), digit grouping or another script's
    digits, each of which ``IntegerField`` reads as some number."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | str):
            self.fail("invalid")
        if isinstance(data, str) and not _ASCII_ID.fullmatch(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class StringField(serializers.CharField):
    """A JSON string, and only a string: ``123`` is not a symbol."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class QuantityField(MoneyField):
    """A decimal of at most ``max_total_digits`` digits and
    ``decimal_places`` places, however they split between the integer
    and the fraction (``DecimalField`` caps the integer part instead)."""

    default_error_messages = {
        "max_total_digits": "Ensure that there are no more than "
        "{max_total_digits} digits in total."
    }

    def __init__(self, *, max_total_digits, **kwargs):
        self.max_total_digits = max_total_digits
        super().__init__(max_digits=None, **kwargs)

    def quantize(self, value):
        # Without max_digits DRF quantizes at the context's 28 digits,
        # which a long integer part overflows: too many digits, not a 500.
        try:
            return super().quantize(value)
        except InvalidOperation:
            self.fail(
                "max_total_digits", max_total_digits=self.max_total_digits
            )

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        digits = len(value.as_tuple().digits)
        if digits > self.max_total_digits:
            self.fail(
                "max_total_digits", max_total_digits=self.max_total_digits
            )
        return value


class BrowsableLinksMixin:
    """Links to follow, for a person in the browsable API.

    JSON clients get exactly the fields of docs/api.md. When the response is
    rendered as the browsable API's HTML page, each object also carries
    the absolute URLs that ``browsable_links(obj, request)`` returns
    (``"purchase_url"``, ``"ledger_url"``, ...), which the page shows as
    links.
    """

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        renderer = getattr(request, "accepted_renderer", None)
        if getattr(renderer, "format", None) == "api":
            data.update(self.browsable_links(instance, request))
        return data

    def browsable_links(self, instance, request):
        return {}
