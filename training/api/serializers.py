from rest_framework import serializers

from training.models import ModelVersion, TrainingRun


class TrainingRunIn(serializers.Serializer):
    method = serializers.ChoiceField(choices=TrainingRun.Method.choices)
    export = serializers.IntegerField(help_text="Id of a finished dataset export of the project.")
    base_version = serializers.IntegerField(
        required=False, min_value=0, help_text="Version number; the live version if left out."
    )
    reward_version = serializers.IntegerField(
        required=False,
        min_value=0,
        help_text="RLHF only: the version number of the reward model to optimise against; "
        "left out, the run trains one on the export first.",
    )
    overrides = serializers.DictField(required=False, default=dict)
    publish = serializers.ChoiceField(
        choices=TrainingRun.Publish.choices,
        default=TrainingRun.Publish.IF_BETTER,
        help_text="When it succeeds: keep a candidate, publish, or publish only if better than "
        "the parent version on the held-out rows.",
    )


class TrainingRunOut(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    base_version = serializers.SlugRelatedField(slug_field="number", read_only=True)
    result_version = serializers.SlugRelatedField(
        slug_field="number", read_only=True, allow_null=True, help_text="null until it finishes."
    )

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "project",
            "method",
            "status",
            "config",
            "export",
            "base_version",
            "publish",
            "result_version",
            "gate",
            "step",
            "total_steps",
            "loss",
            "metrics",
            "error",
            "cancel_requested",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ModelVersionOut(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ModelVersion
        fields = ["id", "project", "number", "served_name", "status", "metrics", "created_at"]
