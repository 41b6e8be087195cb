import dataclasses
import json
import re

import pytest

from training.engine.config import (
    DPO_LOSS_TYPES,
    ConfigError,
    TrainConfig,
    kto_weight_ranges,
    kto_weights_balanced,
    load_config,
    preset,
    validate,
)
from training.engine.schema import METHODS, DatasetStats


def stats(method: str, rows: int = 16, columns=None, **kw) -> DatasetStats:
    default_columns = {
        "sft": ["messages"],
        "cpt": ["text"],
        "kto": ["prompt", "completion", "label"],
    }.get(method, ["prompt", "chosen", "rejected"])
    return DatasetStats(
        data_dir="/snap",
        rows={"train": rows, "validation": 4, "test": 0},
        columns={"train": columns or default_columns},
        **kw,
    )


def test_every_field_has_a_help_string():
    def fields_of(cls):
        for f in dataclasses.fields(cls):
            yield cls.__name__, f
            if dataclasses.is_dataclass(f.type) or (
                f.default_factory is not dataclasses.MISSING
                and dataclasses.is_dataclass(f.default_factory())
            ):
                yield from fields_of(type(f.default_factory()))

    missing = [
        f"{owner}.{f.name}" for owner, f in fields_of(TrainConfig) if not f.metadata.get("help")
    ]
    assert missing == []


@pytest.mark.parametrize("method", METHODS)
def test_every_method_has_a_preset_that_validates(method):
    config = preset(method)
    assert config.method == method
    assert config.lora and config.lora_target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    validate(config)


def test_preset_rejects_an_unknown_method():
    with pytest.raises(ConfigError, match=re.escape("unknown method 'ppo'")):
        preset("ppo")


def test_load_config_layers_preset_file_and_overrides(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"learning_rate": 3e-4, "dpo": {"beta": 0.3}, "lora_r": 4}))
    config = load_config(
        path, "dpo", ["dpo.beta=0.5", "lora=false", "lora_target_modules=q_proj,v_proj"]
    )
    assert config.learning_rate == 3e-4  # from the file
    assert config.lora_r == 4
    assert config.dpo.beta == 0.5  # the override wins over the file
    assert config.lora is False
    assert config.lora_target_modules == ["q_proj", "v_proj"]
    assert preset("dpo").dpo.beta == 0.1  # presets are not mutated


def test_load_config_names_unknown_and_mistyped_settings(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("unknown setting 'dpo.gamma'")):
        load_config(None, "dpo", ["dpo.gamma=1"])
    with pytest.raises(ConfigError, match=re.escape("'batch_size' needs a int, got 'four'")):
        load_config(None, "dpo", {"batch_size": "four"})
    with pytest.raises(ConfigError, match=re.escape("must look like key=value")):
        load_config(None, "dpo", ["beta"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match=re.escape("is not valid JSON")):
        load_config(bad, "sft")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"method": "kto"}))
    with pytest.raises(ConfigError, match=re.escape("is for method 'kto', not 'dpo'")):
        load_config(other, "dpo")


def test_dpo_loss_types_match_trl():
    from trl import DPOConfig

    help_text = next(f for f in dataclasses.fields(DPOConfig) if f.name == "loss_type").metadata[
        "help"
    ]
    for name in DPO_LOSS_TYPES:
        assert f"'{name}'" in help_text
    with pytest.raises(ConfigError, match=re.escape("'kl' is not one of sigmoid, hinge")):
        validate(load_config(None, "dpo", ["dpo.loss_type=kl"]))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["lora_r=0"], "lora_r must be a positive rank, got 0"),
        (["max_length=8"], "max_length 8 is too small to hold a prompt and a completion"),
        (["learning_rate=0"], "learning_rate must be positive"),
        (["max_steps=-1", "num_train_epochs=0"], "nothing would be trained"),
        (["lora_target_modules="], "lora_target_modules is empty"),
    ],
)
def test_validate_explains_bad_common_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(load_config(None, "sft", overrides))


def test_lora_settings_do_not_matter_for_full_fine_tuning():
    validate(load_config(None, "sft", ["lora=false", "lora_r=0"]))


def test_kto_needs_a_batch_of_at_least_two():
    with pytest.raises(ConfigError, match=re.escape("batch_size >= 2 (got 1): its KL")):
        validate(load_config(None, "kto", ["batch_size=1"]))


def test_kto_weight_ranges_follow_trl_eq_8():
    # 10 desirable, 30 undesirable, weights 1: desirable in [3, 3.99], undesirable in [0.25, 0.33]
    assert kto_weight_ranges(10, 30, 1.0, 1.0) == ((3.0, 3.99), (0.25, 0.33))
    assert not kto_weights_balanced(10, 30, 1.0, 1.0)
    assert kto_weights_balanced(10, 30, 3.5, 1.0)
    assert kto_weights_balanced(10, 30, 1.0, 0.3)
    assert kto_weights_balanced(20, 20, 1.0, 1.0)


def test_kto_weights_set_by_hand_that_do_not_balance_are_refused_with_the_ones_to_use():
    validate(preset("kto"), stats("kto", rows=40, desirable=10, undesirable=30))  # from counts
    config = load_config(None, "kto", ["kto.desirable_weight=1", "kto.undesirable_weight=1"])
    with pytest.raises(ConfigError) as err:
        validate(config, stats("kto", rows=40, desirable=10, undesirable=30))
    assert "10 desirable vs 30 undesirable" in str(err.value)
    assert "kto.desirable_weight in [3.0, 3.99]" in str(err.value)
    assert "kto.undesirable_weight in [0.25, 0.33]" in str(err.value)
    balanced = load_config(None, "kto", ["kto.desirable_weight=3.5"])
    validate(balanced, stats("kto", rows=40, desirable=10, undesirable=30))


def test_kto_needs_both_labels():
    with pytest.raises(ConfigError, match=re.escape("16 desirable and 0 undesirable")):
        validate(preset("kto"), stats("kto", desirable=16, undesirable=0))


def test_too_few_pairs_for_the_split():
    with pytest.raises(
        ConfigError,
        match=re.escape("too few preference pairs for the train split: 3; dpo needs at least 4"),
    ):
        validate(preset("dpo"), stats("dpo", rows=3))


def test_missing_columns_name_the_file_and_the_column():
    with pytest.raises(ConfigError) as err:
        validate(preset("dpo"), stats("dpo", columns=["prompt", "chosen", "prompt_id"]))
    assert "/snap/train.jsonl" in str(err.value)
    assert "missing: rejected" in str(err.value)


def test_empty_train_split_is_refused():
    with pytest.raises(ConfigError, match=re.escape("train.jsonl is missing or empty")):
        validate(preset("sft"), DatasetStats(data_dir="/snap", rows={"train": 0}))


def test_rlhf_needs_pairs_unless_a_reward_model_is_given(tmp_path):
    prompts_only = stats("rlhf", columns=["prompt"])
    with pytest.raises(ConfigError, match=re.escape("needs preference pairs")):
        validate(preset("rlhf"), prompts_only)
    validate(load_config(None, "rlhf", [f"rlhf.reward_model={tmp_path}"]), prompts_only)


def test_rlhf_batch_must_hold_whole_prompt_groups():
    with pytest.raises(ConfigError, match=re.escape("must be a multiple of rlhf.num_generations")):
        validate(load_config(None, "rlhf", ["batch_size=6", "rlhf.num_generations=4"]))
    with pytest.raises(ConfigError, match=re.escape("rlhf.num_generations must be at least 2")):
        validate(load_config(None, "rlhf", ["rlhf.num_generations=1"]))
