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
        default=[0.9, 0.05, 0.05],
    )
    seed = serializers.IntegerField(default=0, min_value=0, max_value=2**62)
    parquet = serializers.BooleanField(default=False)
    filters = serializers.DictField(required=False, default=dict)
    options = serializers.DictField(required=False, default=dict)


class DatasetExportOut(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    files = serializers.SerializerMethodField()

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
            "files",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def get_files(self, export: DatasetExport) -> list[str]:
        """Names the download endpoint serves (empty until the export is done)."""
        if export.directory is None:
            return []
        return ["manifest.json", *sorted((export.manifest or {}).get("files", {}))]
