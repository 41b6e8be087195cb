from rest_framework import serializers

from labeling.imports.formats import Format


def encodable(text: str) -> str:
    """The import reports quote rows decoded with surrogateescape; a lone surrogate cannot be
    written as UTF-8 JSON, so the bad byte is shown escaped (\\x89) instead."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte ("\\ud800" in JSON)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


class ReportLineField(serializers.CharField):
    def to_representation(self, value) -> str:
        return encodable(super().to_representation(value))


class PromptImportIn(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(
        choices=Format.choices, required=False, help_text="Detected from the content if left out."
    )
    skip_invalid = serializers.BooleanField(
        default=False, help_text="Import the valid rows and skip the invalid ones."
    )


class PromptImportOut(serializers.Serializer):
    file_name = ReportLineField()
    format = serializers.CharField()
    imported = serializers.IntegerField()
    demonstrations = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()
    errors = serializers.ListField(child=ReportLineField(), source="error_lines")
