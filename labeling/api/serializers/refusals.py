"""The answer of a refused request, as labeling.api.exceptions writes it for every refusal."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from core.refusals import RefusalCode


class RefusalOut(serializers.Serializer):
    """A service said no: `detail` is for a person, `code` is what a program branches on."""

    detail = serializers.CharField(help_text="Why, in the language the request asked for.")
    code = serializers.ChoiceField(
        choices=RefusalCode.choices, help_text="The reason, the same in every language."
    )


# The `responses` entry of an endpoint whose service can refuse.
REFUSED = {409: OpenApiResponse(RefusalOut, description="Refused: `code` says why.")}
