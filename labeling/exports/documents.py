"""The `documents` export: a project's uploaded documents (labeling.models.Document), one
{"text"} row each, for continued pre-training.

Documents are no prompts' rows, so they stream on their own, in id order a chunk at a time:
near-duplicates of an earlier document are dropped (exact ones never got in: the upload skips
them), personal data is scrubbed as in every export, and each document goes to the split its
id hashes to with the export's seed (labeling.exports.split, the prompts' rule, so train is
never left empty either).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from labeling.exports import formats
from labeling.exports.dedupe import Deduplicator
from labeling.exports.scrub import ScrubCounts, scrub
from labeling.exports.split import PromptSplitter
from labeling.selectors.documents import export_document_chunks

if TYPE_CHECKING:
    from labeling.exports.pipeline import ExportSpec
    from labeling.exports.snapshot import SnapshotWriter

CHUNK_DOCUMENTS = 500


@dataclass
class DocumentTally:
    """The figures of a documents export's manifest."""

    documents_read: int = 0
    documents_exported: int = 0
    chars_exported: int = 0
    by_split: Counter = field(default_factory=Counter)
    moved_to_train: list[int] = field(default_factory=list)  # document ids
    documents_exact_duplicates: int = 0
    documents_near_duplicates: int = 0
    scrubbed: ScrubCounts = field(default_factory=ScrubCounts)

    def manifest_parts(self) -> dict:
        return {
            "documents": {
                "read": self.documents_read,
                "exported": self.documents_exported,
                "chars": self.chars_exported,
                "by_split": dict(self.by_split),
                "moved_to_train": self.moved_to_train,
            },
            "duplicates": {
                "documents_exact": self.documents_exact_duplicates,
                "documents_near": self.documents_near_duplicates,
            },
            "personal_data": self.scrubbed.as_dict(),
            "sources": {"documents": self.documents_exported},
        }


def documents_stream(*, spec: ExportSpec, writer: SnapshotWriter) -> DocumentTally:
    """Write every document row of the export to `writer`; returns the manifest's figures."""
    tally = DocumentTally()
    dedupe = Deduplicator(near=bool(spec.options.get("near_duplicates", True)))
    splitter = PromptSplitter(seed=spec.seed, ratios=spec.ratios, write=writer.write)
    for documents in export_document_chunks(
        project=spec.project, as_of=spec.as_of, filters=spec.filters, chunk_size=CHUNK_DOCUMENTS
    ):
        tally.documents_read += len(documents)
        for document in documents:
            if dedupe.seen(document["text"]):
                continue
            text = scrub(document["text"], tally.scrubbed)
            row = formats.document_row(
                text,
                document_id=document["pk"],
                title=scrub(document["title"], tally.scrubbed),
                source_file=document["source_file"],
            )
            splitter.add(document["pk"], [row])
            tally.documents_exported += 1
            tally.chars_exported += len(text)
    splitter.finish()
    tally.by_split = splitter.prompts_by_split
    tally.moved_to_train = splitter.moved_to_train
    tally.documents_exact_duplicates = dedupe.counts.exact
    tally.documents_near_duplicates = dedupe.counts.near
    return tally
