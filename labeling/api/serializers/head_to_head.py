from rest_framework import serializers


class HeadToHeadOut(serializers.Serializer):
    live = serializers.CharField(
        source="live.served_name", allow_null=True, help_text="Served name of the live version."
    )
    comparison = serializers.CharField(
        source="comparison.served_name",
        allow_null=True,
        help_text="The version the live one replaced; null when it replaced none.",
    )
    wins = serializers.IntegerField(source="counts.wins", help_text="The live version chosen.")
    losses = serializers.IntegerField(source="counts.losses")
    ties = serializers.IntegerField(source="counts.ties")
    both_bad = serializers.IntegerField(source="counts.both_bad")
    n = serializers.IntegerField(help_text="Compare judgements of one completion of each.")
    win_rate = serializers.FloatField(
        allow_null=True, help_text="Of the live version; ties and both-bad count half."
    )
    low = serializers.FloatField(allow_null=True, help_text="95% Wilson interval, lower end.")
    high = serializers.FloatField(allow_null=True)
    verdict = serializers.ChoiceField(
        choices=["better", "worse", "unclear"],
        allow_null=True,
        help_text="better/worse: the whole interval is above/below 0.5; null before any data.",
    )
