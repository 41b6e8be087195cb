"""Format families: where an export's items come from (demonstrations, judgements) and how
one prompt's items become rows. The streaming itself is labeling.exports.pipeline's."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

from labeling.exports import derive, flags, formats
from labeling.exports.dedupe import text_key
from labeling.exports.documents import documents_stream
from labeling.kinds import kto_kinds, preference_kinds
from labeling.models import Demonstration, Judgement
from labeling.provenance import provenance_of
from labeling.selectors.exports import (
    export_completions,
    export_demonstrations,
    export_judgements,
    export_ratings,
)

if TYPE_CHECKING:
    from labeling.exports.pipeline import ExportSpec, _Chunk, _Context


@dataclass
class PromptDraft:
    """One prompt's derived items before they become rows (what `items` holds is the format
    family's: demonstrations, pairs or labels)."""

    items: list
    agreement: float | None = None


# --- format families: where the items come from and how they become rows ---------------------


class _SftFamily:
    """Demonstrations (imported, written, answered, edited) as instruction/output rows."""

    @staticmethod
    def derive(context: _Context, prompt_ids: list[int]):
        spec = context.spec
        demonstrations = export_demonstrations(
            prompt_ids=prompt_ids,
            origins=None,
            review_statuses=spec.review_statuses(),
            filters=spec.filters,
            as_of=spec.as_of,
        )
        demonstrations = _screen(context, prompt_ids).demonstrations(demonstrations)
        if spec.human_only:
            drafted = [d for d in demonstrations if d["drafted_by"]]
            context.tally.rows_dropped_drafted += len(drafted)
            demonstrations = [d for d in demonstrations if not d["drafted_by"]]
        drafts: dict[int, PromptDraft] = {}
        for demonstration in demonstrations:
            drafts.setdefault(demonstration["prompt_id"], PromptDraft([])).items.append(
                demonstration
            )
        return drafts, {}

    @staticmethod
    def rows(context: _Context, prompt: formats.PromptText, draft: PromptDraft, chunk: _Chunk):
        rows = []
        for demonstration in draft.items:
            output = context.scrub(demonstration["output"])
            output_provenance = provenance_of(
                drafted_by=demonstration["drafted_by"],
                edit_distance=demonstration["edit_distance"],
            )
            context.tally.outputs_by_provenance[output_provenance] += 1
            provenance = {
                "prompt_id": prompt.id,
                "sources": [f"demonstration:{demonstration['pk']}"],
                "annotators": [context.pseudonym(demonstration["author_id"])],
                "origin": demonstration["origin"],
                "prompt_provenance": context.prompt_provenance[prompt.id],
                "output_provenance": output_provenance,
                "drafted_by": demonstration["drafted_by"],
            }
            row = formats.sft_row(
                context.spec.format,
                prompt,
                output,
                template=context.template,
                provenance=provenance,
            )
            context.tally.sources[f"demonstrations_{demonstration['origin']}"] += 1
            rows.append(((text_key(output),), row))
        return rows


class _PreferenceFamily:
    """Pairs from rankings and comparisons (by the rule), plus edited-over-original pairs and
    imported pairs (HH-RLHF's chosen over rejected)."""

    @staticmethod
    def derive(context: _Context, prompt_ids: list[int]):
        spec, tally = context.spec, context.tally
        judgements = export_judgements(
            prompt_ids=prompt_ids,
            kinds=list(preference_kinds()),
            outcomes=[Judgement.Outcome.RANKED, Judgement.Outcome.CHOICE],
            filters=spec.filters,
            as_of=spec.as_of,
        )
        edits = export_demonstrations(
            prompt_ids=prompt_ids,
            origins=[Demonstration.Origin.EDITED, Demonstration.Origin.IMPORTED],
            review_statuses=spec.review_statuses(),
            filters=spec.filters,
            as_of=spec.as_of,
        )
        screen = _screen(context, prompt_ids)
        # An edit over the completion it started from; an imported pair (HH-RLHF) over its
        # rejected answer.
        edits = [
            edit
            for edit in edits
            if edit["source_completion_id"] is not None or edit["rejected_output"]
        ]
        edits = screen.demonstrations(edits)
        named = {edit["source_completion_id"] for edit in edits}
        for judgement in judgements:
            named.update(chain.from_iterable(judgement["ranking"] or ()))
            named.update((judgement["left_completion_id"], judgement["right_completion_id"]))
        completions = export_completions(prompt_ids=prompt_ids, ids=named)
        allowed = _allowed_completions(spec, completions, context.versions)
        votes: dict[int, list[derive.Vote]] = {}
        for judgement in judgements:
            votes.setdefault(judgement["prompt_id"], []).extend(_votes_of(judgement, allowed))
        drafts: dict[int, PromptDraft] = {}
        for prompt_id, prompt_votes in votes.items():
            result = derive.prompt_preferences(prompt_votes, spec.rule)
            tally.conflicts += result.conflicts
            tally.ties += result.ties
            tally.sources["votes"] += len(prompt_votes)
            drafts[prompt_id] = PromptDraft(screen.pairs(result.pairs), result.agreement)
        for edit in edits:
            imported_pair = edit["source_completion_id"] is None
            if edit["source_completion_id"] in allowed or (
                imported_pair and not spec.filters.get("model_versions")
            ):
                drafts.setdefault(edit["prompt_id"], PromptDraft([])).items.append(edit)
        return drafts, completions

    @staticmethod
    def rows(context: _Context, prompt: formats.PromptText, draft: PromptDraft, chunk: _Chunk):
        rows = []
        shaped_prompt = context.shape.prompt(prompt)
        provenance: dict[tuple, tuple] = {}  # the pairs of one judgement share it
        shaped = chunk.shaped
        pairs = edits = imported = 0
        for item in draft.items:
            if isinstance(item, derive.Pair):
                chosen_id, rejected_id = item.chosen, item.rejected
                shared = provenance.get(item.judgement_ids)
                if shared is None or shared[2] != item.annotator_ids:
                    sources = [f"judgement:{pk}" for pk in item.judgement_ids]
                    shared = (sources, context.annotators(item.annotator_ids), item.annotator_ids)
                    provenance[item.judgement_ids] = shared
                sources, annotators = shared[0], shared[1]  # shared: a merge makes new lists
                chosen, chosen_key, chosen_version = shaped.get(chosen_id) or chunk.shape(
                    prompt, chosen_id
                )
                rejected, rejected_key, rejected_version = shaped.get(rejected_id) or chunk.shape(
                    prompt, rejected_id
                )
                completion_ids = [chosen_id, rejected_id]
                model_versions = [chosen_version, rejected_version]
                pairs += 1
            else:  # an edit: the annotator's text over the completion it started from
                rejected_id = item["source_completion_id"]
                edited = context.scrub(item["output"])
                chosen, chosen_key = context.shape.answer(prompt, edited), text_key(edited)
                if rejected_id is None:  # an imported pair: no completion, no version
                    text = context.scrub(item["rejected_output"])
                    rejected, rejected_key = context.shape.answer(prompt, text), text_key(text)
                    completion_ids, model_versions = [0], [0]
                    imported += 1
                else:
                    rejected, rejected_key, rejected_version = chunk.shape(prompt, rejected_id)
                    completion_ids, model_versions = [rejected_id], [rejected_version]
                    edits += 1
                sources = [f"demonstration:{item['pk']}"]
                annotators = [context.pseudonym(item["author_id"])]
            row = formats.preference_row(
                shaped_prompt,
                chosen,
                rejected,
                prompt_id=prompt.id,
                sources=sources,
                annotators=annotators,
                completion_ids=completion_ids,
                model_versions=model_versions,
            )
            rows.append(((chosen_key, rejected_key), row))
        context.tally.sources["pairs_from_judgements"] += pairs
        context.tally.sources["pairs_from_edits"] += edits
        context.tally.sources["pairs_imported"] += imported
        return rows


class _KtoFamily:
    """Thumbs of rate judgements; "none acceptable" rankings as negatives; optionally the top
    and bottom of rankings."""

    @staticmethod
    def derive(context: _Context, prompt_ids: list[int]):
        spec, tally = context.spec, context.tally
        outcomes = [Judgement.Outcome.RATED, Judgement.Outcome.NONE_ACCEPTABLE]
        if spec.options.get("kto_from_rankings"):
            outcomes.append(Judgement.Outcome.RANKED)
        judgements = export_judgements(
            prompt_ids=prompt_ids,
            kinds=list(kto_kinds()),
            outcomes=outcomes,
            filters=spec.filters,
            as_of=spec.as_of,
            with_shown=True,
        )
        named: set[int] = set()
        for judgement in judgements:
            named.update(int(key) for key in judgement["ratings"] or {})
            named.update(judgement["shown"])
            named.update(chain.from_iterable(judgement["ranking"] or ()))
        completions = export_completions(prompt_ids=prompt_ids, ids=named)
        allowed = _allowed_completions(spec, completions, context.versions)
        labels: dict[int, list[derive.Label]] = {}
        for judgement in judgements:
            labels.setdefault(judgement["prompt_id"], []).extend(_labels_of(judgement, allowed))
        drafts = {}
        screen = _screen(context, prompt_ids)
        for prompt_id, prompt_labels in labels.items():
            result = _screened_labels(screen, prompt_labels, spec.rule)
            tally.conflicts += result.conflicts
            tally.ties += result.ties
            tally.sources["labels"] += len(prompt_labels)
            drafts[prompt_id] = PromptDraft(list(result.rows), result.agreement)
        return drafts, completions

    @staticmethod
    def rows(context: _Context, prompt: formats.PromptText, draft: PromptDraft, chunk: _Chunk):
        rows = []
        shaped_prompt = context.shape.prompt(prompt)
        for item in draft.items:
            completion, key, version = chunk.shape(prompt, item.completion_id)
            row = formats.kto_row(
                shaped_prompt,
                completion,
                item.desirable,
                prompt_id=prompt.id,
                sources=[f"judgement:{pk}" for pk in item.judgement_ids],
                annotators=context.annotators(item.annotator_ids),
                completion_ids=[item.completion_id],
                model_versions=[version],
            )
            context.tally.sources["desirable" if item.desirable else "undesirable"] += 1
            rows.append(((key, item.desirable), row))
        return rows


class _DocumentsFamily:
    """Uploaded domain documents, one {"text"} row each: no prompt's items, so the pipeline
    hands the whole export to `stream` (labeling.exports.documents)."""

    stream = staticmethod(documents_stream)


def family_of(format: str):
    if format in formats.SFT_FORMATS:
        return _SftFamily
    if format in formats.PREFERENCE_FORMATS:
        return _PreferenceFamily
    if format in formats.KTO_FORMATS:
        return _KtoFamily
    if format in formats.DOCUMENT_FORMATS:
        return _DocumentsFamily
    raise ValueError(f"unknown export format {format!r}")


def _screen(context: _Context, prompt_ids: list[int]) -> flags.Screen:
    """The chunk's flags and scores, by any annotator (counted once per chunk)."""
    assessed = flags.assessments_of(export_ratings(prompt_ids=prompt_ids, as_of=context.spec.as_of))
    context.tally.flags.count(assessed)
    return flags.Screen(assessed, flags.minimums_of(context.spec.options), context.tally.flags)


def _screened_labels(
    screen: flags.Screen, labels: list[derive.Label], rule: str
) -> derive.PromptLabels:
    """The prompt's KTO rows from the labels the flags leave, before the rule (a harmful
    completion's undesirable labels then decide its row); conflicts and agreement stay those of
    every label, as they measure the annotators, not the screen."""
    result = derive.prompt_labels(labels, rule)
    kept = screen.labels(labels)
    if len(kept) != len(labels):
        screened = derive.prompt_labels(kept, rule)
        result.rows, result.ties = screened.rows, screened.ties
    return result


def _allowed_completions(
    spec: ExportSpec, completions: dict[int, tuple[str, int]], versions: dict[int, int]
) -> Collection[int]:
    """The completions found (a ranking may name one deleted since) of the model versions the
    filter names."""
    wanted = set(spec.filters.get("model_versions") or [])
    if not wanted:
        return completions.keys()
    return {pk for pk, (_, version_id) in completions.items() if versions.get(version_id) in wanted}


def _votes_of(judgement: dict, allowed: Collection[int]) -> list[derive.Vote]:
    ids = {"judgement_id": judgement["pk"], "annotator_id": judgement["annotator_id"]}
    if judgement["outcome"] == Judgement.Outcome.RANKED:
        return derive.ranking_votes(judgement["ranking"] or [], allowed=allowed, **ids)
    return derive.choice_votes(
        judgement["choice"],
        left=judgement["left_completion_id"],
        right=judgement["right_completion_id"],
        allowed=allowed,
        **ids,
    )


def _labels_of(judgement: dict, allowed: Collection[int]) -> list[derive.Label]:
    ids = {"judgement_id": judgement["pk"], "annotator_id": judgement["annotator_id"]}
    if judgement["outcome"] == Judgement.Outcome.RATED:
        return derive.rating_labels(judgement["ratings"] or {}, allowed=allowed, **ids)
    if judgement["outcome"] == Judgement.Outcome.NONE_ACCEPTABLE:
        return derive.none_acceptable_labels(judgement["shown"], allowed=allowed, **ids)
    return derive.ranking_extreme_labels(judgement["ranking"] or [], allowed=allowed, **ids)
