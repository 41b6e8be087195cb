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
from dataclasses import dataclass, field
from datetime import datetime

from labeling.exports import formats
from labeling.exports.dedupe import Deduplicator, text_key
from labeling.exports.documents import DocumentTally
from labeling.exports.families import PromptDraft, family_of
from labeling.exports.flags import FlagTally
from labeling.exports.scrub import ScrubCounts, scrub
from labeling.exports.snapshot import SnapshotWriter
from labeling.exports.split import PromptSplitter
from labeling.models import Demonstration, Project
from labeling.provenance import provenance_of
from labeling.selectors.exports import (
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
    def human_only(self) -> bool:
        """Leave out what a model drafted (prompts, and outputs edited from a model's)."""
        return bool(self.options.get("human_only"))

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
    prompts_moved_to_train: list[int] = field(default_factory=list)
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
    conversations: int = 0  # exported prompts with earlier turns
    sources: Counter = field(default_factory=Counter)
    prompts_by_provenance: Counter = field(default_factory=Counter)  # exported prompts
    outputs_by_provenance: Counter = field(default_factory=Counter)  # SFT rows' outputs
    prompts_dropped_drafted: int = 0  # human-only: drafted prompts left out
    rows_dropped_drafted: int = 0  # human-only: their rows, and rows of drafted outputs
    scrubbed: ScrubCounts = field(default_factory=ScrubCounts)
    flags: FlagTally = field(default_factory=FlagTally)

    @property
    def moved_to_train(self) -> list[int]:
        return self.prompts_moved_to_train

    def manifest_parts(self) -> dict:
        with_agreement = self.prompts_with_agreement
        mean = self.agreement_sum / with_agreement if with_agreement else None
        return {
            "prompts": {
                "read": self.prompts_read,
                "exported": self.prompts_exported,
                "by_split": dict(self.prompts_by_split),
                "moved_to_train": self.prompts_moved_to_train,
                "conversations": self.conversations,
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
            "provenance": {
                "prompts": dict(self.prompts_by_provenance),
                "outputs": dict(self.outputs_by_provenance),
                "prompts_dropped_drafted": self.prompts_dropped_drafted,
                "rows_dropped_drafted": self.rows_dropped_drafted,
            },
            **self.flags.manifest_parts(),
        }


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
        self.prompt_provenance: dict[int, str] = {}  # of the chunk's prompts, for their rows

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
) -> ExportTally | DocumentTally:
    """Write every row of the export to `writer`; returns the figures for the manifest."""
    family = family_of(spec.format)
    if hasattr(family, "stream"):  # documents: rows of their own, split by document
        return family.stream(spec=spec, writer=writer)
    context = _Context(spec, pseudonym_key)
    tally = context.tally
    prompt_dedupe = Deduplicator(near=bool(spec.options.get("near_duplicates", True)))
    splitter = PromptSplitter(seed=spec.seed, ratios=spec.ratios, write=writer.write)
    for prompts in export_prompt_chunks(
        project=spec.project, as_of=spec.as_of, chunk_size=CHUNK_PROMPTS
    ):
        tally.prompts_read += len(prompts)
        drafts, completions = family.derive(context, [p["pk"] for p in prompts])
        chunk = _Chunk(context, completions)
        for prompt in _prompts_kept(spec, prompts, drafts, prompt_dedupe, tally):
            provenance = provenance_of(
                drafted_by=prompt["drafted_by"], edit_distance=prompt["draft_edit_distance"]
            )
            context.prompt_provenance[prompt["pk"]] = provenance
            text = formats.PromptText(
                id=prompt["pk"],
                instruction=context.scrub(prompt["instruction"]),
                input=context.scrub(prompt["input"]),
                category=context.scrub(prompt["category"]),
                history=[
                    {"role": turn["role"], "content": context.scrub(turn["content"])}
                    for turn in prompt["history"]
                ],
            )
            rows = _merge_repeated(family.rows(context, text, drafts[prompt["pk"]], chunk), tally)
            for row in rows:  # every format's rows say who wrote their prompt
                row.setdefault("prompt_provenance", provenance)
            if rows:
                splitter.add(prompt["pk"], rows)
                tally.prompts_exported += 1
                tally.prompts_by_provenance[provenance] += 1
                tally.conversations += bool(text.history)
    splitter.finish()  # train is never left empty: see labeling.exports.split
    tally.prompts_by_split = splitter.prompts_by_split
    tally.prompts_moved_to_train = splitter.moved_to_train
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
        if spec.human_only and prompt["drafted_by"]:
            tally.prompts_dropped_drafted += 1
            tally.rows_dropped_drafted += len(draft.items)
            continue
        if draft.agreement is not None:
            tally.prompts_with_agreement += 1
            tally.agreement_sum += draft.agreement
            if minimum is not None and draft.agreement < minimum:
                tally.prompts_below_minimum_agreement += 1
                tally.rows_dropped_below_minimum_agreement += len(draft.items)
                continue
        candidates.append(prompt)
    repeated = prompt_dedupe.seen_many([_prompt_text(p) for p in candidates])
    kept = []
    for prompt, is_repeat in zip(candidates, repeated, strict=True):
        if is_repeat:
            tally.rows_dropped_with_duplicate_prompts += len(drafts[prompt["pk"]].items)
        else:
            kept.append(prompt)
    tally.prompts_exact_duplicates = prompt_dedupe.counts.exact
    tally.prompts_near_duplicates = prompt_dedupe.counts.near
    return kept


def _prompt_text(prompt: dict) -> str:
    """What two prompts must share to repeat each other: the whole conversation."""
    return formats.user_content(
        formats.flat_instruction(prompt["history"], prompt["instruction"]), prompt["input"]
    )


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
