"""Health: does the service have what it needs to take orders?"""

import django_rq
from django.db import connection
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from core.schema import errors


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


_HEALTH = inline_serializer(
    "Health",
    {
        name: serializers.CharField(help_text="`ok` or `unavailable`")
        for name in ("status", "database", "redis")
    },
)


class HealthView(APIView):
    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        summary="Can the service take orders?",
        description=(
            "`200` when PostgreSQL and Redis both answer, else `503`; the "
            "body names each."
        ),
        auth=[],
        responses={
            (200, "application/json"): OpenApiResponse(
                _HEALTH,
                description="Both answer.",
                examples=[
                    OpenApiExample(
                        "healthy",
                        value={
                            "status": "ok",
                            "database": "ok",
                            "redis": "ok",
                        },
                    )
                ],
            ),
            (503, "application/json"): OpenApiResponse(
                _HEALTH,
                description="One of them does not answer.",
                examples=[
                    OpenApiExample(
                        "redis down",
                        value={
                            "status": "unavailable",
                            "database": "ok",
                            "redis": "unavailable",
                        },
                        status_codes=[503],
                    )
                ],
            ),
            **errors(429),
        },
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


class PingView(APIView):
    """The ceiling of the web stack: DRF with no database, no Redis and
    no authentication. ``make bench`` compares the order endpoint to it."""

    permission_classes = [AllowAny]
    authentication_classes = []

    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "Pong", {"pong": serializers.BooleanField()}
            )
        }
    )
    def get(self, request):
        return Response({"pong": True})
