"""Which process this is when the engine runs under `accelerate launch` (or torchrun).

Every process trains its share of each batch; only the main one evaluates, reports progress
and publishes, and the others wait for it at the end (`wait_for_everyone`), so none exits
while the main process still works. Run without a launcher, the one process is the main one
and every function here is a no-op or a constant.

The state is accelerate's `PartialState`, asked fresh each time: the Trainer's arguments reset
and rebuild it, and on a machine without CUDA it must be built with `cpu=True` to see the
launcher's processes (gloo) instead of one process alone.
"""

from __future__ import annotations

from typing import Any

import torch


def state() -> Any:
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def is_main() -> bool:
    """True in the process that evaluates, reports and publishes (the only one, unlaunched)."""
    return state().is_main_process


def distributed() -> bool:
    return state().num_processes > 1


def device() -> torch.device:
    """This process's device: where a model the Trainer does not own (a reference, a parent
    loaded for evaluation) is put."""
    return state().device


def wait_for_everyone() -> None:
    """Barrier: every process waits here until all have arrived (no-op in one process)."""
    if distributed():
        state().wait_for_everyone()


def any_process(flag: bool) -> bool:
    """True on every process if `flag` is true on any: a collective, so every process must
    call it at the same point (the cancel decision at a step's end)."""
    if not distributed():
        return flag
    value = torch.tensor([1 if flag else 0], device=device())
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())
