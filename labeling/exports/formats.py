"""Row shapes of the export formats (no Django): TRL's dataset formats plus provenance.

    alpaca      instruction, input, output
    dolly       instruction, context, response, category
    messages    messages: [{"role": "user", ...}, {"role": "assistant", ...}]
    text        text: the demonstration rendered through the project's text template
    preference  prompt, chosen, rejected       (conversational lists, or plain strings)
    kto         prompt, completion, label      (conversational lists, or plain strings)
    documents   text: an uploaded domain document as it was cleaned (continued pre-training)

Provenance rides along in every row (TRL and the training engine drop unknown columns):
`prompt_id`, `sources` ("judgement:<id>" / "demonstration:<id>": what the row came from) and
`annotators` (pseudonyms; "" where nobody is known, e.g. an imported reference); SFT rows add
`origin`, preference and KTO rows `completion_ids` (preference: chosen then rejected; an edit's
chosen side is its demonstration, so only the rejected completion is listed) and
`model_versions` (the version number of each of those completions, in the same order).
No column is ever null or an empty list: `datasets` infers the schema from the first 10 MB of a
JSON Lines file, and a column typed null there fails to load once a later row has a value.
The prompt itself (a user turn, or the project's text template) is rendered by
training.engine.prompts, the same functions generation and the trainer use.

A prompt with a history (a conversation's earlier turns) keeps every turn: messages,
preference and KTO rows hold them as messages before the user turn; alpaca, dolly and text
rows flatten them into the instruction ("User: ..." / "Assistant: ..." paragraphs,
prompts.flat_instruction), and the manifest's `conversation_rendering` says so. An imported
preference (HH-RLHF) has no completions: its `completion_ids` and `model_versions` are [0].
"""

import hashlib
import hmac
from dataclasses import dataclass, field

from training.engine.prompts import TextTemplate, flat_instruction, prompt_messages, user_content

__all__ = [
    "DOCUMENT_FORMATS",
    "KTO_FORMATS",
    "PREFERENCE_FORMATS",
    "SFT_FORMATS",
    "PairShape",
    "PromptText",
    "TextTemplate",
    "annotator_pseudonym",
    "document_row",
    "flat_instruction",
    "kto_row",
    "preference_row",
    "sft_row",
    "split_unit",
    "user_content",
]

SFT_FORMATS = ("alpaca", "dolly", "messages", "text")
PREFERENCE_FORMATS = ("preference",)
KTO_FORMATS = ("kto",)
DOCUMENT_FORMATS = ("documents",)  # rows of documents, not of prompts: split by document


def split_unit(format: str) -> str:
    """What an export of `format` is split by (the manifest's split "by")."""
    return "document" if format in DOCUMENT_FORMATS else "prompt"


PSEUDONYM_CHARS = 16


def annotator_pseudonym(user_id: int | None, *, key: str) -> str:
    """A stable stand-in for a user id that cannot be reversed without the key."""
    if user_id is None:
        return ""
    digest = hmac.new(key.encode(), f"annotator:{user_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:PSEUDONYM_CHARS]


@dataclass
class PromptText:
    """A prompt as it goes into rows (already scrubbed)."""

    id: int
    instruction: str
    input: str
    category: str
    history: list[dict[str, str]] = field(default_factory=list)
    _plain: tuple[str, str] | None = field(default=None, repr=False)

    def conversation(self) -> list[dict[str, str]]:
        return prompt_messages(self.instruction, self.input, history=self.history)

    @property
    def flat(self) -> str:
        """The instruction with the conversation before it, for rows without turns."""
        return flat_instruction(self.history, self.instruction)

    def plain(self, template: TextTemplate) -> tuple[str, str]:
        if self._plain is None:
            self._plain = template.split(instruction=self.flat, input=self.input)
        return self._plain


# --- supervised fine-tuning rows -------------------------------------------------------------


def sft_row(
    format: str,
    prompt: PromptText,
    output: str,
    *,
    template: TextTemplate,
    provenance: dict,
) -> dict:
    if format == "alpaca":
        row = {"instruction": prompt.flat, "input": prompt.input, "output": output}
    elif format == "dolly":
        row = {
            "instruction": prompt.flat,
            "context": prompt.input,
            "response": output,
            "category": prompt.category,
        }
    elif format == "messages":
        row = {"messages": [*prompt.conversation(), {"role": "assistant", "content": output}]}
    elif format == "text":
        before, after = prompt.plain(template)
        row = {"text": before + output + after}
    else:
        raise ValueError(f"{format!r} is not an SFT format")
    row.update(provenance)
    return row


# --- preference and KTO rows ------------------------------------------------------------------


@dataclass(frozen=True)
class PairShape:
    """How prompts and answers look in preference and KTO rows: conversational (a user turn;
    an assistant turn) or plain text through the project's template (the text before the
    output; the answer followed by what the template puts after it)."""

    conversational: bool
    template: TextTemplate

    def prompt(self, prompt: PromptText) -> list[dict[str, str]] | str:
        return prompt.conversation() if self.conversational else prompt.plain(self.template)[0]

    def answer(self, prompt: PromptText, text: str) -> list[dict[str, str]] | str:
        if self.conversational:
            return [{"role": "assistant", "content": text}]
        return text + prompt.plain(self.template)[1]


def preference_row(
    prompt, chosen, rejected, *, prompt_id, sources, annotators, completion_ids, model_versions
) -> dict:
    """`prompt`, `chosen`, `rejected` as PairShape made them, then the provenance."""
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "prompt_id": prompt_id,
        "sources": sources,
        "annotators": annotators,
        "completion_ids": completion_ids,
        "model_versions": model_versions,
    }


def kto_row(
    prompt,
    completion,
    label: bool,
    *,
    prompt_id,
    sources,
    annotators,
    completion_ids,
    model_versions,
) -> dict:
    """`prompt` and `completion` as PairShape made them, then the provenance."""
    return {
        "prompt": prompt,
        "completion": completion,
        "label": label,
        "prompt_id": prompt_id,
        "sources": sources,
        "annotators": annotators,
        "completion_ids": completion_ids,
        "model_versions": model_versions,
    }


# --- document rows ----------------------------------------------------------------------------


def document_row(text: str, *, document_id: int, title: str, source_file: str) -> dict:
    """A document for continued pre-training: its text, then where it came from."""
    return {
        "text": text,
        "document_id": document_id,
        "title": title,
        "source_file": source_file,
        "sources": [f"document:{document_id}"],
    }
