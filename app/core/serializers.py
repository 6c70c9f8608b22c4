"""Serializer building blocks shared by every app."""

from decimal import Decimal

from rest_framework import serializers

# Sent by the browsable API's HTML forms; checked by the CSRF middleware.
_FORM_FIELDS = {"csrfmiddlewaretoken"}


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

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        digits = len(value.as_tuple().digits)
        if digits > self.max_total_digits:
            self.fail(
                "max_total_digits", max_total_digits=self.max_total_digits
            )
        return value
