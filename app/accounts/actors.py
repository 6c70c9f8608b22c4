"""Who did it: the principal behind each money movement and credential
event, recorded on its row (``ActorFields``)."""

from dataclasses import dataclass

from accounts.models import ApiToken


@dataclass(frozen=True)
class Actor:
    """The user who acted and the token their request carried; the user
    alone for a browser session; neither for the service itself."""

    user_id: int | None = None
    token_id: int | None = None

    @classmethod
    def of(cls, request) -> "Actor":
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return SERVICE
        token = getattr(request, "auth", None)
        token_id = token.pk if isinstance(token, ApiToken) else None
        return cls(user_id=user.pk, token_id=token_id)

    def fields(self) -> dict:
        """The row's actor columns."""
        return {"actor_user_id": self.user_id, "actor_token_id": self.token_id}


# The worker and the sweeper: refunds of failed purchases, the house's
# top-ups.
SERVICE = Actor()
