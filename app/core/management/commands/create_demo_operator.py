"""Create or update the demo operator: a staff superuser."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction


class Command(BaseCommand):
    help = (
        "Create or update the demo operator (a staff superuser) named by "
        "DJANGO_SUPERUSER_USERNAME (default: operator). Its password is "
        "DJANGO_SUPERUSER_PASSWORD, else a new random one, set on every "
        "run. Prints the username and the password."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "operator"
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        password = password or secrets.token_urlsafe(12)
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")

        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.select_for_update().get_or_create(
                **{User.USERNAME_FIELD: username}
            )
            user.is_staff = True
            user.is_superuser = True
            user.is_active = True
            if email and hasattr(user, "email"):
                user.email = email
            user.set_password(password)
            user.save()

        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} operator {username!r}.")
        self.stdout.write(f"username: {username}")
        self.stdout.write(f"password: {password}")
