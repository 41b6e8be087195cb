from django.core.exceptions import ValidationError
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
            "completions_per_prompt",
            "overlap",
            "temperature",
            "top_p",
            "max_tokens",
            "text_template",
            "created_at",
        ]


class ProjectUpdateIn(serializers.ModelSerializer):
    """The settings an admin may change; the model's own validation decides what is valid
    (the same full_clean the Django admin form runs)."""

    task_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TaskKind.choices), min_length=1, required=False
    )

    class Meta:
        model = Project
        fields = [
            "name",
            "guidelines",
            "task_kinds",
            "completions_per_prompt",
            "overlap",
            "temperature",
            "top_p",
            "max_tokens",
            "text_template",
        ]

    def update(self, instance: Project, validated_data: dict) -> Project:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            instance.full_clean()
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        instance.save(update_fields=list(validated_data) or None)
        return instance


class AnnotatorStatsOut(serializers.Serializer):
    annotator_id = serializers.IntegerField()
    username = serializers.CharField()
    judgements_total = serializers.IntegerField()
    judgements_today = serializers.IntegerField()
    tasks_total = serializers.IntegerField()
    time_spent_ms = serializers.IntegerField(help_text="Summed over submitted tasks.")
