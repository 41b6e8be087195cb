"""The browser login form refuses a password guesser after ten failures in five minutes."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_ten_failed_logins_lock_out_that_username_from_that_address(client):
    cache.clear()
    UserFactory(username="ann")
    url = reverse("login")
    for _ in range(10):
        assert client.post(url, {"username": "ann", "password": "wrong"}).status_code == 200
    refused = client.post(url, {"username": "ann", "password": "correct horse battery staple"})
    assert refused.status_code == 429 and b"Too many failed logins" in refused.content
    other = client.post(url, {"username": "bob", "password": "wrong"})
    assert other.status_code == 200  # another username is not locked out
    cache.clear()


def test_the_admin_login_goes_through_the_throttled_login(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"
