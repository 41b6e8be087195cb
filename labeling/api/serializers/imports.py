from rest_framework import serializers

from labeling.imports.formats import Format


class PromptImportIn(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(
        choices=Format.choices, required=False, help_text="Detected from the content if left out."
    )
    skip_invalid = serializers.BooleanField(
        default=False, help_text="Import the valid rows and skip the invalid ones."
    )


class PromptImportOut(serializers.Serializer):
    file_name = serializers.CharField()
    format = serializers.CharField()
    imported = serializers.IntegerField()
    demonstrations = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    invalid = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField(), source="error_lines")


class PromptImportRejectedOut(serializers.Serializer):
    detail = serializers.CharField()
    invalid_rows = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.CharField())
