"""How a prompt is put to a model, in one place, so that what a model is trained on is what it
is served: the exports write these rows, generation sends these messages, and the engine's
training and evaluation render these same rows through the tokenizer.

A model's prompt style says which: `chat` models (whose tokenizer has a chat template) get
messages (the conversation so far, then one user turn: the instruction, then the input after a
blank line); `text` models (base models without one) get the project's text template, and its
text after `{output}` ends the answer. A conversation's earlier turns reach a text model
flattened into the instruction ("User: ..." / "Assistant: ..." paragraphs, `flat_instruction`).
No Django and no torch: the exports import it too.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.engine.texts import Text, gettext_noop

_PLACEHOLDER = re.compile(r"\{(instruction|input|output)\}")
_OUTPUT_MARK = "\x00output\x00"

CHAT = "chat"
TEXT = "text"
PROMPT_STYLES = (CHAT, TEXT)
AUTO = "auto"  # a setting that leaves the style to the model directory (model_prompt_style)

# Alpaca's layout. A blank-line-separated block whose placeholder is empty is left out, so a
# prompt without an input gets no "### Input:" heading.
DEFAULT_TEXT_TEMPLATE = (
    "Below is an instruction that describes a task. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n"
    "### Input:\n{input}\n\n"
    "### Response:\n{output}"
)


SYSTEM, USER, ASSISTANT = "system", "user", "assistant"
ROLES = (SYSTEM, USER, ASSISTANT)
_SPEAKERS = {SYSTEM: "System", USER: "User", ASSISTANT: "Assistant"}


def user_content(instruction: str, input_text: str = "") -> str:
    """The user turn of a conversation: the instruction, then the input after a blank line."""
    return f"{instruction}\n\n{input_text}" if input_text else instruction


def prompt_messages(
    instruction: str,
    input_text: str = "",
    *,
    system: str | None = None,
    history: list[dict[str, str]] | tuple = (),
) -> list[dict[str, str]]:
    """The chat messages a prompt becomes for a chat model: the conversation so far (`history`,
    which may open with a system turn; or `system` alone), then the user turn."""
    messages = [{"role": "system", "content": system}] if system and not history else []
    messages.extend({"role": turn["role"], "content": turn["content"]} for turn in history)
    messages.append({"role": "user", "content": user_content(instruction, input_text)})
    return messages


def flat_instruction(history: list[dict[str, str]] | tuple, instruction: str) -> str:
    """A conversation as one instruction, for text-style models and the Alpaca and Dolly
    exports: each earlier turn a "Speaker: text" paragraph, then "User: " and the
    instruction. Without a history, the instruction as it is."""
    if not history:
        return instruction
    turns = [f"{_SPEAKERS.get(t['role'], t['role'])}: {t['content']}" for t in history]
    return "\n\n".join([*turns, f"{_SPEAKERS[USER]}: {instruction}"])


def conversation_problems(roles: list[str], *, complete: bool) -> list[tuple[int, Text]]:
    """(turn index, what is wrong) for a list of roles that is not a conversation: an optional
    system turn first, then user and assistant turns alternating, from a user turn. A history
    (`complete=False`) ends with an assistant turn; a whole conversation may end with either."""
    problems = []
    start = 1 if roles[:1] == [SYSTEM] else 0
    if start == len(roles):
        return [(0, Text(gettext_noop("the conversation has no user turn")))]
    for index, role in enumerate(roles):
        if role not in ROLES:
            template = gettext_noop("{role!r} is not a role ({roles})")
            problems.append((index, Text(template, {"role": role, "roles": ", ".join(ROLES)})))
        elif role == SYSTEM and index != 0:
            problems.append(
                (index, Text(gettext_noop("a system turn may only open the conversation")))
            )
        elif index >= start and role != (USER if (index - start) % 2 == 0 else ASSISTANT):
            problems.append((index, _order_problem(role, first=index == start)))
    if not complete and not problems and roles[-1] != ASSISTANT:
        problems.append(
            (len(roles) - 1, Text(gettext_noop("a history ends with an assistant turn")))
        )
    return problems


def _order_problem(role: str, *, first: bool) -> Text:
    if first:
        return Text(
            gettext_noop("the conversation opens with {role}; it must open with user"),
            {"role": role},
        )
    return Text(
        gettext_noop("two {role} turns in a row; user and assistant alternate"), {"role": role}
    )


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


def template_problems(template: str) -> list[Text]:
    """Why a text template cannot render prompts (empty when it can): the one rule, for the
    engine's config check and the project's form alike."""
    missing = [name for name in ("{instruction}", "{output}") if name not in template]
    if missing:
        names: str | Text = missing[0]
        if len(missing) == 2:
            both = gettext_noop("{first} and {second}")
            names = Text(both, {"first": missing[0], "second": missing[1]})
        return [Text(gettext_noop("the text template needs {names}"), {"names": names})]
    if template.count("{output}") > 1:
        once = gettext_noop(
            "the text template uses {{output}} more than once: the text before it is the prompt"
        )
        return [Text(once)]
    return []


# --- prompt style: chat messages or the text template ---------------------------------------


def model_prompt_style(model_dir: str | Path) -> str:
    """`chat` when the model directory has a chat template (tokenizer_config.json's
    "chat_template", or a chat_template.jinja / chat_template.json beside it), `text` when its
    tokenizer has none. A directory without tokenizer files (a model served elsewhere) says
    nothing and counts as chat, what every served model was before text style existed."""
    model_dir = Path(model_dir)
    if any((model_dir / name).is_file() for name in ("chat_template.jinja", "chat_template.json")):
        return CHAT
    config_path = model_dir / "tokenizer_config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return CHAT
    except (OSError, ValueError) as exc:
        raise ValueError(f"{config_path} could not be read: {exc}") from None
    return CHAT if isinstance(config, dict) and config.get("chat_template") else TEXT


def prompt_style_for(setting: str, model_dir: str | Path) -> str:
    """The prompt style a setting names: `chat` or `text` as given, `auto` (or empty) read
    from the model directory."""
    setting = (setting or AUTO).strip().lower()
    if setting == AUTO:
        return model_prompt_style(model_dir)
    if setting not in PROMPT_STYLES:
        raise ValueError(
            f"prompt style {setting!r} is not one of {AUTO}, {', '.join(PROMPT_STYLES)}"
        )
    return setting


@dataclass(frozen=True)
class PromptRequest:
    """A prompt as a model of one prompt style is asked it: chat `messages`, or the
    `prompt_text` a base model continues, with the `stop` that ends its answer (the
    template's text after `{output}`, when there is any)."""

    messages: list[dict[str, str]] | None = None
    prompt_text: str | None = None
    stop: tuple[str, ...] = ()


def prompt_request(
    style: str,
    template: TextTemplate | None,
    *,
    instruction: str,
    input: str,
    history: list[dict[str, str]] | tuple = (),
) -> PromptRequest:
    """What generation sends for a prompt (and the conversation before it): the one rendering
    the exports and trainer share (`template` is the project's, read by the text style only)."""
    if style == TEXT:
        template = _text_template(template)
        before, after = template.split(
            instruction=flat_instruction(history, instruction), input=input
        )
        return PromptRequest(prompt_text=before, stop=(after,) if after.strip() else ())
    return PromptRequest(messages=prompt_messages(instruction, input, history=history))


def prompt_completion(
    style: str,
    template: TextTemplate | None,
    *,
    instruction: str,
    input: str,
    output: str,
    history: list[dict[str, str]] | tuple = (),
) -> dict[str, Any]:
    """A demonstration as a trainer's prompt/completion row (the loss goes on the completion):
    the conversation with its user turn and the assistant turn, or the template's prompt and
    the output followed by the template's text after `{output}`."""
    if style == TEXT:
        template = _text_template(template)
        before, after = template.split(
            instruction=flat_instruction(history, instruction), input=input
        )
        return {"prompt": before, "completion": output + after}
    return {
        "prompt": prompt_messages(instruction, input, history=history),
        "completion": [{"role": "assistant", "content": output}],
    }


def assistant_turns(messages: list[dict[str, str]]) -> list[dict[str, Any]]:
    """A conversation as one prompt/completion row per assistant turn (the turns before it;
    that turn), so that SFT puts the loss on every assistant turn and on nothing else."""
    return [
        {"prompt": messages[:index], "completion": [messages[index]]}
        for index, turn in enumerate(messages)
        if turn.get("role") == ASSISTANT and index > 0
    ]


def _text_template(template: TextTemplate | None) -> TextTemplate:
    if template is None:
        raise ValueError("the text prompt style needs the project's text template")
    return template


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
