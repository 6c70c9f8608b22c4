"""Serializer building blocks shared by every app."""

from decimal import Decimal

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, instead of silently dropping them:
    a client that sends ``price`` or ``status`` learns it has no say."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
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
