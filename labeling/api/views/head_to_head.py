"""The live version against the one it replaced, as the annotators' choices say, for admins."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import project_of
from labeling.api.serializers.head_to_head import HeadToHeadOut
from labeling.selectors.head_to_head import version_head_to_head


class HeadToHeadApi(APIView):
    @extend_schema(responses=HeadToHeadOut)
    def get(self, request, slug: str):
        project = project_of(user=request.user, slug=slug, admin=True)
        return Response(HeadToHeadOut(version_head_to_head(project)).data)
