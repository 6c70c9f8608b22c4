"""Operators' credentials: the demo operator is made once and never
revived, passwords are taken as typed and checked by Django's default
validators, and operator tokens expire while customers' keys do not."""

import datetime
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.models import ApiToken
from core.testing.clients import token_client

pytestmark = pytest.mark.django_db
User = get_user_model()


def _demo_operator(monkeypatch, password=None, username="operator"):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", username)
    if password is None:
        monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", password)
    out = io.StringIO()
    call_command("create_demo_operator", stdout=out)
    return out.getvalue()


def _token(username, password):
    return APIClient().post(
        "/api/token/",
        {"username": username, "password": password},
        format="json",
    )


# --- 4. the demo operator ---------------------------------------------------


def test_the_demo_operator_is_created_when_missing(monkeypatch):
    output = _demo_operator(monkeypatch, "a-fine-demo-pass")

    user = User.objects.get(username="operator")
    assert user.is_staff and user.is_superuser and user.is_active
    assert user.check_password("a-fine-demo-pass")
    assert "password: a-fine-demo-pass" in output


def test_a_deactivated_demo_operator_stays_deactivated(monkeypatch):
    _demo_operator(monkeypatch, "a-fine-demo-pass")
    token = _token("operator", "a-fine-demo-pass").json()["token"]
    User.objects.filter(username="operator").update(is_active=False)

    # The next `make run`, or container start, with a password given or
    # generated.
    output = _demo_operator(monkeypatch, "another-demo-pass")
    _demo_operator(monkeypatch)

    user = User.objects.get(username="operator")
    assert not user.is_active
    assert user.check_password("a-fine-demo-pass")
    assert "another-demo-pass" not in output
    assert "left as it is" in output
    client = token_client(token)
    assert client.get("/api/order/").status_code == 401
    assert _token("operator", "another-demo-pass").status_code == 401


def test_an_existing_user_of_that_name_is_not_promoted(monkeypatch):
    User.objects.create_user(username="operator", password="its-own-pass")

    _demo_operator(monkeypatch, "a-fine-demo-pass")

    user = User.objects.get(username="operator")
    assert not user.is_staff and not user.is_superuser
    assert user.check_password("its-own-pass")


# --- 11. passwords as typed, and the default validators --------------------


def test_a_password_is_taken_as_typed(operator):
    operator.set_password("  padded pass  ")
    operator.save()

    assert _token("operator", "  padded pass  ").status_code == 200
    assert _token("operator", "padded pass").status_code == 401


@pytest.mark.parametrize(
    "weak", ["password123", "12345678901234", "short", "operator1"]
)
def test_the_default_password_validators_apply(weak):
    with pytest.raises(ValidationError):
        validate_password(weak, User(username="operator1"))


@pytest.mark.parametrize("weak", ["password123", "98765432109876", "short"])
def test_the_demo_operator_refuses_a_weak_chosen_password(monkeypatch, weak):
    with pytest.raises(CommandError, match="DJANGO_SUPERUSER_PASSWORD"):
        _demo_operator(monkeypatch, weak)

    assert not User.objects.filter(username="operator").exists()


def test_a_generated_demo_password_passes_the_validators(monkeypatch):
    output = _demo_operator(monkeypatch)

    password = output.split("password: ")[1].strip()
    validate_password(password, User.objects.get(username="operator"))


# --- 12. operator tokens expire; customers' keys do not ---------------------


def _age(token_value, **delta):
    from accounts.authentication import token_digest

    ApiToken.objects.filter(digest=token_digest(token_value)).update(
        created_at=datetime.datetime.now(datetime.UTC)
        - datetime.timedelta(**delta)
    )


def _status(token_value):
    return token_client(token_value).get("/api/order/")


def test_an_operator_token_expires_after_its_lifetime(settings, operator):
    settings.OPERATOR_TOKEN_SECONDS = 3600
    _age(operator.api_token, minutes=59)
    assert _status(operator.api_token).status_code == 200

    _age(operator.api_token, minutes=61)

    response = _status(operator.api_token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_default_operator_token_lifetime_is_a_working_day(operator):
    _age(operator.api_token, hours=7, minutes=59)
    assert _status(operator.api_token).status_code == 200

    _age(operator.api_token, hours=8, minutes=1)

    assert _status(operator.api_token).status_code == 401


def test_an_expired_operator_logs_in_again(settings, operator):
    _age(operator.api_token, days=2)
    assert _status(operator.api_token).status_code == 401

    fresh = _token("operator", "s3cret-pass").json()["token"]

    assert _status(fresh).status_code == 200


def test_a_customer_key_lasts_until_revoked(make_customer):
    alice = make_customer("alice")
    _age(alice.api_key, days=400)

    assert _status(alice.api_key).status_code == 200

    account_services.customer_keys_revoke(customer_id=alice.pk)
    assert _status(alice.api_key).status_code == 401


def test_operator_tokens_may_be_kept_until_revoked(settings, operator):
    settings.OPERATOR_TOKEN_SECONDS = None
    _age(operator.api_token, days=400)

    assert _status(operator.api_token).status_code == 200
