"""Networks for Atari agents: the Nature CNN torso and a dueling Q head.

Every nonlinearity is its own ``nn.ReLU`` module, used exactly once per forward pass, so that
guided backpropagation (which hooks each ReLU, ``explain/``) sees every rectification, and
Grad-CAM can hook any named convolution (``torso.conv1`` .. ``torso.conv3``).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NatureCNN", "DuelingQNetwork", "QNetwork"]


class NatureCNN(nn.Module):
    """The convolutional torso of Mnih et al. 2015 ("Human-level control through deep RL",
    Methods: "Model architecture").

    conv1: 32 filters 8x8 stride 4 -> ReLU -> conv2: 64 filters 4x4 stride 2 -> ReLU ->
    conv3: 64 filters 3x3 stride 1 -> ReLU -> flatten. For 84x84 inputs the feature maps are
    (32, 20, 20), (64, 9, 9), (64, 7, 7) and the output has 64 * 7 * 7 = 3136 features.

    Input: pixel values in [0, 255], ``(B, C, 84, 84)``, uint8 or float (a float input is
    what a saliency method differentiates); they are divided by 255 here, not by the caller.
    Output: ``(B, 3136)`` float32.
    """

    def __init__(self, in_channels: int = 4) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 32, kernel_size=8, stride=4)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(32, 64, kernel_size=4, stride=2)
        self.relu2 = nn.ReLU()
        self.conv3 = nn.Conv2d(64, 64, kernel_size=3, stride=1)
        self.relu3 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.out_features = 64 * 7 * 7

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (B, C, 84, 84)`` pixels in [0, 255] -> ``(B, 3136)``."""
        x = x.float() / 255.0
        x = self.relu1(self.conv1(x))
        x = self.relu2(self.conv2(x))
        x = self.relu3(self.conv3(x))
        return self.flatten(x)


#: The programming errors :class:`DuelingQNetwork` can plant (``bug``), with what each does.
DUELING_BUGS = {
    "": "none: the correct dueling network",
    "value_link": "mis-linked layer: the value output reads the advantage stream's hidden layer",
    "merge": "wrong merge: the advantage's mean over the whole batch and all actions, not per state",
}


class DuelingQNetwork(nn.Module):
    """Nature CNN torso with the dueling head of Wang et al. 2016 ("Dueling network
    architectures for deep reinforcement learning", Eq. 9).

    Two streams read the torso's 3136 features, each through a 512-unit hidden layer:
    the value stream ``V(s)``, ``(B, 1)``, and the advantage stream ``A(s, a)``,
    ``(B, n_actions)``. They are combined as

        Q(s, a) = V(s) + A(s, a) - mean_a' A(s, a')        (Wang et al. 2016, Eq. 9)

    Modules: ``torso`` (:class:`NatureCNN`), ``value_hidden``, ``value_relu``, ``value_out``,
    ``advantage_hidden``, ``advantage_relu``, ``advantage_out``.

    ``bug`` plants one of the two programming errors Rosynski et al. (Sec. 4) found in their
    value stream with guided backprop, for the chapter's bug-localisation experiment
    (:data:`DUELING_BUGS`): ``"value_link"``, a mis-linked layer (the value output reads the
    *advantage* stream's hidden layer, so ``value_hidden`` is cut off and never learns), or
    ``"merge"``, a wrong merge of the streams (the advantage's mean taken over the whole batch
    and every action, instead of per state). The default ``""`` is the correct network.
    """

    def __init__(self, n_actions: int, in_channels: int = 4, hidden: int = 512, bug: str = "") -> None:
        super().__init__()
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions!r}")
        if bug not in DUELING_BUGS:
            raise ValueError(f"bug must be one of {sorted(DUELING_BUGS)}, got {bug!r}")
        self.bug = bug
        self.n_actions = n_actions
        self.torso = NatureCNN(in_channels)
        features = self.torso.out_features
        self.value_hidden = nn.Linear(features, hidden)
        self.value_relu = nn.ReLU()
        self.value_out = nn.Linear(hidden, 1)
        self.advantage_hidden = nn.Linear(features, hidden)
        self.advantage_relu = nn.ReLU()
        self.advantage_out = nn.Linear(hidden, n_actions)

    def forward(
        self, x: torch.Tensor, return_streams: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q-values of the observation batch.

        Args:
            x: ``(B, C, 84, 84)`` pixels in [0, 255], uint8 or float.
            return_streams: also return the two streams.

        Returns:
            ``q: (B, n_actions)``; with ``return_streams``, ``(q, value: (B, 1),
            advantage: (B, n_actions))``.
        """
        features = self.torso(x)
        adv_hidden = self.advantage_relu(self.advantage_hidden(features))
        if self.bug == "value_link":  # planted: the value output linked to the advantage stream's layer
            value = self.value_out(adv_hidden)
        else:
            value = self.value_out(self.value_relu(self.value_hidden(features)))
        advantage = self.advantage_out(adv_hidden)
        if self.bug == "merge":  # planted: the mean over the whole batch and all actions
            q = value + advantage - advantage.mean()
        else:
            q = value + advantage - advantage.mean(dim=1, keepdim=True)
        if return_streams:
            return q, value, advantage
        return q


class QNetwork(nn.Module):
    """Nature CNN torso with the plain Q head of Mnih et al. 2015 (Methods: "Model
    architecture"): one 512-unit hidden layer, then one output per action. The network of
    plain DQN, and of Stable-Baselines3's DQN ``CnnPolicy``; the benchmark's same-algorithm
    comparison uses it (``DQNConfig(dueling=False)``).

    Modules: ``torso`` (:class:`NatureCNN`), ``hidden``, ``hidden_relu``, ``q_out``.
    """

    def __init__(self, n_actions: int, in_channels: int = 4, hidden: int = 512) -> None:
        super().__init__()
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions!r}")
        self.n_actions = n_actions
        self.torso = NatureCNN(in_channels)
        self.hidden = nn.Linear(self.torso.out_features, hidden)
        self.hidden_relu = nn.ReLU()
        self.q_out = nn.Linear(hidden, n_actions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x: (B, C, 84, 84)`` pixels in [0, 255] -> Q-values ``(B, n_actions)``."""
        return self.q_out(self.hidden_relu(self.hidden(self.torso(x))))
