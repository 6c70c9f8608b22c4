"""Health: does the service have what it needs to take orders?"""

import django_rq
from django.db import connection
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core import schema


def _database_ok():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "down"
        connection.close()
        return False


def _redis_ok():
    try:
        return bool(django_rq.get_connection("default").ping())
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @schema.health
    def get(self, request):
        database, redis = _database_ok(), _redis_ok()
        healthy = database and redis
        body = {
            "status": "ok" if healthy else "unavailable",
            "database": "ok" if database else "unavailable",
            "redis": "ok" if redis else "unavailable",
        }
        return Response(body, status=200 if healthy else 503)


class PingView(APIView):
    """The ceiling of the web stack: DRF with no database, no Redis and
    no authentication. ``make bench`` compares the order endpoint to it."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @schema.ping
    def get(self, request):
        return Response({"pong": True})
