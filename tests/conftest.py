import pytest

pytest_plugins = ["tests.fixtures.vllm"]


@pytest.fixture(autouse=True, scope="session")
def _plain_http_on_loopback():
    """Tests talk to the app over plain HTTP on loopback: no HTTPS redirect, no secure cookies.

    (With DEBUG off, the settings otherwise enforce HTTPS, as `check --deploy` wants.)
    """
    from django.conf import settings

    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    yield


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in Korean leaves Korean active in the test's thread (LocaleMiddleware never
    deactivates it), so lazily translated messages read after it would come out in Korean."""
    yield
    from django.utils import translation

    translation.deactivate()
