"""The caller's own work: their judgements and demonstrations, newest first."""

import django_filters
from rest_framework.generics import ListAPIView

from labeling.api.serializers.tasks import DemonstrationOut, JudgementOut
from labeling.models import Demonstration, Judgement


class JudgementFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="prompt__project__slug")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Judgement
        fields = ["project", "kind", "outcome", "created_after"]


class DemonstrationFilter(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="prompt__project__slug")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Demonstration
        fields = ["project", "origin", "review_status", "created_after"]


class MyJudgementsApi(ListAPIView):
    queryset = Judgement.objects.none()  # for the schema; get_queryset scopes it
    serializer_class = JudgementOut
    filterset_class = JudgementFilter

    def get_queryset(self):
        return (
            Judgement.objects.filter(annotator=self.request.user)
            .select_related("prompt__project")
            .order_by("-created_at", "-pk")
        )


class MyDemonstrationsApi(ListAPIView):
    queryset = Demonstration.objects.none()
    serializer_class = DemonstrationOut
    filterset_class = DemonstrationFilter

    def get_queryset(self):
        return (
            Demonstration.objects.filter(author=self.request.user)
            .select_related("prompt__project")
            .order_by("-created_at", "-pk")
        )
