"""``Authorization: Token <key>`` against hashed keys, in one query."""

import hashlib
import secrets

from rest_framework import authentication, exceptions

from accounts.models import ApiToken

KEYWORD = "Token"


def token_digest(raw_key):
    return hashlib.sha256(raw_key.encode()).hexdigest()


def token_generate(prefix):
    """A new random key; the caller stores only its digest."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


class HashedTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: expected 'Token <key>'."
            )
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        token = (
            ApiToken.objects.select_related("user", "user__customer")
            .filter(digest=token_digest(raw_key), revoked_at__isnull=True)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        return token.user, token

    def authenticate_header(self, request):
        return KEYWORD
