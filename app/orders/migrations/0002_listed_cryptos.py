"""The cryptos we sell, at hard-coded USD prices, each with its pool."""

from decimal import Decimal

from django.db import migrations

CRYPTOS = [
    ("ABAN", "Aban Tether", Decimal("4.00")),
    ("BTC", "Bitcoin", Decimal("65000.00")),
    ("ETH", "Ethereum", Decimal("3200.00")),
    ("SOL", "Solana", Decimal("150.00")),
    ("DOGE", "Dogecoin", Decimal("0.15")),
]


def list_cryptos(apps, schema_editor):
    Crypto = apps.get_model("orders", "Crypto")
    Pool = apps.get_model("orders", "Pool")
    for symbol, name, price in CRYPTOS:
        crypto, _ = Crypto.objects.update_or_create(
            symbol=symbol, defaults={"name": name, "price": price}
        )
        Pool.objects.get_or_create(crypto=crypto)


def unlist_cryptos(apps, schema_editor):
    apps.get_model("orders", "Pool").objects.filter(
        crypto__symbol__in=[symbol for symbol, _, _ in CRYPTOS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("orders", "0001_initial")]

    operations = [migrations.RunPython(list_cryptos, unlist_cryptos)]
