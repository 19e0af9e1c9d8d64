"""Under /api/ a request no API view takes — an unknown path, a method the path does not take — is
answered in the API's own error shape, not as a page."""

import pytest


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/orders/SO-1/unknown", "/api/v2/orders"])
def test_an_unknown_api_path_is_a_json_404_in_the_api_shape(api, path):
    response = api.get(path)
    assert response.status_code == 404 and response.is_json
    assert response.json == {"error": "not_found", "message": "There is nothing here.", "details": {}}


def test_a_method_the_path_does_not_take_is_a_json_405_naming_the_allowed_ones(api):
    response = api.client.put("/api/v1/orders", json={}, headers=api.headers)
    assert response.status_code == 405 and response.json["error"] == "method_not_allowed"
    assert response.json["details"] == {} and "POST" in response.headers["Allow"]


def test_pages_keep_their_own_404_and_405(client):
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    wrong = client.put("/login")
    assert wrong.status_code == 405 and wrong.mimetype == "text/html" and "GET" in wrong.headers["Allow"]
