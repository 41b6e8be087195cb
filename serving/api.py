"""The endpoints the model servers' agents call (serving.vllm.agent): which adapters to serve,
each adapter's archive, and the report of what a server has loaded.

They take no user: an agent shows the SERVING_AGENT_TOKEN as a bearer token, and without that
setting no agent is let in at all.
"""

import hmac

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from core.refusals import Refusal, RefusalCode
from serving.config import server_urls
from serving.selectors import adapter_archives_for_agents, adapter_for_agent
from serving.services import model_server_record_report
from serving.vllm.archive import archive_chunks, archive_digest


class AgentNotLetIn(Refusal):
    default_code = RefusalCode.AGENT_TOKEN_INVALID
    http_status = 401


class AgentsDisabled(Refusal):
    default_code = RefusalCode.AGENTS_DISABLED
    http_status = 403


class AgentRequestRefused(Refusal):
    default_code = RefusalCode.ADAPTER_NOT_SERVED
    http_status = 404


class AgentToken(BasePermission):
    """The bearer token must be SERVING_AGENT_TOKEN (compared in constant time)."""

    def has_permission(self, request, view) -> bool:
        expected = settings.SERVING_AGENT_TOKEN
        if not expected:
            raise AgentsDisabled(
                "This app lets no model-server agent in: set SERVING_AGENT_TOKEN on the app "
                "and give the agents the same token."
            )
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), expected.encode()
        ):
            raise AgentNotLetIn(
                "The agent's token is missing or wrong: send 'Authorization: Bearer "
                "<SERVING_AGENT_TOKEN>'."
            )
        return True


class AgentApi(APIView):
    authentication_classes: list = []  # no session, so no CSRF check; the token is the key
    permission_classes = [AgentToken]
    throttle_classes: list = []  # every agent polls; the token keeps strangers out


class AgentAdapterOut(serializers.Serializer):
    name = serializers.CharField(help_text="The served name (`model` in requests).")
    sha256 = serializers.CharField(help_text="SHA-256 of the archive at `url`.")
    size = serializers.IntegerField(help_text="Bytes of the archive.")
    url = serializers.CharField(help_text="The archive (a tar), relative to the app.")


class AgentAdaptersOut(serializers.Serializer):
    adapters = AgentAdapterOut(many=True)
    poll_seconds = serializers.FloatField()


class AgentAdaptersApi(AgentApi):
    @extend_schema(responses=AgentAdaptersOut)
    def get(self, request):
        adapters = [
            {
                "name": archive.name,
                "sha256": archive.sha256,
                "size": archive.size,
                "url": reverse("api:serving_agent_adapter_archive", args=[archive.name]),
            }
            for archive in adapter_archives_for_agents()
        ]
        body = {"adapters": adapters, "poll_seconds": settings.SERVING_AGENT_POLL_SECONDS}
        return Response(AgentAdaptersOut(body).data)


class AgentAdapterArchiveApi(AgentApi):
    @extend_schema(responses={(200, "application/x-tar"): bytes})
    def get(self, request, name: str):
        adapter = adapter_for_agent(name=name)
        if adapter is None:
            raise AgentRequestRefused(f"No adapter named {name!r} is to be served.")
        digest = archive_digest(adapter.path)
        response = StreamingHttpResponse(
            archive_chunks(adapter.path), content_type="application/x-tar"
        )
        response["Content-Length"] = str(digest.size)
        response["X-Adapter-SHA256"] = digest.sha256
        response["Content-Disposition"] = f'attachment; filename="{name}.tar"'
        return response


class AgentReportIn(serializers.Serializer):
    server = serializers.CharField(help_text="The server's URL as VLLM_URLS names it.")
    adapters = serializers.ListField(child=serializers.CharField(), allow_empty=True)
    failures = serializers.DictField(child=serializers.CharField(allow_blank=True), default=dict)
    error = serializers.CharField(allow_blank=True, default="")


class AgentReportApi(AgentApi):
    @extend_schema(request=AgentReportIn, responses={204: None})
    def post(self, request):
        data = AgentReportIn(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        url = fields["server"].rstrip("/")
        if url not in server_urls():
            raise AgentRequestRefused(
                f"{url} is not one of this app's model servers (VLLM_URLS: "
                f"{', '.join(server_urls())}): start the agent with --report-as set to its "
                "URL there.",
                code=RefusalCode.UNKNOWN_SERVER,
            )
        model_server_record_report(
            url=url, adapters=fields["adapters"], failures=fields["failures"], error=fields["error"]
        )
        return Response(status=204)
