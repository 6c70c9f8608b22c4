"""The error envelope of docs/api.md, checked on a test client's
response."""

ERROR_KEYS = {"code", "message", "details"}


def assert_error(response, status, code=None):
    """``response`` is the error envelope with ``status``, and with
    ``code`` when one is given; returns the error object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == ERROR_KEYS
    if code is not None:
        assert error["code"] == code
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    return error
