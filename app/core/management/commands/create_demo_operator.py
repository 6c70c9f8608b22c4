"""Create the demo operator, a staff superuser, when it is missing."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction


class Command(BaseCommand):
    help = (
        "Create the demo operator (a staff superuser) named by "
        "DJANGO_SUPERUSER_USERNAME (default: operator), when no user has "
        "that name. Its password is DJANGO_SUPERUSER_PASSWORD (checked "
        "by the password validators), else a new random one; both are "
        "printed. An existing user is left exactly as it is: never "
        "re-activated, promoted or given a new password."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "operator"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
        User = get_user_model()
        lookup = {User.USERNAME_FIELD: username}

        if User._default_manager.filter(**lookup).exists():
            self._left_alone(username)
            return
        if password:
            user = User(**lookup)
            try:
                validate_password(password, user)
            except ValidationError as exc:
                raise CommandError(
                    "DJANGO_SUPERUSER_PASSWORD is refused: "
                    + " ".join(exc.messages)
                ) from exc
        else:
            password = secrets.token_urlsafe(12)
        try:
            with transaction.atomic():
                User._default_manager.create_superuser(
                    username=username, email=email, password=password
                )
        except IntegrityError:
            # Another start created it between the check and the insert.
            self._left_alone(username)
            return
        self.stdout.write(f"Created operator {username!r}.")
        self.stdout.write(f"username: {username}")
        self.stdout.write(f"password: {password}")

    def _left_alone(self, username):
        self.stdout.write(
            f"Operator {username!r} exists; left as it is (its password "
            "and status unchanged)."
        )
        self.stdout.write(f"username: {username}")
