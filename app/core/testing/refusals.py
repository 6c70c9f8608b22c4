"""What a refused request must leave as it was, and the check that it
did: shared by the input tests."""

from accounts.models import ApiToken, Customer, LedgerEntry
from orders.models import Order, Purchase


def books():
    """Everything a refused request must leave as it was."""
    return (
        list(Customer.objects.order_by("pk").values_list("pk", "balance")),
        Order.objects.count(),
        LedgerEntry.objects.count(),
        Purchase.objects.count(),
        ApiToken.objects.count(),
    )


def assert_refused(client, path, body, status=400, code="invalid"):
    """POST ``body`` (raw JSON text) to ``path``: refused in the envelope
    with ``status`` and ``code``, and nothing written. Returns the
    error."""
    before = books()
    client.raise_request_exception = False

    response = client.post(path, body, content_type="application/json")

    assert response.status_code == status, (body[:200], response.content)
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert isinstance(error["details"], dict)
    assert books() == before
    return error
