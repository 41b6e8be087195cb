"""The annotator's queue: the current or next task, submissions and skips by task token."""

import uuid

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from labeling.api.permissions import assignment_of, project_of
from labeling.api.serializers.refusals import REFUSED
from labeling.api.serializers.tasks import (
    ContinuationIn,
    ContinuationOut,
    DemonstrationIn,
    DemonstrationOut,
    JudgementIn,
    JudgementOut,
    SkipIn,
    TaskExtendOut,
    TaskNextOut,
)
from labeling.selectors.queue import annotator_progress, task_view
from labeling.services.queue import (
    assignment_extend,
    continuation_submit,
    demonstration_submit,
    judgement_submit,
    task_next,
    task_skip,
)


class TaskNextApi(APIView):
    @extend_schema(responses={200: TaskNextOut}, operation_id="task_next")
    def get(self, request, slug: str):
        """The caller's current task while its lock lasts, else a new one (null: none left)."""
        project = project_of(user=request.user, slug=slug)
        assignment = task_next(annotator=request.user, project=project)
        task = task_view(assignment=assignment) if assignment else None
        progress = annotator_progress(annotator=request.user, project=project)
        return Response(TaskNextOut({"task": task, "progress": progress}).data)


class JudgementSubmitApi(APIView):
    @extend_schema(request=JudgementIn, responses={201: JudgementOut, **REFUSED})
    def post(self, request, token: uuid.UUID):
        assignment_of(user=request.user, token=token)
        data = JudgementIn(data=request.data)
        data.is_valid(raise_exception=True)
        judgement = judgement_submit(token=token, annotator=request.user, **data.validated_data)
        return Response(JudgementOut(judgement).data, status=status.HTTP_201_CREATED)


class DemonstrationSubmitApi(APIView):
    @extend_schema(request=DemonstrationIn, responses={201: DemonstrationOut, **REFUSED})
    def post(self, request, token: uuid.UUID):
        assignment_of(user=request.user, token=token)
        data = DemonstrationIn(data=request.data)
        data.is_valid(raise_exception=True)
        demonstration = demonstration_submit(
            token=token, annotator=request.user, **data.validated_data
        )
        return Response(DemonstrationOut(demonstration).data, status=status.HTTP_201_CREATED)


class ContinuationSubmitApi(APIView):
    @extend_schema(request=ContinuationIn, responses={201: ContinuationOut, **REFUSED})
    def post(self, request, token: uuid.UUID):
        """A continue task's answer: the user's next message, which makes a new prompt."""
        assignment_of(user=request.user, token=token)
        data = ContinuationIn(data=request.data)
        data.is_valid(raise_exception=True)
        prompt = continuation_submit(token=token, annotator=request.user, **data.validated_data)
        return Response(ContinuationOut(prompt).data, status=status.HTTP_201_CREATED)


class TaskSkipApi(APIView):
    @extend_schema(request=SkipIn, responses={204: None, **REFUSED})
    def post(self, request, token: uuid.UUID):
        assignment_of(user=request.user, token=token)
        data = SkipIn(data=request.data)
        data.is_valid(raise_exception=True)
        task_skip(token=token, annotator=request.user, reason=data.validated_data["reason"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class TaskExtendApi(APIView):
    @extend_schema(request=None, responses={200: TaskExtendOut, **REFUSED})
    def post(self, request, token: uuid.UUID):
        """Hold the caller's active task for a full lock from now (while they work on it)."""
        assignment_of(user=request.user, token=token)
        assignment = assignment_extend(token=token, annotator=request.user)
        return Response(TaskExtendOut(assignment).data)
