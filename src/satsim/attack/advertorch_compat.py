"""Make advertorch 0.2.3 (the PyPI release) import on torch >= 1.9.

advertorch imports ``torch.autograd.gradcheck.zero_gradients``, which torch 1.9 removed. The fix
is to put back that one helper (same behaviour as torch 1.8's) before advertorch is imported.
Nothing else in advertorch is touched.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

import torch


def _zero_gradients(x: torch.Tensor | Iterable[torch.Tensor]) -> None:
    """torch 1.8's ``zero_gradients``: zero the ``.grad`` of a tensor or of each tensor inside."""
    if isinstance(x, torch.Tensor):
        if x.grad is not None:
            x.grad.detach_()
            x.grad.zero_()
    elif isinstance(x, Iterable):
        for element in x:
            _zero_gradients(element)


def import_advertorch_attacks() -> ModuleType:
    """``advertorch.attacks``, importable on current torch."""
    # The module, not the function torch.autograd.gradcheck that shadows its name.
    gradcheck_module = importlib.import_module("torch.autograd.gradcheck")
    if not hasattr(gradcheck_module, "zero_gradients"):
        gradcheck_module.zero_gradients = _zero_gradients
    import advertorch.attacks
    import advertorch.attacks.iterative_projected_gradient  # noqa: F401  (used by satsim.attack.pgd)

    return advertorch.attacks
