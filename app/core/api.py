"""Health: does the service have what it needs to take orders?"""

import django_rq
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


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

    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "redis": serializers.CharField(),
                },
            )
        }
    )
    def get(self, request):
        database, redis = _database_ok(), _redis_ok()
        healthy = database and redis
        body = {
            "status": "ok" if healthy else "unavailable",
            "database": "ok" if database else "unavailable",
            "redis": "ok" if redis else "unavailable",
        }
        return Response(body, status=200 if healthy else 503)
