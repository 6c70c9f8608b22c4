"""API clients for tests."""

from rest_framework.test import APIClient


def token_client(token):
    """An API client that sends ``Authorization: Token <token>``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client
