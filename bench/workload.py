"""What the bench orders: the listed cryptos, the order mixes and the
history of the 'big' phase."""

from decimal import Decimal

from core import money

THRESHOLD = Decimal("10")
PRICES = {
    "ABAN": ("Aban Tether", Decimal("4")),
    "BTC": ("Bitcoin", Decimal("65000")),
    "ETH": ("Ethereum", Decimal("3200")),
    "SOL": ("Solana", Decimal("150")),
    "DOGE": ("Dogecoin", Decimal("0.15")),
}
# (crypto, small amount, large amount); keep in step with bench/order.lua.
MIX = [
    ("ABAN", "0.5", "5"),
    ("BTC", "0.00005", "0.001"),
    ("ETH", "0.001", "0.01"),
    ("SOL", "0.02", "0.5"),
    ("DOGE", "20", "200"),
]
# The orders of the 'big' phase's history: (crypto, amount), ten of one
# crypto to a completed purchase of at least the threshold.
HISTORY = [
    ("ABAN", "0.5"),
    ("BTC", "0.0001"),
    ("ETH", "0.001"),
    ("SOL", "0.02"),
    ("DOGE", "20"),
]
HISTORY_ORDERS_PER_PURCHASE = 10
OPERATOR = "bench-operator"


def order_total(symbol, amount):
    """What an order of ``amount`` of ``symbol`` costs, as the service
    charges it."""
    return money.order_total(PRICES[symbol][1], Decimal(amount))
