"""The agents' endpoints (serving.api); config.api_urls mounts them under /api/."""

from django.urls import path

from serving import api

urlpatterns = [
    path(
        "serving/agent/adapters/",
        api.AgentAdaptersApi.as_view(),
        name="serving_agent_adapters",
    ),
    path(
        "serving/agent/adapters/<str:name>/archive/",
        api.AgentAdapterArchiveApi.as_view(),
        name="serving_agent_adapter_archive",
    ),
    path("serving/agent/report/", api.AgentReportApi.as_view(), name="serving_agent_report"),
]
