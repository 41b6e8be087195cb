from rest_framework import serializers

from labeling.models import DatasetExport


class DatasetExportIn(serializers.Serializer):
    format = serializers.ChoiceField(choices=DatasetExport.Format.choices)
    rule = serializers.ChoiceField(
        choices=DatasetExport.Rule.choices, default=DatasetExport.Rule.ALL
    )
    split = serializers.ListField(
        child=serializers.FloatField(min_value=0, max_value=1),
        min_length=3,
        max_length=3,
        required=False,
        help_text="train, validation, test shares; default 0.9, 0.05, 0.05 (1, 0, 0 with "
        "held_out false).",
    )
    held_out = serializers.BooleanField(
        default=True,
        help_text="false: no held-out rows (split 1, 0, 0) for a first tiny round; runs on the "
        "export are not evaluated. A split that holds rows out is then refused.",
    )
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**62)
    parquet = serializers.BooleanField(default=False)
    filters = serializers.DictField(required=False, default=dict)
    options = serializers.DictField(
        required=False,
        default=dict,
        help_text="require_accepted, kto_from_rankings, conversational, near_duplicates "
        "(booleans); preference only: min_chosen_helpful, min_chosen_harmless (1-5: pairs whose "
        "chosen answer's mean score is lower are dropped).",
    )


class DatasetExportOut(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    files = serializers.SerializerMethodField()
    held_out = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = DatasetExport
        fields = [
            "id",
            "project",
            "format",
            "rule",
            "status",
            "split_train",
            "split_validation",
            "split_test",
            "seed",
            "parquet",
            "filters",
            "options",
            "rows_train",
            "rows_validation",
            "rows_test",
            "content_hash",
            "error",
            "held_out",
            "warnings",
            "files",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_held_out(self, export: DatasetExport) -> bool | None:
        """Whether any row is held out to evaluate a run on; null until the export is done."""
        return (export.manifest or {}).get("held_out")

    def get_warnings(self, export: DatasetExport) -> list[dict]:
        """{"code", "message", "split"} per problem of the splits (empty or tiny ones)."""
        return (export.manifest or {}).get("warnings", [])

    def get_files(self, export: DatasetExport) -> list[str]:
        """Names the download endpoint serves (empty until the export is done)."""
        if export.directory is None:
            return []
        return ["manifest.json", *sorted((export.manifest or {}).get("files", {}))]
