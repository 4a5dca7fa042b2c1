"""Losses of the tokenizer stage: reconstruction with an image-gradient term, and a patch critic.

An autoencoder trained on pixel MSE alone decodes the mean of every frame its latents could stand
for, so detail the 8×8×16 latent grid cannot pin down comes out blurred (docs/model.md, "A decoder
that keeps detail"). Two remedies live here:

- `reconstruction_loss`: MSE plus an MSE on horizontal and vertical pixel differences, weighted by
  `train.tokenizer_edge_weight`. It still regresses to a mean, but puts more weight on edges.
- `detail_loss`: the gradient energy of each 8×8 patch must match the real patch's
  (`train.tokenizer_detail_weight`); it charges blur without charging a sharp edge a pixel off.
- `TokenizerCritic`: a small patch discriminator trained from scratch with the hinge loss, and the
  generator term the decoder minimises against it (`train.tokenizer_adv_weight`, from
  `train.tokenizer_adv_start` of the steps on). The critic scores each ~22×22-pixel patch, so it
  judges texture and edges, not the layout that the MSE term already pins down. Its term is scaled
  by the adaptive weight of VQGAN (Esser et al., 2021): the ratio of the reconstruction loss's and
  the adversarial loss's gradient norms at the decoder's last layer, so one setting of the weight
  holds across frame sizes and training stages.

The critic has its own optimizer and takes its step inside the tokenizer's loss function; its weights
and optimizer state travel in the tokenizer's `optimizer.pt` (`state_dict` / `load_state_dict`), so
a resumed run continues it exactly. With all three weights at 0 the loss is plain pixel MSE.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

# Patch side of the detail term: one latent cell's area at the tokenizer's factor 8, the region
# whose detail one cell must carry.
DETAIL_PATCH = 8
# The critic's Adam betas: a low first-moment decay keeps it responsive to a moving generator (as
# in most GAN recipes); its learning rate follows the tokenizer's schedule.
CRITIC_BETAS = (0.5, 0.9)
# Bounds of the adaptive weight: a critic whose gradient vanishes must not blow the term up.
MAX_ADAPTIVE_WEIGHT = 1e4


def reconstruction_loss(predicted: torch.Tensor, target: torch.Tensor, edge_weight: float,
                        detail_weight: float = 0.0) -> torch.Tensor:
    """MSE, plus `edge_weight` × the mean MSE of horizontal and vertical image gradients, plus
    `detail_weight` × `detail_loss`."""
    loss = F.mse_loss(predicted, target)
    if edge_weight > 0:
        edge_x = F.mse_loss(predicted.diff(dim=-1), target.diff(dim=-1))
        edge_y = F.mse_loss(predicted.diff(dim=-2), target.diff(dim=-2))
        loss = loss + edge_weight * 0.5 * (edge_x + edge_y)
    if detail_weight > 0:
        loss = loss + detail_weight * detail_loss(predicted, target)
    return loss


def gradient_energy(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H/P, W/P): mean squared image gradient over each P×P patch."""
    dx = F.pad(images.diff(dim=-1), (0, 1))   # (B, 3, H, W); the last column has no right neighbour
    dy = F.pad(images.diff(dim=-2), (0, 0, 0, 1))
    energy = (dx.square() + dy.square()).mean(dim=1, keepdim=True)   # (B, 1, H, W)
    return F.avg_pool2d(energy, DETAIL_PATCH)


def detail_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE between the root gradient energies of predicted and real P×P patches.

    It asks each patch for edges as strong as the real ones, wherever they fall inside it: a blurred
    patch pays for the energy it lacks, while a sharp edge a pixel off costs no more than an exact one
    (the gradient MSE above charges it twice, which is why that term still prefers blur)."""
    return F.mse_loss((gradient_energy(predicted) + 1e-6).sqrt(), (gradient_energy(target) + 1e-6).sqrt())


class PatchDiscriminator(nn.Module):
    """Frames (B, 3, H, W) in [0, 1] -> one realness logit per patch, (B, 1, H/8, W/8).

    Three stride-2 convolutions (receptive field 22 pixels) with LeakyReLU and no normalisation:
    batch statistics would let the critic compare frames within a batch instead of judging each."""

    def __init__(self, width: int):
        super().__init__()
        layers, channels = [], 3
        for i in range(3):
            layers += [nn.Conv2d(channels, width * 2 ** i, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels = width * 2 ** i
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.layers(frames * 2.0 - 1.0)


def critic_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean())


def adaptive_weight(reconstruction: torch.Tensor, adversarial: torch.Tensor, last_layer: torch.Tensor) -> torch.Tensor:
    """‖∇ reconstruction‖ / ‖∇ adversarial‖ at `last_layer`'s weight, as a constant (no gradient)."""
    rec_grad, = torch.autograd.grad(reconstruction, last_layer, retain_graph=True)
    adv_grad, = torch.autograd.grad(adversarial, last_layer, retain_graph=True)
    return (rec_grad.norm() / (adv_grad.norm() + 1e-8)).clamp(0.0, MAX_ADAPTIVE_WEIGHT).detach()


class TokenizerCritic:
    """The patch discriminator, its optimizer, and the generator term it gives the decoder."""

    def __init__(self, width: int, lr: float, distributed: bool):
        self.discriminator = PatchDiscriminator(width)
        self.wrapped = DistributedDataParallel(self.discriminator) if distributed else self.discriminator
        self.optimizer = torch.optim.AdamW(self.discriminator.parameters(), lr=lr, betas=CRITIC_BETAS,
                                           weight_decay=0.0)

    def step(self, real: torch.Tensor, fake: torch.Tensor, lr: float) -> float:
        """One hinge-loss update on real frames and detached reconstructions; returns the loss."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        logits = self.wrapped(torch.cat([real, fake.detach()]))   # (2B, 1, H/8, W/8): real then fake
        real_logits, fake_logits = logits.chunk(2)
        loss = critic_hinge_loss(real_logits, fake_logits)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        """-mean logit of the reconstructions, through frozen critic weights: the gradient reaches the
        decoder only, never the critic. The weights are copied, so a later critic update in the same
        step (the dynamics stage judges two kinds of sample) leaves this term's graph intact."""
        frozen = {name: p.detach().clone() for name, p in self.discriminator.named_parameters()}
        return -functional_call(self.discriminator, frozen, (fake,)).mean()

    def add_term(self, supervised: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, lr: float, weight: float,
                 last_layer: torch.Tensor, active: bool) -> tuple[torch.Tensor, dict]:
        """One critic update on `real` against `fake`, then, when `active`, `supervised` plus the
        generator term on `fake` × `weight` × the adaptive weight at `last_layer`; with the figures to log."""
        extras = {"critic_loss": self.step(real, fake, lr)}
        if not active:
            return supervised, extras
        adversarial = self.generator_loss(fake)
        scaled = weight * adaptive_weight(supervised, adversarial, last_layer)
        extras.update(adv_loss=adversarial.item(), adv_weight=scaled.item())
        return supervised + scaled * adversarial, extras

    def state_dict(self) -> dict:
        return {"weights": self.discriminator.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.discriminator.load_state_dict(state["weights"])
        self.optimizer.load_state_dict(state["optimizer"])
