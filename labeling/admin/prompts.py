"""Prompts, with the gold verdict an admin may set on one (checked by the gold service)."""

from django import forms
from django.contrib import admin

from labeling.admin.scoping import ProjectScopedAdmin
from labeling.models import Prompt
from labeling.services.gold import gold_verdict_check


class PromptAdminForm(forms.ModelForm):
    class Meta:
        model = Prompt
        fields = ["gold_verdict"]  # the admin adds the others

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None:
            gold_verdict_check(prompt=self.instance, verdict=cleaned.get("gold_verdict"))
        return cleaned


@admin.register(Prompt)
class PromptAdmin(ProjectScopedAdmin):
    form = PromptAdminForm
    list_display = ["short_instruction", "project", "category", "language", "source", "created_at"]
    list_filter = ["project", "category", "language", "source"]
    search_fields = ["instruction", "input"]
    readonly_fields = ["dedupe_key", "created_at"]
    list_select_related = ["project"]
    show_full_result_count = False

    @admin.display(description="Instruction")
    def short_instruction(self, prompt):
        return prompt.instruction[:100]
