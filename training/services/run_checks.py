"""What a training run is checked for before it is stored: everything that would otherwise
fail later in the worker (an unknown method, a snapshot the method does not take or too small
for it, a parent whose adapter is missing or is not a policy, a config the engine refuses),
each refused at the click as a ValidationError keyed by the field to change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.texts import text_shown
from labeling.models import Project
from serving.config import base_model_prompt_style
from training.engine import lineage
from training.engine.checks import manifest_problems
from training.engine.config import ConfigError, TrainConfig, load_config, parse_overrides, validate
from training.engine.publish import read_meta
from training.models import ModelVersion, TrainingRun
from training.selectors.versions import live_version
from training.services.versions import version_is_reward_model

FULL_WEIGHTS_PUBLISH = gettext_lazy(
    "A full fine-tune (lora false) cannot be published: serving it needs the model servers "
    "restarted on its weights. Choose to publish by hand (it stays a candidate), or train LoRA."
)


NOTHING_HELD_OUT = gettext_lazy(
    "This export holds no rows out, so the run cannot be compared with the version it starts "
    'from and "better than the parent" cannot decide: choose to publish it when it succeeds, '
    "or by hand, or export again with held-out rows."
)


def training_config_build(
    *, method: str, base_version: ModelVersion, overrides: dict | None, output_dir: str = ""
) -> TrainConfig:
    """The engine config: the method's preset, the overrides, and absolute paths.

    An adapter version is the parent: the run continues its adapter on the same base model
    (unless init_from_parent is false), keeping the parent's LoRA shape where the overrides set
    none (one they set must match: engine.lineage). The held-out evaluation compares with it.
    """
    config = load_config(None, method, overrides or {})
    config.base_model = str(Path(base_version.base_model_path).resolve())
    config.output_dir = output_dir
    # Trained the way it is served: the served model's prompt style and the project's template.
    overridden = parse_overrides(overrides or {})
    if "prompt_style" not in overridden:
        config.prompt_style = base_model_prompt_style(config.base_model)
    if "text_template" not in overridden:
        config.text_template = base_version.project.text_template
    if base_version.is_adapter:
        config.parent_adapter = str(Path(base_version.adapter_path).resolve())
        _check_parent_adapter(config, base_version.served_name)
        lineage.adopt_parent_shape(config, keep=set(parse_overrides(overrides or {})))
    return config


def _check_parent_adapter(config: TrainConfig, name: str) -> None:
    """The run starts from the parent's adapter and the held-out comparison loads it: check
    it is there and is a policy's LoRA adapter before the run is queued."""
    parent = Path(config.parent_adapter)
    if read_meta(parent).get("kind") == "full" or (parent / "config.json").is_file():
        raise ConfigError(
            f"{name} is a full fine-tune (LoRA off), not an adapter: the served base model "
            "cannot take it, so no run can start from it yet; start from another version"
        )
    if (config.eval or lineage.starts_from_parent(config)) and not (
        parent / lineage.ADAPTER_CONFIG
    ).is_file():
        raise ConfigError(
            f"the adapter of {name} is missing at {parent}: the run starts from it and the "
            "held-out comparison needs it (restore it, or set init_from_parent and eval to false)"
        )
    if read_meta(parent).get("task") == "reward_model":
        raise ConfigError(f"{name} is a reward model, not a policy: start from another version")


def run_request_check(
    *,
    project: Project,
    method: str,
    publish: str,
    directory: Path,
    export: Any,
    base_version: ModelVersion | None,
    overrides: dict | None,
) -> tuple[Path, ModelVersion]:
    """Refuse a run that would fail in the worker; the snapshot and the version it starts
    from when it would not."""
    if method not in TrainingRun.Method.values:
        raise ValidationError({"method": _("Unknown method %(method)r.") % {"method": method}})
    if publish not in TrainingRun.Publish.values:
        unknown = _("Unknown publish policy %(publish)r.") % {"publish": publish}
        raise ValidationError({"publish": unknown})
    if not (directory / "manifest.json").is_file():
        no_manifest = _("%(directory)s holds no manifest.json.") % {"directory": directory}
        raise ValidationError({"snapshot_dir": no_manifest})
    if base_version is None:
        base_version = live_version(project)
    if base_version is None or base_version.project_id != project.pk:
        raise ValidationError({"base_version": _("Choose a model version of this project.")})
    try:
        config = training_config_build(
            method=method, base_version=base_version, overrides=dict(overrides or {})
        )
        validate(config)
    except ConfigError as exc:
        raise ValidationError({"config": str(exc)}) from None
    if not config.lora and publish != TrainingRun.Publish.MANUAL:
        raise ValidationError({"publish": FULL_WEIGHTS_PUBLISH})
    manifest = _snapshot_fit_check(config=config, directory=directory, export=export)
    if manifest.get("held_out") is False and publish == TrainingRun.Publish.IF_BETTER:
        raise ValidationError({"publish": NOTHING_HELD_OUT})
    return directory, base_version


def _snapshot_fit_check(*, config: TrainConfig, directory: Path, export: Any) -> dict:
    """Refuse a method that does not take the export's format, and a train split empty or too
    small for it, by the engine's own rules read from the manifest: never queued to fail.
    The manifest, when it fits."""
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError({"snapshot_dir": f"{directory}/manifest.json: {exc}"}) from None
    manifest = manifest if isinstance(manifest, dict) else {}
    found = manifest_problems(config, manifest, getattr(export, "format", None))
    if found is None:
        return manifest
    field, why = found
    why = text_shown(why)
    if field == "data":
        field = "export" if export is not None else "snapshot_dir"
        if export is not None:
            cannot = _("Export #%(number)s cannot train %(method)s: %(why)s.")
        else:
            cannot = _("The snapshot %(directory)s cannot train %(method)s: %(why)s.")
        values = {"number": getattr(export, "pk", ""), "directory": directory, "why": why}
        raise ValidationError({field: cannot % {**values, "method": config.method}})
    raise ValidationError({field: f"{why[0].upper()}{why[1:]}."})


def reward_version_override(
    *, project: Project, method: str, reward_version: ModelVersion | None, overrides: dict | None
) -> dict:
    """The overrides, with `rlhf.reward_model` set to the chosen reward version's adapter: an
    RLHF run optimises its policy against a reward model that a reward run of this project
    made. Anything else chosen as the reward model is refused at the click."""
    overrides = dict(overrides or {})
    if reward_version is None:
        return overrides
    if method != TrainingRun.Method.RLHF:
        raise ValidationError(
            {
                "reward_version": _("Only an RLHF run takes a reward model, not a %(method)s run.")
                % {"method": method}
            }
        )
    if reward_version.project_id != project.pk:
        raise ValidationError({"reward_version": _("Choose a reward model of this project.")})
    if not version_is_reward_model(reward_version):
        raise ValidationError(
            {
                "reward_version": _(
                    "%(name)s is not a reward model: choose a version a reward run made, or "
                    "none to train one on the export first."
                )
                % {"name": reward_version.served_name}
            }
        )
    try:
        named = "rlhf.reward_model" in parse_overrides(overrides)
    except ConfigError as exc:
        raise ValidationError({"config": str(exc)}) from None
    if named:
        raise ValidationError(
            {"reward_version": _("The overrides name rlhf.reward_model too: choose it once.")}
        )
    rlhf = overrides.get("rlhf")
    path = str(Path(reward_version.adapter_path).resolve())
    overrides["rlhf"] = {**(rlhf if isinstance(rlhf, dict) else {}), "reward_model": path}
    return overrides


def snapshot_dir_of(export: Any, snapshot_dir: str | Path | None) -> Path:
    if snapshot_dir:
        return Path(snapshot_dir).resolve()
    if export is None:
        raise ValidationError({"snapshot_dir": _("Choose a dataset export to train on.")})
    if getattr(export, "status", "done") != "done":
        not_done = _("Export %(number)s is %(status)s, not done.")
        raise ValidationError({"export": not_done % {"number": export.pk, "status": export.status}})
    for name in ("snapshot_dir", "directory", "path"):
        value = getattr(export, name, None)
        if value:
            return Path(str(value)).resolve()
    raise ValidationError(
        {"export": _("Export %(export)s has no snapshot directory.") % {"export": export}}
    )
