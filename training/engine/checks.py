"""The checks behind `config.validate`: each returns the problems it finds as messages.

Kept free of the config module (duck-typed on TrainConfig) so it imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.engine.gate import GATE_METRIC_METHODS, GATE_METRICS, GENERATION_GATE_METRICS
from training.engine.prompts import TEXT, prompt_style_for, template_problems
from training.engine.schema import (
    DPO_LOSS_TYPES,
    EXPORT_FORMATS_FOR_METHOD,
    KTO_LOSS_TYPES,
    METHOD_LABELS,
    METHODS,
    MIN_MAX_LENGTH,
    MIN_TRAIN_ROWS,
    RLHF_ALGORITHMS,
    ROW_NOUN,
    SPLITS,
    DatasetStats,
    describe_formats,
    methods_for_export_format,
    missing_columns,
)
from training.engine.texts import Text, gettext_noop

# The weighted desirable : undesirable ratio aimed at when the weights come from the counts:
# the middle of TRL's recommended [1, 4/3], so that rounding to 2 decimals stays inside it.
KTO_TARGET_RATIO = 7 / 6


def kto_weight_ranges(
    n_desirable: int, n_undesirable: int, desirable_weight: float, undesirable_weight: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    """TRL's recommended desirable and undesirable weight ranges (KTO paper, Eq. 8).

    Same arithmetic and rounding as trl 1.16 `KTOTrainer._prepare_dataset`.
    """
    nd, nu = max(n_desirable, 1), max(n_undesirable, 1)
    desirable = (
        round(nu * undesirable_weight / nd, 2),
        round(nu * undesirable_weight / nd * 1.33, 2),
    )
    undesirable = (
        round(nd * desirable_weight / nu / 1.33, 2),
        round(nd * desirable_weight / nu, 2),
    )
    return desirable, undesirable


def kto_weights_balanced(
    n_desirable: int, n_undesirable: int, desirable_weight: float, undesirable_weight: float
) -> bool:
    if n_desirable == n_undesirable:
        return True
    (dlo, dhi), (ulo, uhi) = kto_weight_ranges(
        n_desirable, n_undesirable, desirable_weight, undesirable_weight
    )
    return dlo <= desirable_weight <= dhi or ulo <= undesirable_weight <= uhi


def kto_weights_from_counts(n_desirable: int, n_undesirable: int) -> tuple[float, float]:
    """(desirable_weight, undesirable_weight) that put desirable_weight * n_desirable /
    (undesirable_weight * n_undesirable) in TRL's [1, 4/3]: the rarer label is weighted up,
    the commoner one keeps weight 1 (the KTO paper's advice, Eq. 8)."""
    if n_desirable <= 0 or n_undesirable <= 0 or n_desirable == n_undesirable:
        return 1.0, 1.0
    if n_desirable < n_undesirable:
        return round(n_undesirable / n_desirable * KTO_TARGET_RATIO, 2), 1.0
    return 1.0, round(n_desirable / (n_undesirable * KTO_TARGET_RATIO), 2)


def kto_weights_for(options: Any, n_desirable: int, n_undesirable: int) -> tuple[float, float]:
    """The weights a KTO run trains with: from the counts when neither is set, otherwise the
    ones set (an unset one is 1)."""
    desirable, undesirable = options.desirable_weight, options.undesirable_weight
    if desirable is None and undesirable is None:
        return kto_weights_from_counts(n_desirable, n_undesirable)
    return (
        1.0 if desirable is None else desirable,
        1.0 if undesirable is None else undesirable,
    )


def export_format_problem(method: str, export_format: str | None) -> Text | None:
    """Why `method` cannot train on an export of this format (None when it can, or when the
    snapshot was made by hand under a name no method declares)."""
    known = {f for formats in EXPORT_FORMATS_FOR_METHOD.values() for f in formats}
    if export_format not in known or export_format in EXPORT_FORMATS_FOR_METHOD[method]:
        return None
    fitting = _labels(methods_for_export_format(export_format))
    takes = " or ".join(EXPORT_FORMATS_FOR_METHOD[method])
    template = gettext_noop(
        "{method} trains on {takes} exports, not on {format} ones; {format} exports train "
        "with {fitting}"
    )
    params = {"method": Text(METHOD_LABELS[method]), "takes": takes, "format": export_format}
    return Text(template, {**params, "fitting": fitting})


def _labels(methods: tuple[str, ...]) -> Text:
    """The methods' labels, comma-separated, each shown in the reader's language."""
    template = ", ".join(f"{{m{i}}}" for i in range(len(methods)))
    return Text(template, {f"m{i}": Text(METHOD_LABELS[m]) for i, m in enumerate(methods)})


def manifest_problems(
    c: Any, manifest: dict[str, Any], export_format: str | None = None
) -> tuple[str, Text] | None:
    """What makes a snapshot unable to train `c`, from its manifest.json alone (so a run can be
    refused before it is queued): ("method", why) when the method does not take the export's
    format, ("data", why) when the train split is empty or too small; None when neither."""
    wrong_format = export_format_problem(c.method, manifest.get("format") or export_format)
    if wrong_format:
        return "method", wrong_format
    conversational = manifest.get("conversational") or (
        (manifest.get("format") or export_format) == "messages"
    )
    if conversational and (problem := conversational_rows_problem(c)):
        return "data", problem
    rows = manifest.get("rows")
    if not isinstance(rows, dict) or not isinstance(rows.get("train"), int):
        return None  # a hand-made snapshot without counts: the engine counts when it loads
    counts = ", ".join(f"{rows.get(split, 0)} {split}" for split in SPLITS)
    if rows["train"] <= 0:
        template = gettext_noop("its train split is empty ({counts} rows): nothing to train on")
        return "data", Text(template, {"counts": counts})
    problems = train_rows_problems(c, rows["train"])
    if not problems:
        return None
    return "data", Text(
        gettext_noop("{problem} ({counts} rows)"), {"problem": problems[0], "counts": counts}
    )


def train_rows_problems(c: Any, n: int, *, train_file: str = "train split") -> list[Text]:
    """The engine's rule for the size of the train split: not empty, at least MIN_TRAIN_ROWS
    of the method's rows, and enough rows for the batches the method needs."""
    if n <= 0:
        template = gettext_noop("{train_file} is missing or empty: nothing to train on")
        return [Text(template, {"train_file": train_file})]
    noun = ROW_NOUN[c.method]
    if n < MIN_TRAIN_ROWS[c.method]:
        template = gettext_noop(
            "too few {noun} for the train split: {n}; {method} needs at least {least}"
        )
        params = {"noun": noun, "n": n, "method": c.method, "least": MIN_TRAIN_ROWS[c.method]}
        return [Text(template, params)]
    p: list[Text] = []
    if c.method == "kto" and c.kto.loss_type == "kto" and n < c.batch_size:
        template = gettext_noop(
            "KTO needs at least batch_size ({batch_size}) train rows to estimate its KL term; "
            "the train split has {n}"
        )
        p.append(Text(template, {"batch_size": c.batch_size, "n": n}))
    if c.method == "rlhf" and n * c.rlhf.num_generations < c.batch_size:
        template = gettext_noop(
            "rlhf: {n} prompts x {generations} generations cannot fill a batch of {batch_size}"
        )
        params = {"n": n, "generations": c.rlhf.num_generations, "batch_size": c.batch_size}
        p.append(Text(template, params))
    return p


def config_problems(c: Any) -> list[str]:
    if c.method not in METHODS:
        return [f"unknown method {c.method!r}; choose one of {', '.join(METHODS)}"]
    p: list[str] = []
    if not c.base_model:
        p.append("base_model is empty: give the base model directory")
    if c.lora:
        if c.lora_r <= 0:
            p.append(f"lora_r must be a positive rank, got {c.lora_r}")
        if c.lora_alpha <= 0:
            p.append(f"lora_alpha must be positive, got {c.lora_alpha}")
        if not 0.0 <= c.lora_dropout < 1.0:
            p.append(f"lora_dropout must be in [0, 1), got {c.lora_dropout}")
        if not c.lora_target_modules:
            p.append("lora_target_modules is empty: name the modules to adapt (e.g. q_proj)")
    if c.learning_rate <= 0:
        p.append(f"learning_rate must be positive, got {c.learning_rate}")
    if c.batch_size < 1:
        p.append(f"batch_size must be at least 1, got {c.batch_size}")
    if c.gradient_accumulation_steps < 1:
        p.append(
            f"gradient_accumulation_steps must be at least 1, got {c.gradient_accumulation_steps}"
        )
    if c.max_steps <= 0 and c.num_train_epochs <= 0:
        p.append("set num_train_epochs > 0 or max_steps > 0: nothing would be trained")
    if c.max_length < MIN_MAX_LENGTH:
        p.append(
            f"max_length {c.max_length} is too small to hold a prompt and a completion "
            f"(at least {MIN_MAX_LENGTH} tokens)"
        )
    if c.logging_steps < 1:
        p.append(f"logging_steps must be at least 1, got {c.logging_steps}")
    if c.eval_split not in ("validation", "test"):
        p.append(f"eval_split must be 'validation' or 'test', got {c.eval_split!r}")
    p.extend(prompt_style_problems(c))
    p.extend(_method_problems(c))
    p.extend(gate_problems(c))
    return p


def prompt_style_problems(c: Any) -> list[str]:
    """An unknown prompt style, or a text template that cannot render a prompt."""
    try:
        style = prompt_style_for(c.prompt_style, c.base_model)
    except ValueError as exc:
        return [str(exc)]
    return [str(p) for p in template_problems(c.text_template)] if style == TEXT else []


def conversational_rows_problem(c: Any) -> Text | None:
    """Conversational rows for a text-style model (no chat template to render them with)."""
    if prompt_style_problems(c) or prompt_style_for(c.prompt_style, c.base_model) != TEXT:
        return None
    return Text(
        gettext_noop(
            "the base model has no chat template (prompt style text), so conversational rows "
            "cannot be rendered: train on an alpaca, dolly or text export, or on a preference "
            "or kto export made with conversational off"
        )
    )


def gate_problems(c: Any) -> list[str]:
    """A gate_metric the run can't give: unknown, not one of the method's, or ROUGE-L/BLEU
    with held-out generation off (the gate could then never decide)."""
    metric = c.gate_metric
    if metric not in GATE_METRICS:
        return [f"gate_metric {metric!r} is not one of {', '.join(GATE_METRICS)}"]
    p = []
    if c.eval_generation_rows < 0:
        p.append(f"eval_generation_rows must be 0 (off) or more, got {c.eval_generation_rows}")
    if metric not in GENERATION_GATE_METRICS:
        return p
    if c.method not in GATE_METRIC_METHODS:
        return [
            *p,
            f"gate_metric {metric} applies to {' and '.join(GATE_METRIC_METHODS)} only; "
            f"{c.method}'s gate has its own measure: leave gate_metric at loss",
        ]
    if not c.eval or c.eval_generation_rows <= 0:
        off = "eval is false" if not c.eval else "eval_generation_rows is 0"
        p.append(
            f"gate_metric {metric} compares greedy answers to held-out prompts, but held-out "
            f"generation is off ({off}): turn it on (eval true, eval_generation_rows > 0) or "
            "set gate_metric to loss"
        )
    if c.eval_max_new_tokens < 1:
        p.append(f"gate_metric {metric} needs eval_max_new_tokens of at least 1")
    return p


def _method_problems(c: Any) -> list[str]:
    check = _METHOD_CHECKS.get(c.method)
    return check(c) if check else []


def _dpo_problems(c: Any) -> list[str]:
    p: list[str] = []
    if c.dpo.loss_type not in DPO_LOSS_TYPES:
        p.append(f"dpo.loss_type {c.dpo.loss_type!r} is not one of {', '.join(DPO_LOSS_TYPES)}")
    if c.dpo.beta <= 0:
        p.append(f"dpo.beta must be positive, got {c.dpo.beta}")
    if c.dpo.loss_type == "robust" and not 0.0 <= c.dpo.label_smoothing < 0.5:
        p.append("dpo.label_smoothing must be in [0, 0.5) for the robust loss")
    if c.dpo.loss_type == "exo_pair" and c.dpo.label_smoothing <= 0:
        p.append("dpo.label_smoothing must be > 0 for the exo_pair loss (1e-3 is usual)")
    return p


def _kto_problems(c: Any) -> list[str]:
    p: list[str] = []
    if c.kto.loss_type not in KTO_LOSS_TYPES:
        p.append(f"kto.loss_type {c.kto.loss_type!r} is not one of {', '.join(KTO_LOSS_TYPES)}")
    if c.kto.beta <= 0:
        p.append(f"kto.beta must be positive, got {c.kto.beta}")
    weights = (c.kto.desirable_weight, c.kto.undesirable_weight)
    if any(weight is not None and weight <= 0 for weight in weights):
        p.append(
            "kto.desirable_weight and kto.undesirable_weight must be positive (or unset: "
            "then they are set from the train split's counts)"
        )
    if c.kto.loss_type == "kto" and c.batch_size < 2:
        p.append(
            f"KTO needs batch_size >= 2 (got {c.batch_size}): its KL term is estimated from "
            "the other completions in the same batch"
        )
    return p


def _orpo_problems(c: Any) -> list[str]:
    return [] if c.orpo.beta > 0 else [f"orpo.beta must be positive, got {c.orpo.beta}"]


def _rlhf_problems(c: Any) -> list[str]:
    r = c.rlhf
    p: list[str] = []
    if r.algorithm not in RLHF_ALGORITHMS:
        p.append(f"rlhf.algorithm {r.algorithm!r} is not one of {', '.join(RLHF_ALGORITHMS)}")
    if r.num_generations < 2:
        p.append(
            f"rlhf.num_generations must be at least 2 (got {r.num_generations}): the "
            "advantage of a completion is measured against the others for its prompt"
        )
    elif (c.batch_size * c.gradient_accumulation_steps) % r.num_generations:
        p.append(
            f"batch_size x gradient_accumulation_steps ({c.batch_size} x "
            f"{c.gradient_accumulation_steps}) must be a multiple of rlhf.num_generations "
            f"({r.num_generations}) so that every prompt's completions share a batch"
        )
    if r.max_new_tokens < 1:
        p.append(f"rlhf.max_new_tokens must be at least 1, got {r.max_new_tokens}")
    if r.temperature <= 0:
        p.append(f"rlhf.temperature must be positive, got {r.temperature}")
    if r.beta < 0:
        p.append(f"rlhf.beta (KL weight) must be >= 0, got {r.beta}")
    if r.reward_model and not Path(r.reward_model).is_dir():
        p.append(f"rlhf.reward_model {r.reward_model} is not a directory")
    if not r.reward_model and r.reward_epochs <= 0:
        p.append("rlhf.reward_epochs must be positive when a reward model is trained first")
    return p


def _cpt_problems(c: Any) -> list[str]:
    if c.cpt.chunk_length < 16:
        return [f"cpt.chunk_length {c.cpt.chunk_length} is too small (at least 16 tokens)"]
    return []


_METHOD_CHECKS = {
    "dpo": _dpo_problems,
    "kto": _kto_problems,
    "orpo": _orpo_problems,
    "rlhf": _rlhf_problems,
    "cpt": _cpt_problems,
}


def dataset_problems(c: Any, s: DatasetStats) -> list[str]:
    """What keeps the snapshot from training `c`, as the config error's English."""
    return [str(problem) for problem in _dataset_problems(c, s)]


def _dataset_problems(c: Any, s: DatasetStats) -> list[str | Text]:
    train_file = str(Path(s.data_dir) / s.files.get("train", "train.jsonl"))
    wrong_format = export_format_problem(c.method, s.export_format)
    if wrong_format:
        return [wrong_format]
    train_columns = s.columns.get("train")
    if train_columns is None or s.rows.get("train", 0) == 0:
        return train_rows_problems(c, 0, train_file=train_file)
    missing = missing_columns(c.method, train_columns)
    if missing:
        return [
            f"{train_file}: method {c.method} needs columns "
            f"{describe_formats(c.method)}; missing: {', '.join(missing)}"
        ]
    if s.conversational and (problem := conversational_rows_problem(c)):
        return [f"{train_file}: {problem}"]
    if c.method == "rlhf" and not c.rlhf.reward_model and "chosen" not in train_columns:
        return [
            "rlhf without rlhf.reward_model trains a reward model first and needs preference "
            "pairs (prompt, chosen, rejected); the snapshot has prompts only"
        ]
    n = s.rows["train"]
    if n < MIN_TRAIN_ROWS[c.method]:
        return train_rows_problems(c, n)
    p: list[str | Text] = [*_kto_data_problems(c, s)] if c.method == "kto" else []
    return p + train_rows_problems(c, n)


def _kto_data_problems(c: Any, s: DatasetStats) -> list[str]:
    """Both labels present; weights set by hand must make up for unequal counts (weights left
    unset are set from the counts, see kto_weights_from_counts)."""
    if s.desirable == 0 or s.undesirable == 0:
        return [
            f"KTO needs both desirable and undesirable completions; the train split has "
            f"{s.desirable} desirable and {s.undesirable} undesirable"
        ]
    desirable, undesirable = kto_weights_for(c.kto, s.desirable, s.undesirable)
    if kto_weights_balanced(s.desirable, s.undesirable, desirable, undesirable):
        return []
    (dlo, dhi), (ulo, uhi) = kto_weight_ranges(s.desirable, s.undesirable, desirable, undesirable)
    return [
        f"KTO data is imbalanced ({s.desirable} desirable vs {s.undesirable} undesirable) "
        f"and the weights set do not compensate: set kto.desirable_weight in [{dlo}, {dhi}] "
        f"or kto.undesirable_weight in [{ulo}, {uhi}] (not both), or leave both unset to "
        "have them set from the counts"
    ]
