"""Money arithmetic: Decimal only, quantized in one named place."""

from decimal import ROUND_CEILING, Decimal, localcontext

CENT = Decimal("0.01")
# The largest balance a Customer row can hold: DecimalField(10, 2).
MAX_BALANCE = Decimal("99999999.99")


def require_money(value):
    """Refuse anything that is not a finite, positive Decimal."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be a Decimal, not {type(value)!r}")
    if not value.is_finite() or value <= 0:
        raise ValueError(f"money must be finite and positive: {value}")
    return value


def exact_product(price, amount):
    if not isinstance(price, Decimal) or not isinstance(amount, Decimal):
        raise TypeError("price and amount must be Decimals")
    with localcontext() as context:
        # Exact: 18 + 20 digits never lose a digit at this precision.
        context.prec = 60
        return price * amount


def order_total(price, amount):
    """``price × amount`` rounded up to the cent: the broker never
    undercharges by a fraction of a cent."""
    return exact_product(price, amount).quantize(CENT, rounding=ROUND_CEILING)
