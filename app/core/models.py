from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to a POST with an ``Idempotency-Key``, written
    in the same transaction as the work it answers."""

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "key"], name="idempotency_key_once"
            )
        ]
