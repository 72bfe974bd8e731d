"""The marble-maze policy of the LSTM-contribution chapter (Lee et al. 2019, Figure 1d):
convolutions -> an LSTM of ``lstm_size`` channels with its gates exposed -> one linear layer
to the 5 action scores. A second linear layer on the same hidden state is the critic of the
actor-critic training; it plays no part in the action."""

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

    def initial_state(self, batch: int, device: torch.device | None = None):
        return self.lstm.initial_state(batch, device)

    def forward(self, x: torch.Tensor, state=None, return_gates: bool = False):
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        z = x.float() / 255.0
        z = self.relu2(self.conv2(self.relu1(self.conv1(z))))
        z = self.relu3(self.fc(z.flatten(1)))
        out = self.lstm(z, state, return_gates=return_gates)
        h, c = out[0], out[1]
        logits, value = self.policy(h), self.value(h).squeeze(1)
        if return_gates:
            return logits, value, (h, c), out[2]
        return logits, value, (h, c)
