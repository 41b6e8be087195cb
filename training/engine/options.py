"""Each method's own options, nested in TrainConfig (`dpo.beta`, `kto.desirable_weight`, ...).

Dataclasses whose every field has a help string, as TRL's configs: the help is what
`python -m training.engine METHOD --help` and the admin's override hints show.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from training.engine.schema import DPO_LOSS_TYPES, KTO_LOSS_TYPES, RLHF_ALGORITHMS


@dataclass
class DPOOptions:
    beta: float = field(
        default=0.1,
        metadata={
            "help": "How far the policy may move from the reference: higher keeps it closer."
        },
    )
    loss_type: str = field(
        default="sigmoid",
        metadata={"help": f"DPO loss variant, one of TRL's: {', '.join(DPO_LOSS_TYPES)}."},
    )
    label_smoothing: float = field(
        default=0.0,
        metadata={"help": "Assumed label-flip probability (robust DPO) or EXO's epsilon."},
    )
    precompute_ref_log_probs: bool = field(
        default=True,
        metadata={
            "help": "Score every pair under the reference once before training instead of at "
            "every step: one reference forward per pair instead of one per pair and epoch."
        },
    )


@dataclass
class KTOOptions:
    beta: float = field(
        default=0.1, metadata={"help": "How far the policy may move from the reference."}
    )
    loss_type: str = field(
        default="kto", metadata={"help": f"KTO loss variant: {', '.join(KTO_LOSS_TYPES)}."}
    )
    desirable_weight: float | None = field(
        default=None,
        metadata={
            "help": "Weight of desirable completions' losses. Unset (with undesirable_weight "
            "unset too): set from the train split's counts so that unequal counts balance."
        },
    )
    undesirable_weight: float | None = field(
        default=None,
        metadata={
            "help": "Weight of undesirable completions' losses. Unset (with desirable_weight "
            "unset too): set from the train split's counts so that unequal counts balance."
        },
    )


@dataclass
class ORPOOptions:
    beta: float = field(
        default=0.1,
        metadata={
            "help": "Lambda of the ORPO paper: weight of the odds-ratio term vs the NLL term."
        },
    )


@dataclass
class RewardOptions:
    center_rewards_coefficient: float = field(
        default=0.0,
        metadata={
            "help": "Pull rewards towards mean zero with this weight (0 disables; 0.01 is usual)."
        },
    )


@dataclass
class RLHFOptions:
    reward_model: str = field(
        default="",
        metadata={
            "help": "Reward model directory (full model or reward adapter). Empty: train one "
            "first on the snapshot's preference pairs."
        },
    )
    algorithm: str = field(
        default="rloo", metadata={"help": f"Policy optimiser: {', '.join(RLHF_ALGORITHMS)}."}
    )
    reward_epochs: float = field(
        default=1.0, metadata={"help": "Epochs of reward-model training when none is given."}
    )
    reward_learning_rate: float = field(
        default=1e-4,
        metadata={"help": "Learning rate of reward-model training when none is given."},
    )
    num_generations: int = field(
        default=4, metadata={"help": "Completions sampled per prompt (at least 2)."}
    )
    max_new_tokens: int = field(
        default=48, metadata={"help": "Longest sampled completion, in tokens."}
    )
    temperature: float = field(default=0.9, metadata={"help": "Sampling temperature."})
    beta: float = field(
        default=0.05,
        metadata={"help": "KL penalty weight towards the reference policy (0 disables it)."},
    )


@dataclass
class CPTOptions:
    chunk_length: int = field(
        default=512,
        metadata={"help": "Tokens per training chunk; capped by the model's context length."},
    )
    deduplicate: bool = field(
        default=True, metadata={"help": "Drop exact duplicate documents after cleaning."}
    )
