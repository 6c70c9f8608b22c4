"""The simulated exchange's own book of orders, keyed by client order id.

A real exchange keeps this on its side; the simulation keeps it in our
database so that it survives a killed worker, as the real one would.
"""

from django.db import models


class SimulatedExchangeOrder(models.Model):
    client_order_id = models.UUIDField(unique=True)
    crypto = models.CharField(max_length=10)
    amount = models.DecimalField(max_digits=30, decimal_places=10)
    calls = models.PositiveIntegerField(default=0)
    filled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.client_order_id} {self.amount} {self.crypto}"
