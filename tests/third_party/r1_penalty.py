"""R1 written as a third party would, from docs/plugins/ and the public API (``ganforge.__all__``) only."""

from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

import ganforge


class R1Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gamma: float = Field(10.0, gt=0, description="γ, the penalty's weight.")


class R1(ganforge.Regularizer):
    """γ/2 · E‖∇ₓD(x_real)‖², from the logits the critic step computed for the real batch."""

    needs_real_grad = True

    def __init__(self, options: R1Options, ctx: ganforge.BuildContext) -> None:
        super().__init__()
        self.gamma = options.gamma

    def critic_terms(self, view: ganforge.StepView) -> ganforge.Terms:
        (grad,) = torch.autograd.grad(view.real_logits.sum(), view.real, create_graph=True)
        penalty = 0.5 * self.gamma * grad.square().flatten(1).sum(1).mean()
        return ganforge.Terms(losses={"r1": penalty})


@ganforge.hookimpl
def register_regularizers(register: Any) -> None:
    register("my_r1", R1, R1Options, help="R1 gradient penalty on real images.")
