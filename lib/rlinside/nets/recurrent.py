"""An LSTM cell that exposes its gates, and the actor-critic networks of the Atari zoo.

``torch.nn.LSTM`` fuses its gates inside one kernel; analyses that look at the gates (the
LSTM-contribution chapter, Lee et al. 2019) need them per step. :class:`GatedLSTMCell` is
the textbook cell (Hochreiter and Schmidhuber 1997, with forget gate, Gers et al. 2000) in
the gate order and parameter layout of ``torch.nn.LSTMCell`` (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``, rows [input, forget, cell, output]), so its outputs equal those of
``nn.LSTMCell`` with the same weights (tested), and it can return

    i_t = sigmoid(W_ii x + b_ii + W_hi h + b_hi)      input gate
    f_t = sigmoid(W_if x + b_if + W_hf h + b_hf)      forget gate
    g_t = tanh   (W_ig x + b_ig + W_hg h + b_hg)      cell candidate
    o_t = sigmoid(W_io x + b_io + W_ho h + b_ho)      output gate
    c_t = f_t * c_{t-1} + i_t * g_t,    h_t = o_t * tanh(c_t)

as a :class:`LSTMGates` record.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from rlinside.nets.atari import NatureCNN

__all__ = ["LSTMGates", "GatedLSTMCell", "ActorCritic"]


class LSTMGates(NamedTuple):
    """Gate activations of one step, each ``(B, hidden)``."""

    input: torch.Tensor
    forget: torch.Tensor
    cell: torch.Tensor  # the candidate g_t
    output: torch.Tensor
    c: torch.Tensor  # the new cell state c_t
    h: torch.Tensor  # the new hidden state h_t


class GatedLSTMCell(nn.Module):
    """LSTM cell with ``nn.LSTMCell``'s parameters and initialization, gates on request."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)  # nn.LSTMCell's uniform(-1/sqrt(H), 1/sqrt(H))
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def initial_state(self, batch: int, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero ``(h, c)``, each ``(batch, hidden)``."""
        z = torch.zeros(batch, self.hidden_size, device=device)
        return z, z.clone()

    def forward(
        self,
        x: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor],
        return_gates: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor] | tuple[torch.Tensor, torch.Tensor, LSTMGates]:
        """One step: ``x: (B, input)``, ``state = (h, c)`` -> ``(h', c')`` [+ gates]."""
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        zi, zf, zg, zo = z.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
        c_new = f * c + i * g
        h_new = o * torch.tanh(c_new)
        if return_gates:
            return h_new, c_new, LSTMGates(i, f, g, o, c_new, h_new)
        return h_new, c_new


class ActorCritic(nn.Module):
    """The A2C/A3C network of Mnih et al. 2016 ("Asynchronous methods for deep RL") on the
    Nature CNN torso: conv torso -> ``fc`` 512 -> ReLU [-> :class:`GatedLSTMCell`] -> a policy
    head (logits over actions) and a value head.

    Without LSTM (``lstm_size=0``) the network is feed-forward over a frame stack; with it,
    one frame per step is typical and the recurrent state is carried by the caller.

    Modules: ``torso`` (:class:`NatureCNN`), ``fc``, ``fc_relu``, ``lstm_norm`` (a LayerNorm
    of the LSTM's input, or None), ``lstm`` (or None), ``policy``, ``value``.

    ``lstm_input_norm``: layer-normalise the fc features before the LSTM. Without it, the fc
    features of our first A2C-LSTM (Seaquest) grew from about 0.2 at initialisation to a mean
    of 7 (max 87) within 250k steps; with ``nn.LSTMCell``'s uniform(+-1/sqrt(H)) input weights
    that put the gate pre-activations at |z| ~ 22, three quarters of the gates within 1e-6 of
    0 or 1, and the gradient to the torso vanished: its weights stopped moving, and the agent
    acted on its recurrent state alone (input gradients ~1e-10, see the saliency chapter's
    sensitivity gate). Every ReLU is its own module, used once per forward pass.
    """

    def __init__(self, n_actions: int, in_channels: int = 3, hidden: int = 512, lstm_size: int = 0,
                 lstm_input_norm: bool = False) -> None:
        super().__init__()
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions!r}")
        if lstm_size < 0:
            raise ValueError(f"lstm_size must be >= 0, got {lstm_size!r}")
        self.n_actions = n_actions
        self.torso = NatureCNN(in_channels)
        self.fc = nn.Linear(self.torso.out_features, hidden)
        self.fc_relu = nn.ReLU()
        if lstm_input_norm and not lstm_size:
            raise ValueError("lstm_input_norm needs an LSTM (lstm_size > 0)")
        # Layer normalisation of the LSTM's input (Ba et al. 2016, "Layer normalization"):
        # keeps the gates' pre-activations O(1) however large the fc features grow (module
        # docstring: without it the shipped A2C-LSTM's gates saturated and it went blind).
        self.lstm_norm = nn.LayerNorm(hidden) if lstm_input_norm else None
        self.lstm = GatedLSTMCell(hidden, lstm_size) if lstm_size else None
        head_in = lstm_size or hidden
        self.policy = nn.Linear(head_in, n_actions)
        self.value = nn.Linear(head_in, 1)
        # Orthogonal init as in OpenAI Baselines / pytorch-a2c-ppo-acktr: small policy logits.
        for m in (*[self.torso.conv1, self.torso.conv2, self.torso.conv3], self.fc):
            nn.init.orthogonal_(m.weight, gain=math.sqrt(2))
            nn.init.zeros_(m.bias)
        nn.init.orthogonal_(self.policy.weight, gain=0.01)
        nn.init.zeros_(self.policy.bias)
        nn.init.orthogonal_(self.value.weight, gain=1.0)
        nn.init.zeros_(self.value.bias)

    @property
    def recurrent(self) -> bool:
        return self.lstm is not None

    def initial_state(self, batch: int, device: torch.device | None = None):
        """Zero recurrent state ``(h, c)`` (None for the feed-forward network)."""
        return self.lstm.initial_state(batch, device) if self.lstm is not None else None

    def forward(self, x: torch.Tensor, state=None, return_gates: bool = False):
        """One step for a batch.

        Args:
            x: ``(B, C, 84, 84)`` pixels in [0, 255].
            state: ``(h, c)`` for the recurrent network (None: zeros), ignored otherwise.
            return_gates: recurrent network only: also return the :class:`LSTMGates`.

        Returns:
            ``(logits: (B, A), value: (B,), new_state)`` (``new_state`` None when
            feed-forward), plus the gates when asked.
        """
        features = self.fc_relu(self.fc(self.torso(x)))
        gates = None
        if self.lstm is not None:
            if state is None:
                state = self.lstm.initial_state(x.shape[0], x.device)
            if self.lstm_norm is not None:
                features = self.lstm_norm(features)
            out = self.lstm(features, state, return_gates=return_gates)
            h, c = out[0], out[1]
            gates = out[2] if return_gates else None
            features, state = h, (h, c)
        else:
            state = None
        logits = self.policy(features)
        value = self.value(features).squeeze(1)
        if return_gates:
            return logits, value, state, gates
        return logits, value, state
