from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from config.login import ThrottledLoginView
from labeling.api.views.docs import ApiDocsView

urlpatterns = [
    # The admin's own login form would bypass the throttle: send it to the throttled one.
    path(
        "admin/login/",
        RedirectView.as_view(pattern_name="login", query_string=True),
        name="admin-login-redirect",
    ),
    # ModelServer moved from the training app to serving; keep the old admin address working.
    path(
        "admin/training/modelserver/",
        RedirectView.as_view(
            pattern_name="admin:serving_modelserver_changelist", query_string=True
        ),
    ),
    path("admin/", admin.site.urls),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/", include("config.api_urls")),
    path("training/", include("training.urls")),
    path("", include("labeling.urls")),
]
