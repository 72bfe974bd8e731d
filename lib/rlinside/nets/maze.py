"""The marble-maze policy of the LSTM-contribution chapter (Lee et al. 2019, Figure 1d):
convolutions -> an LSTM of ``lstm_size`` channels with its gates exposed -> one linear layer
to the 5 action scores. A second linear layer on the same hidden state is the critic of the
actor-critic training; it plays no part in the action.

Input normalization. The maze's image is a fixed background (walls, board) and a ball of a few
pixels: scaled only by 1/255, the ball moves the first layer's output by a thousandth of its
mean and training does not get off the ground (our DAgger runs saw loss flat at the label
entropy). The net therefore starts with a fixed per-pixel normalization, ``(x - mean) / (std +
8)`` clipped to +-5, with ``mean`` and ``std`` measured once on the trainer's first images
(:meth:`MazePolicy.set_input_statistics`); this is the per-dimension observation normalization
of Stable-Baselines3's ``VecNormalize``, frozen. Pixels that never change become 0 and the ball
stands out. Until statistics are set the layer is ``x / 255`` (mean 0, scale 1/255)."""

from __future__ import annotations

import torch
from torch import nn

from rlinside.nets.recurrent import GatedLSTMCell

__all__ = ["MazePolicy"]


class MazePolicy(nn.Module):
    """``(B, 1, S, S)`` uint8 images -> ``(logits (B, 5), value (B,), (h, c)[, gates])``."""

    def __init__(self, n_actions: int = 5, lstm_size: int = 64, image_size: int = 64, hidden: int = 256) -> None:
        super().__init__()
        self.n_actions, self.lstm_size, self.image_size = n_actions, lstm_size, image_size
        self.register_buffer("input_mean", torch.zeros(1, image_size, image_size))
        self.register_buffer("input_scale", torch.full((1, image_size, image_size), 1.0 / 255.0))
        self.register_buffer("input_clip", torch.tensor(float("inf")))
        self.conv1 = nn.Conv2d(1, 16, kernel_size=8, stride=4)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 32, kernel_size=4, stride=2)
        self.relu2 = nn.ReLU()
        with torch.no_grad():
            n_flat = self.conv2(self.conv1(torch.zeros(1, 1, image_size, image_size))).numel()
        self.fc = nn.Linear(n_flat, hidden)
        self.relu3 = nn.ReLU()
        self.lstm = GatedLSTMCell(hidden, lstm_size)
        self.policy = nn.Linear(lstm_size, n_actions)  # W_a of the paper
        self.value = nn.Linear(lstm_size, 1)

    @torch.no_grad()
    def set_input_statistics(self, images: torch.Tensor, eps: float = 8.0, clip: float = 5.0) -> None:
        """Freeze the input normalization to ``(x - mean) / (std + eps)`` over ``images``
        ``(N, 1, S, S)`` (pixel units), clipped to ``+-clip``."""
        x = images.float()
        self.input_mean.copy_(x.mean(0))
        self.input_scale.copy_(1.0 / (x.std(0) + eps))
        self.input_clip.fill_(clip)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        # weights saved before the input normalization existed: keep the x / 255 default
        state_dict = dict(state_dict)
        for k in ("input_mean", "input_scale", "input_clip"):
            if k not in state_dict:
                state_dict[k] = getattr(self, k).clone()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def initial_state(self, batch: int, device: torch.device | None = None):
        return self.lstm.initial_state(batch, device)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The LSTM's input for images ``x`` ``(B, 1, S, S)``: ``(B, hidden)`` (no memory involved)."""
        z = ((x.float() - self.input_mean) * self.input_scale).clamp(-self.input_clip, self.input_clip)
        z = self.relu2(self.conv2(self.relu1(self.conv1(z))))
        return self.relu3(self.fc(z.flatten(1)))

    def forward(self, x: torch.Tensor, state=None, return_gates: bool = False, *, encoded: bool = False):
        """``encoded``: ``x`` is already :meth:`encode`'s output."""
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        z = x if encoded else self.encode(x)
        out = self.lstm(z, state, return_gates=return_gates)
        h, c = out[0], out[1]
        logits, value = self.policy(h), self.value(h).squeeze(1)
        if return_gates:
            return logits, value, (h, c), out[2]
        return logits, value, (h, c)
