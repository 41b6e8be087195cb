import math

import pytest
import torch

from training.engine.evaluation import (
    bleu,
    encode_completions,
    implicit_rewards,
    label_accuracy,
    mean_margin,
    preference_accuracy,
    reward_win_rate,
    rouge_l,
    sequence_logps,
    sft_references,
    win_rate,
)


def test_sequence_logps_sums_masked_next_token_logprobs():
    # vocab 2; position 0 predicts token 1 with p = e^1/(e^0+e^1), position 1 is uniform
    logits = torch.tensor([[[0.0, 1.0], [0.0, 0.0], [5.0, 5.0]]])
    input_ids = torch.tensor([[0, 1, 0]])
    p1 = math.log(math.e / (1 + math.e))
    all_tokens = sequence_logps(logits, input_ids, torch.tensor([[1, 1, 1]]))
    assert all_tokens.item() == pytest.approx(p1 + math.log(0.5))
    last_only = sequence_logps(logits, input_ids, torch.tensor([[0, 0, 1]]))
    assert last_only.item() == pytest.approx(math.log(0.5))


def test_implicit_rewards_and_margin():
    policy = torch.tensor([-10.0, -12.0])
    ref = torch.tensor([-11.0, -11.0])
    rewards = implicit_rewards(policy, ref, beta=0.1)
    assert rewards.tolist() == pytest.approx([0.1, -0.1])
    assert mean_margin(torch.tensor([1.0, 0.5]), torch.tensor([0.0, 1.5])) == pytest.approx(0.0)


def test_preference_accuracy_counts_strict_wins():
    chosen = torch.tensor([1.0, 2.0, 0.0, 3.0])
    rejected = torch.tensor([0.0, 2.0, 1.0, -1.0])
    assert preference_accuracy(chosen, rejected) == pytest.approx(0.5)  # the tie loses
    assert math.isnan(preference_accuracy(torch.zeros(0), torch.zeros(0)))


def test_win_rate_counts_ties_as_half():
    assert win_rate(torch.tensor([2.0, 1.0, 0.0, 5.0]), torch.tensor([1.0, 1.0, 1.0, 4.0])) == 0.625


def test_label_accuracy_checks_the_reward_sign():
    rewards = torch.tensor([0.3, -0.2, 0.1, -0.4])
    labels = torch.tensor([True, False, False, True])
    assert label_accuracy(rewards, labels) == 0.5


def test_rouge_l_and_bleu_reward_overlap():
    refs = ["the cat sat on the mat", "owls hunt at night"]
    assert rouge_l(refs, refs) == pytest.approx(1.0)
    assert bleu(refs, refs) == pytest.approx(100.0)
    assert rouge_l(["dogs bark"], ["the cat sat"]) == 0.0
    partial = rouge_l(["the cat sat"], ["the cat sat on the mat"])
    assert partial == pytest.approx(2 * 1.0 * 0.5 / 1.5)  # P = 1, R = 1/2


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
