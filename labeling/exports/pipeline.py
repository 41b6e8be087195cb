"""The streaming export: the project's prompts a chunk at a time, through derivation, filters,
de-duplication and scrubbing, into the split files of a snapshot.

Per chunk of prompts (in id order): read the chunk's judgements or demonstrations and the
completions they name; derive each prompt's pairs, labels or demonstrations; drop prompts
below the minimum agreement; drop prompts that repeat an earlier prompt (exactly or nearly,
so that one question never sits in two splits); scrub personal data from the texts that go
out; build the rows, merge a prompt's exactly repeated rows; write them to the prompt's split.
Only the chunk and the duplicate detector's fingerprints are in memory at any time.
"""

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain

from labeling.exports import derive, formats
from labeling.exports.dedupe import Deduplicator, text_key
from labeling.exports.scrub import ScrubCounts, scrub
from labeling.exports.snapshot import SnapshotWriter
from labeling.exports.split import split_of
from labeling.models import Demonstration, Judgement, Project, TaskKind
from labeling.selectors.exports import (
    export_completions,
    export_demonstrations,
    export_judgements,
    export_prompt_chunks,
    model_version_numbers,
)

CHUNK_PROMPTS = 2000
DEFAULT_REVIEW_STATUSES = (
    Demonstration.ReviewStatus.PENDING,
    Demonstration.ReviewStatus.ACCEPTED,
)


@dataclass(frozen=True)
class ExportSpec:
    """What to export, as plain values (a DatasetExport's fields)."""

    project: Project
    format: str
    rule: str
    filters: dict
    options: dict
    ratios: tuple[float, float, float]
    seed: int
    as_of: datetime  # rows created later are not part of the snapshot

    @property
    def conversational(self) -> bool:
        return bool(self.options.get("conversational", True))

    def review_statuses(self) -> list[str]:
        """Demonstrations admitted: pending and accepted unless the filter says otherwise;
        accepted only when the export requires review."""
        statuses = list(self.filters.get("review_status") or DEFAULT_REVIEW_STATUSES)
        if self.options.get("require_accepted"):
            statuses = [s for s in statuses if s == Demonstration.ReviewStatus.ACCEPTED]
        return statuses


@dataclass
class ExportTally:
    """The figures of the manifest, counted while streaming."""

    prompts_read: int = 0
    prompts_exported: int = 0
    prompts_by_split: Counter = field(default_factory=Counter)
    prompts_exact_duplicates: int = 0
    prompts_near_duplicates: int = 0
    rows_dropped_with_duplicate_prompts: int = 0
    rows_exact_duplicates: int = 0
    prompts_below_minimum_agreement: int = 0
    rows_dropped_below_minimum_agreement: int = 0
    prompts_with_agreement: int = 0
    agreement_sum: float = 0.0
    conflicts: int = 0
    ties: int = 0
    sources: Counter = field(default_factory=Counter)
    scrubbed: ScrubCounts = field(default_factory=ScrubCounts)

    def manifest_parts(self) -> dict:
        with_agreement = self.prompts_with_agreement
        mean = self.agreement_sum / with_agreement if with_agreement else None
        return {
            "prompts": {
                "read": self.prompts_read,
                "exported": self.prompts_exported,
                "by_split": dict(self.prompts_by_split),
            },
            "duplicates": {
                "prompts_exact": self.prompts_exact_duplicates,
                "prompts_near": self.prompts_near_duplicates,
                "rows_dropped_with_duplicate_prompts": self.rows_dropped_with_duplicate_prompts,
                "rows_exact": self.rows_exact_duplicates,
            },
            "personal_data": self.scrubbed.as_dict(),
            "agreement": {
                "measure": (
                    "per prompt: share of votes siding with the majority, over the pairs (KTO: "
                    "completions) with two or more votes"
                ),
                "prompts_with_overlap": self.prompts_with_agreement,
                "mean": round(mean, 4) if mean is not None else None,
                "prompts_below_minimum": self.prompts_below_minimum_agreement,
                "rows_dropped_below_minimum": self.rows_dropped_below_minimum_agreement,
                "conflicts": self.conflicts,
                "ties_dropped": self.ties,
            },
            "sources": dict(self.sources),
        }


@dataclass
class PromptDraft:
    """One prompt's derived items before they become rows (what `items` holds is the format
    family's: demonstrations, pairs or labels)."""

    items: list
    agreement: float | None = None


class _Context:
    """What every chunk shares: the request, the figures, lookups and caches."""

    def __init__(self, spec: ExportSpec, pseudonym_key: str):
        self.spec = spec
        self.tally = ExportTally()
        self.versions = model_version_numbers(project=spec.project)
        self.template = formats.TextTemplate(spec.project.text_template)
        self.shape = formats.PairShape(spec.conversational, self.template)
        self._pseudonym_key = pseudonym_key
        self._pseudonyms: dict[int | None, str] = {}

    def pseudonym(self, user_id: int | None) -> str:
        name = self._pseudonyms.get(user_id)
        if name is None:
            name = formats.annotator_pseudonym(user_id, key=self._pseudonym_key)
            self._pseudonyms[user_id] = name
        return name

    def annotators(self, user_ids: tuple) -> list[str]:
        return [self.pseudonym(user_id) for user_id in user_ids]

    def scrub(self, text: str) -> str:
        return scrub(text, self.tally.scrubbed)


class _Chunk:
    """One chunk's completions; each text is scrubbed, fingerprinted and shaped once."""

    def __init__(self, context: _Context, completions: dict[int, tuple[str, int]]):
        self.context = context
        self.completions = completions
        self.shaped: dict[int, tuple] = {}  # read directly by the row loops: the hot path

    def shape(self, prompt: formats.PromptText, completion_id: int) -> tuple:
        """(the completion as a row holds it, its text's fingerprint, its version number)."""
        shaped = self.shaped.get(completion_id)
        if shaped is None:
            text, version_id = self.completions[completion_id]
            text = self.context.scrub(text)
            shaped = (
                self.context.shape.answer(prompt, text),
                text_key(text),  # identity of the text for exact-duplicate rows
                self.context.versions[version_id],
            )
            self.shaped[completion_id] = shaped
        return shaped


def export_stream(
    *,
    spec: ExportSpec,
    writer: SnapshotWriter,
    pseudonym_key: str,
) -> ExportTally:
    """Write every row of the export to `writer`; returns the figures for the manifest."""
    family = _family(spec.format)
    context = _Context(spec, pseudonym_key)
    tally = context.tally
    prompt_dedupe = Deduplicator(near=bool(spec.options.get("near_duplicates", True)))
    for prompts in export_prompt_chunks(
        project=spec.project, as_of=spec.as_of, chunk_size=CHUNK_PROMPTS
    ):
        tally.prompts_read += len(prompts)
        drafts, completions = family.derive(context, [p["pk"] for p in prompts])
        chunk = _Chunk(context, completions)
        for prompt in _prompts_kept(spec, prompts, drafts, prompt_dedupe, tally):
            text = formats.PromptText(
                id=prompt["pk"],
                instruction=context.scrub(prompt["instruction"]),
                input=context.scrub(prompt["input"]),
                category=context.scrub(prompt["category"]),
            )
            split = split_of(prompt["pk"], seed=spec.seed, ratios=spec.ratios)
            rows = family.rows(context, text, drafts[prompt["pk"]], chunk)
            written = 0
            for row in _merge_repeated(rows, tally):
                writer.write(split, row)
                written += 1
            if written:
                tally.prompts_exported += 1
                tally.prompts_by_split[split] += 1
    return tally


def _prompts_kept(
    spec: ExportSpec,
    prompts: list[dict],
    drafts: dict[int, PromptDraft],
    prompt_dedupe: Deduplicator,
    tally: ExportTally,
) -> list[dict]:
    """The chunk's prompts that yield rows, pass the minimum agreement and repeat no earlier
    prompt. Only prompts with rows are fingerprinted, so a prompt without data never keeps a
    later copy of itself out."""
    minimum = spec.filters.get("min_agreement")
    candidates = []
    for prompt in prompts:
        draft = drafts.get(prompt["pk"])
        if draft is None or not draft.items:
            continue
        if draft.agreement is not None:
            tally.prompts_with_agreement += 1
            tally.agreement_sum += draft.agreement
            if minimum is not None and draft.agreement < minimum:
                tally.prompts_below_minimum_agreement += 1
                tally.rows_dropped_below_minimum_agreement += len(draft.items)
                continue
        candidates.append(prompt)
    repeated = prompt_dedupe.seen_many(
        [formats.user_content(p["instruction"], p["input"]) for p in candidates]
    )
    kept = []
    for prompt, is_repeat in zip(candidates, repeated, strict=True):
        if is_repeat:
            tally.rows_dropped_with_duplicate_prompts += len(drafts[prompt["pk"]].items)
        else:
            kept.append(prompt)
    tally.prompts_exact_duplicates = prompt_dedupe.counts.exact
    tally.prompts_near_duplicates = prompt_dedupe.counts.near
    return kept


def _merge_repeated(rows: list[tuple[tuple, dict]], tally: ExportTally) -> list[dict]:
    """A prompt's rows with the same texts become one row carrying all their provenance."""
    merged: dict[tuple, dict] = {}
    for key, row in rows:
        first = merged.get(key)
        if first is None:
            merged[key] = row
            continue
        tally.rows_exact_duplicates += 1
        for column in ("sources", "annotators"):
            first[column] = list(dict.fromkeys([*first[column], *row[column]]))
    return list(merged.values())


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
            provenance = {
                "prompt_id": prompt.id,
                "sources": [f"demonstration:{demonstration['pk']}"],
                "annotators": [context.pseudonym(demonstration["author_id"])],
                "origin": demonstration["origin"],
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
    """Pairs from rankings and comparisons (by the rule), plus edited-over-original pairs."""

    @staticmethod
    def derive(context: _Context, prompt_ids: list[int]):
        spec, tally = context.spec, context.tally
        judgements = export_judgements(
            prompt_ids=prompt_ids,
            kinds=[TaskKind.RANK, TaskKind.COMPARE],
            outcomes=[Judgement.Outcome.RANKED, Judgement.Outcome.CHOICE],
            filters=spec.filters,
            as_of=spec.as_of,
        )
        edits = export_demonstrations(
            prompt_ids=prompt_ids,
            origins=[Demonstration.Origin.EDITED],
            review_statuses=spec.review_statuses(),
            filters=spec.filters,
            as_of=spec.as_of,
        )
        edits = [edit for edit in edits if edit["source_completion_id"] is not None]
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
            drafts[prompt_id] = PromptDraft(list(result.pairs), result.agreement)
        for edit in edits:
            if edit["source_completion_id"] in allowed:
                drafts.setdefault(edit["prompt_id"], PromptDraft([])).items.append(edit)
        return drafts, completions

    @staticmethod
    def rows(context: _Context, prompt: formats.PromptText, draft: PromptDraft, chunk: _Chunk):
        rows = []
        shaped_prompt = context.shape.prompt(prompt)
        provenance: dict[tuple, tuple] = {}  # the pairs of one judgement share it
        shaped = chunk.shaped
        pairs = edits = 0
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
                rejected, rejected_key, rejected_version = chunk.shape(prompt, rejected_id)
                completion_ids, model_versions = [rejected_id], [rejected_version]
                sources = [f"demonstration:{item['pk']}"]
                annotators = [context.pseudonym(item["author_id"])]
                edits += 1
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
            kinds=[TaskKind.RATE, TaskKind.RANK],
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
        for prompt_id, prompt_labels in labels.items():
            result = derive.prompt_labels(prompt_labels, spec.rule)
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


def _family(format: str):
    if format in formats.SFT_FORMATS:
        return _SftFamily
    if format in formats.PREFERENCE_FORMATS:
        return _PreferenceFamily
    if format in formats.KTO_FORMATS:
        return _KtoFamily
    raise ValueError(f"unknown export format {format!r}")


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
