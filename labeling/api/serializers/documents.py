from rest_framework import serializers


class FileListField(serializers.ListField):
    """A list of files whose errors are one flat list of messages (as the service's, and the
    schema's), not DRF's {index: [messages]}."""

    def run_child_validation(self, data):
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError(
                [
                    f"Part {int(index) + 1}: {message}"
                    for index, messages in exc.detail.items()
                    for message in messages
                ]
            ) from None


class DocumentUploadIn(serializers.Serializer):
    files = FileListField(
        child=serializers.FileField(),
        allow_empty=False,
        help_text='.txt, .md (one document a file) or .jsonl (one {"text": ...} a line) files, '
        "UTF-8; send the field once per file.",
    )


class DocumentUploadOut(serializers.Serializer):
    files = serializers.IntegerField()
    stored = serializers.IntegerField(help_text="Documents new to the project, now stored.")
    chars = serializers.IntegerField(help_text="Characters of the stored documents.")
    duplicates = serializers.IntegerField(help_text="Documents skipped as already there.")
    duplicates_existing = serializers.IntegerField()
    duplicates_in_upload = serializers.IntegerField()
    empty = serializers.IntegerField(help_text="JSON lines dropped as empty after cleaning.")
    summary = serializers.CharField()
