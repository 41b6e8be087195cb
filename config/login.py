"""The browser login is a password check too, so it is throttled (the API's token endpoint is
throttled by DRF)."""

from django.contrib.auth import views as auth_views
from django.core.cache import cache
from django.http import HttpResponse

LOGIN_FAILURES_ALLOWED = 10
LOGIN_FAILURE_WINDOW_S = 5 * 60


class ThrottledLoginView(auth_views.LoginView):
    """The browser login is a password check too: after 10 failures in 5 minutes for one
    (IP, username) pair, answer 429 until the window passes."""

    def _key(self) -> str:
        ip = self.request.META.get("REMOTE_ADDR", "")
        username = self.request.POST.get("username", "").lower()
        return f"login-failures:{ip}:{username}"

    def post(self, request, *args, **kwargs):
        if cache.get(self._key(), 0) >= LOGIN_FAILURES_ALLOWED:
            message = "Too many failed logins. Try again in a few minutes."
            return HttpResponse(message, status=429, content_type="text/plain; charset=utf-8")
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        key = self._key()
        cache.add(key, 0, LOGIN_FAILURE_WINDOW_S)
        cache.incr(key)
        return super().form_invalid(form)
