"""Scoring rows with a model and the per-method reports, through the package's public names
(the pure figures are in test_metrics.py)."""

import pytest
import torch

from training.engine.evaluation import encode_completions, reward_win_rate, sft_references


def test_sft_references_split_the_last_assistant_turn():
    from datasets import Dataset

    rows = Dataset.from_list(
        [
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
        ]
    )
    prompts, refs = sft_references(rows)
    assert prompts == [[{"role": "user", "content": "hi"}]] and refs == ["hello"]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def test_encode_completions_masks_only_the_answer(tokenizer):
    prompt = [{"role": "user", "content": "Name a colour."}]
    batch = encode_completions(
        tokenizer, [prompt], [[{"role": "assistant", "content": "Blue"}]], 512
    )
    ids = batch["input_ids"][0][batch["completion_mask"][0].bool()]
    assert tokenizer.decode(ids) == "Blue<|im_end|>\n"


class LengthReward(torch.nn.Module):
    """A stand-in reward model: the score is the number of tokens."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask, **kw):
        return type("Out", (), {"logits": attention_mask.sum(-1, keepdim=True).float()})


def test_reward_win_rate_compares_two_lists_of_texts(tokenizer):
    new = ["a much longer and more helpful answer", "short", "same size"]
    parent = ["short", "a much longer and more helpful answer", "same size"]
    scores = reward_win_rate(LengthReward(), tokenizer, new, parent)
    assert scores["win_rate"] == pytest.approx((1 + 0 + 0.5) / 3)
    assert scores["new_mean_reward"] == pytest.approx(scores["parent_mean_reward"])
    with pytest.raises(ValueError, match="2 new completions vs 1 parent"):
        reward_win_rate(LengthReward(), tokenizer, ["a", "b"], ["c"])
