from rest_framework import serializers

from labeling.models import Project, TaskKind


class ProjectOut(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = [
            "slug",
            "name",
            "guidelines",
            "task_kinds",
            "task_kind_weights",
            "completions_per_prompt",
            "overlap",
            "prompt_selection",
            "temperature",
            "top_p",
            "max_tokens",
            "compare_share",
            "text_template",
            "created_at",
        ]


class ProjectUpdateIn(serializers.ModelSerializer):
    """The settings an admin may change; project_update's full_clean decides what is valid
    (the same one the Django admin form runs), its errors answered 400 by field."""

    task_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TaskKind.choices), min_length=1, required=False
    )

    class Meta:
        model = Project
        fields = [
            "name",
            "guidelines",
            "task_kinds",
            "task_kind_weights",
            "completions_per_prompt",
            "overlap",
            "prompt_selection",
            "temperature",
            "top_p",
            "max_tokens",
            "compare_share",
            "text_template",
        ]


class AnnotatorStatsOut(serializers.Serializer):
    annotator_id = serializers.IntegerField()
    username = serializers.CharField()
    judgements_total = serializers.IntegerField()
    judgements_today = serializers.IntegerField()
    tasks_total = serializers.IntegerField()
    time_spent_ms = serializers.IntegerField(help_text="Summed over submitted tasks.")
