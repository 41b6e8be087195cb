"""How a prompt is put to a model, in one place, so that what a model is trained on is what it
is served: the exports write these rows, generation sends these messages, and the engine's
training and evaluation render these same rows through the tokenizer.

Chat models get messages (one user turn: the instruction, then the input after a blank line);
base models get the project's text template. No Django and no torch: the exports import it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{(instruction|input|output)\}")
_OUTPUT_MARK = "\x00output\x00"


def user_content(instruction: str, input_text: str = "") -> str:
    """The user turn of a conversation: the instruction, then the input after a blank line."""
    return f"{instruction}\n\n{input_text}" if input_text else instruction


def prompt_messages(
    instruction: str, input_text: str = "", *, system: str | None = None
) -> list[dict[str, str]]:
    """The chat messages a prompt becomes for a chat model (a system turn first if given)."""
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": user_content(instruction, input_text)})
    return messages


@dataclass(frozen=True)
class TextTemplate:
    """A project's plain-text layout for base models: `{instruction}`, `{input}`, `{output}` are
    replaced; a blank-line-separated paragraph holding `{input}` is left out when there is no
    input."""

    template: str

    def split(self, *, instruction: str, input: str) -> tuple[str, str]:
        """(the text before the output: the prompt, the text after it)."""
        paragraphs = self.template.split("\n\n")
        if not input:
            paragraphs = [p for p in paragraphs if "{input}" not in p]
        values = {"instruction": instruction, "input": input, "output": _OUTPUT_MARK}
        rendered = _PLACEHOLDER.sub(lambda match: values[match.group(1)], "\n\n".join(paragraphs))
        before, _, after = rendered.partition(_OUTPUT_MARK)
        return before, after

    def prompt(self, *, instruction: str, input: str) -> str:
        """The text a base model continues: everything before `{output}`."""
        return self.split(instruction=instruction, input=input)[0]

    def render(self, *, instruction: str, input: str, output: str) -> str:
        before, after = self.split(instruction=instruction, input=input)
        return before + output + after


# --- rows as the engine renders them for a tokenizer ---------------------------------------------


def is_messages(value: Any) -> bool:
    """Whether a row value is conversational (a list of role/content dicts) or plain text."""
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict)


def prompt_text(tokenizer: Any, prompt: Any) -> str:
    """The text a model continues: the chat template with the assistant turn opened, or a
    plain prompt (already rendered through the text template) as it stands."""
    if is_messages(prompt):
        return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return str(prompt)


def completion_text(completion: Any) -> str:
    """The assistant's words of a completion (messages or a string)."""
    if is_messages(completion):
        return "".join(
            str(m.get("content", "")) for m in completion if m.get("role") == "assistant"
        )
    return str(completion)


def full_text(tokenizer: Any, prompt: Any, completion: Any) -> str:
    """Prompt and completion as one text, the way the model reads an answered prompt."""
    if is_messages(prompt):
        if not is_messages(completion):
            completion = [{"role": "assistant", "content": str(completion)}]
        return tokenizer.apply_chat_template(prompt + completion, tokenize=False)
    return str(prompt) + str(completion) + (tokenizer.eos_token or "")
