"""Several categorical heads on Q and an unsupervised choice between them (beyond the paper, for the plus regularizer).

A clustering of real images can settle in a bad optimum: two categories that each hold half of two digits (seen on
MNIST: half the 4s and half the 9s in each). IIC (Ji et al. 2019) and the augmented information-maximising GAN of
Ntelemis et al. (2021) train several heads side by side from different initialisations, plus an over-clustering head
with more categories than classes that asks the shared features for finer distinctions, and report the head with the
lowest training loss: no labels are needed to choose.

Here each categorical code gets ``heads`` linear heads on Q's hidden layer (head 0 is the paper's Q output, the
others are extra) and optionally an over-clustering head of ``overcluster`` categories. Every head learns the
real-image terms; only the *chosen* head is the code's posterior: G's MI reward, Q's MI loss on fakes and every
evaluation read it. Every ``select_every`` steps the head whose running real-image loss is lowest by more than a
margin becomes the chosen one; its categories are first matched to G's code (Hungarian on the running joint of the
old chosen head's and its assignments of the real batches), so G's category k goes on drawing what it drew, now
read by the new head. Which head is chosen and the matching are buffers: checkpoints keep them and a resumed run
or an evaluation reads the same head.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

#: how much lower (nats) another head's running real-image loss must be before it replaces the chosen one, so two
#: heads of about the same loss do not trade places back and forth (each change moves G's target)
SWITCH_MARGIN = 0.02


def align(joint: Tensor) -> Tensor:
    """The matching of a new head's categories to G's code: for ``joint`` (K, K), joint[k, j] the running share of
    real images that the chosen head puts in G's category k and the new head in its category j, the permutation
    (K,) long with perm[k] = j that maximises Σ_k joint[k, perm[k]]."""
    rows, cols = linear_sum_assignment(joint.detach().double().cpu().numpy(), maximize=True)
    perm = torch.empty(joint.shape[0], dtype=torch.long)
    perm[torch.as_tensor(rows)] = torch.as_tensor(cols)
    return perm


class HeadChoice(nn.Module):
    """One categorical code's choice between ``heads`` heads of ``k`` categories: running losses and joints, the
    chosen head and its matching to G's code (all buffers)."""

    def __init__(self, heads: int, k: int, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.register_buffer("chosen", torch.zeros((), dtype=torch.long))
        self.register_buffer("perm", torch.arange(k))  # G's category k is the chosen head's category perm[k]
        self.register_buffer("loss", torch.zeros(heads))  # running real-image loss per head, nats
        self.register_buffer("joint", torch.zeros(heads, k, k))  # running P(G's category k, head h's category j)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, losses: Tensor, chosen_probs: Tensor, head_probs: list[Tensor]) -> None:
        """Fold in one real batch: ``losses`` (H,) each head's real-image loss, ``chosen_probs`` (B, K) the chosen
        head's probabilities in G's category order, ``head_probs`` H × (B, K) each head's own."""
        with torch.autocast(chosen_probs.device.type, enabled=False):  # running figures in fp32 under bf16 too
            joint = torch.stack([chosen_probs.float().T @ p.float() / len(p) for p in head_probs])  # (H, K, K)
        rate = 1.0 if int(self.updates) == 0 else 1 - self.decay
        self.loss.lerp_(losses.float(), rate)
        self.joint.lerp_(joint, rate)
        self.updates += 1

    @torch.no_grad()
    def select(self, margin: float = SWITCH_MARGIN) -> bool:
        """Choose the head of lowest running loss if it beats the chosen one by more than ``margin``; its categories
        matched to G's code. True when the choice changed."""
        best = int(self.loss.argmin())
        current = int(self.chosen)
        if int(self.updates) == 0 or best == current or self.loss[best] >= self.loss[current] - margin:
            return False
        # new tensors, not in-place writes: this step's graph still holds the old matching as an index
        self.perm = align(self.joint[best]).to(self.perm.device)
        self.chosen = torch.tensor(best, device=self.chosen.device)
        return True


class CategoricalHeads(nn.Module):
    """The extra heads (and over-clustering heads) of every categorical code, on Q's hidden layer, and their choice.

    ``widths``: categorical code name → K. Head 0 of each code is Q's own output (not held here).
    """

    def __init__(self, hidden: int, widths: dict[str, int], heads: int, overcluster: int, decay: float = 0.98) -> None:
        super().__init__()
        self.widths, self.heads, self.overcluster = dict(widths), heads, overcluster
        self.extra = nn.ModuleDict({name: nn.Linear(hidden, (heads - 1) * k + overcluster) for name, k in widths.items()})
        self.choice = nn.ModuleDict({name: HeadChoice(heads, k, decay) for name, k in widths.items()})

    def split(self, name: str, first: Tensor, hidden: Tensor) -> tuple[list[Tensor], Tensor | None]:
        """Code ``name``'s heads for Q's ``hidden`` (B, hidden) layer: ``heads`` × (B, K) logits, head 0 being
        ``first`` (Q's own output), and the over-clustering head's (B, overcluster) logits or None."""
        k = self.widths[name]
        sizes = [k] * (self.heads - 1) + ([self.overcluster] if self.overcluster else [])
        parts = list(self.extra[name](hidden).split(sizes, dim=1))
        over = parts.pop() if self.overcluster else None
        return [first, *parts], over

    def chosen(self, name: str, heads: list[Tensor]) -> Tensor:
        """The chosen head's logits (B, K) in G's category order: code ``name``'s posterior."""
        choice = self.choice[name]
        return heads[int(choice.chosen)][:, choice.perm]
