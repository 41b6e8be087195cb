from rest_framework import serializers

from labeling.models import Demonstration, Judgement, Prompt


class CompletionOut(serializers.Serializer):
    id = serializers.IntegerField()
    text = serializers.CharField()


class TurnOut(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField()


class PromptOut(serializers.Serializer):
    instruction = serializers.CharField()
    input = serializers.CharField(allow_blank=True)
    category = serializers.CharField(allow_blank=True)
    history = TurnOut(
        many=True,
        help_text="The conversation before this turn (empty for a single prompt): the task "
        "judges or continues the assistant's answer to `instruction` given all of it.",
    )


class TaskOut(serializers.Serializer):
    kind = serializers.CharField()
    kind_label = serializers.CharField()
    token = serializers.UUIDField()
    prompt = PromptOut(allow_null=True)
    completions = CompletionOut(many=True)
    left = CompletionOut(allow_null=True)
    right = CompletionOut(allow_null=True)
    expires_at = serializers.DateTimeField()
    guidelines = serializers.CharField(allow_blank=True)
    project_name = serializers.CharField()
    project_slug = serializers.CharField()


class ProgressOut(serializers.Serializer):
    done_today = serializers.IntegerField()
    done_total = serializers.IntegerField()
    left_in_queue = serializers.IntegerField()
    left_is_capped = serializers.BooleanField()


class TaskNextOut(serializers.Serializer):
    task = TaskOut(allow_null=True, help_text="null when there is nothing to do.")
    progress = ProgressOut()


class JudgementIn(serializers.Serializer):
    ranking = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        required=False,
        allow_null=True,
        help_text="rank: tie groups of completion ids, best first.",
    )
    outcome = serializers.ChoiceField(
        choices=[Judgement.Outcome.NONE_ACCEPTABLE, Judgement.Outcome.CANNOT_JUDGE],
        required=False,
        allow_null=True,
    )
    choice = serializers.ChoiceField(
        choices=Judgement.Choice.choices, required=False, allow_null=True
    )
    ratings = serializers.DictField(
        child=serializers.DictField(), required=False, allow_null=True, help_text="rate tasks."
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    time_spent_ms = serializers.IntegerField(min_value=0, max_value=2**31 - 1)


class DemonstrationIn(serializers.Serializer):
    output = serializers.CharField(max_length=64_000)
    instruction = serializers.CharField(required=False, allow_blank=True, max_length=16_000)
    input = serializers.CharField(required=False, allow_blank=True, default="", max_length=64_000)
    category = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    time_spent_ms = serializers.IntegerField(min_value=0, max_value=2**31 - 1)


class ContinuationIn(serializers.Serializer):
    turn = serializers.CharField(
        max_length=16_000, help_text="The user's next message, after the shown completion."
    )
    time_spent_ms = serializers.IntegerField(min_value=0, max_value=2**31 - 1)


class ContinuationOut(serializers.ModelSerializer):
    """The new prompt: the conversation one exchange longer."""

    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    history = TurnOut(many=True)

    class Meta:
        model = Prompt
        fields = ["id", "project", "instruction", "history", "source", "created_at"]


class TaskExtendOut(serializers.Serializer):
    expires_at = serializers.DateTimeField(help_text="The task is held for the caller until then.")


class SkipIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class JudgementOut(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(
        source="prompt.project", slug_field="slug", read_only=True
    )

    class Meta:
        model = Judgement
        fields = [
            "id",
            "project",
            "prompt",
            "kind",
            "outcome",
            "ranking",
            "choice",
            "ratings",
            "reason",
            "time_spent_ms",
            "created_at",
        ]


class DemonstrationOut(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(
        source="prompt.project", slug_field="slug", read_only=True
    )

    class Meta:
        model = Demonstration
        fields = ["id", "project", "prompt", "output", "origin", "review_status", "created_at"]
