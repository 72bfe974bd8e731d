"""A recurrent Q-network with spatial soft attention and a "split" dueling head.

Rosynski et al. ("Are gradient-based saliency maps useful in deep RL?", Sec. 3 and Table 1)
trained their best agent, a "Splitted Attention DDDRQN" (Double Dueling Deep Recurrent
Q-Network), after Sorokin et al. 2015 ("Deep Attention Recurrent Q-Network", DARQN,
arXiv:1512.01693, ref. [12] of the paper). Neither paper gives the split variant in enough
detail to rebuild it; this module documents what we took from each and what we chose.

What Sorokin et al. did (soft-attention DARQN, Sec. 3 of their paper). A convolutional
network turns one frame into ``L = 7 x 7`` location vectors ``v_t^l`` (their last convolution
has 256 maps). An attention network scores each location against the previous LSTM state,

    g(v_t^l, h_{t-1}) = softmax_l( w^T tanh(W_v v_t^l + W_h h_{t-1}) ),

the context ``z_t = sum_l g_l v_t^l`` (a convex combination of the location vectors) is the
input of an LSTM (256 units), and a fully connected output layer maps ``h_t`` to the
Q-values. As in DRQN (Hausknecht and Stone 2015), the LSTM, not a stack of frames, carries the
history. This is the additive attention of Bahdanau et al. 2015 in the image-captioning form of
Xu et al. 2015 ("Show, attend and tell"), which Sorokin et al. follow.

What "split attention" means here. Rosynski et al. add Double DQN and the dueling head of
Wang et al. 2016 (Eq. 9) but do not describe the network beyond its name (their Sec. 4.1 only
says that debugging found two errors "in the value stream"). We read "split attention" as
attention split between the two dueling streams: we keep DARQN's attention that feeds the
LSTM and add two *separate* attentions over the same feature map, both queried by the new
state ``h_t``, one for the value stream and one for the advantage stream. Each stream reads
``concat(h_t, its context)``, so value and advantage can look at different places of the
screen (e.g. the oxygen bar vs. the enemies), and the three attention maps can be shown next
to the saliency maps of each stream. This is our reconstruction, not the authors' code.

Our choices, and why:

* Torso: the Nature CNN of :class:`rlinside.nets.atari.NatureCNN` (its conv layers and ReLU
  modules, not its flatten), so Grad-CAM hooks ``torso.conv1..3`` as for the DDDQN and the
  ``L = 49`` location vectors have ``D = 64`` dimensions (Sorokin et al. had 256 maps; 64 keeps
  the network comparable to our DDDQN and affordable on CPU).
* Attention: ``score_l = w^T tanh(W_f f_l + b + W_h q)`` with ``W_f`` per attention (each
  attention learns its own keys), ``W_h`` without bias, ``w`` without bias (a constant shift
  cancels in the softmax); ``attention_size`` 256.
* Recurrence: :class:`rlinside.nets.recurrent.GatedLSTMCell` (``lstm_size`` 256, as DARQN),
  so the gates can be analysed per step; zero initial state. (Sec. 5 of Rosynski et al.
  mentions bidirectional LSTMs during development; a bidirectional layer cannot act online,
  one frame at a time, so we use the forward LSTM of DARQN.)
* Streams: ``concat(h_t, context) -> Linear(hidden) -> ReLU -> V (1) or A (n_actions)``,
  ``Q = V + A - mean(A)`` (Wang et al. 2016, Eq. 9); ``hidden`` 256 (DDDQN: 512 on 3136
  features; the recurrent streams read 256 + 64 features).
* Input: one frame per step (``in_channels=1``), pixels in [0, 255] scaled inside the network.
* Initialization (``init``). ``"pytorch"``: PyTorch's default layer initialization, used by our
  first run (none of its agents is shipped). Measured on Seaquest frames, the conv3 features it gives
  are tiny (mean about 0.02), so the attention scores differ by about 1% between locations and
  the attention starts uniform. Relative to their weights, the attention's gradients are 600
  to 18,000 times smaller than those of the convolutions and the streams (elements below
  Adam's epsilon of 1.5e-4). It was still uniform at 250k agent steps and had only begun to
  focus at 600k (the saliency chapter measures this). ``"orthogonal"``: orthogonal weights
  and zero biases (Saxe et al. 2014), gain sqrt(2) for layers followed by a ReLU and 1
  elsewhere, the ``layer_init`` of OpenAI Baselines and CleanRL; conv3 features are then about
  ten times larger at the start, and the value stream's attention focuses (largest weight
  about 15 times the uniform one in the shipped agent, trained with it).

Every nonlinearity that guided backpropagation treats (ReLU) is its own ``nn.ReLU`` module, used
once per forward pass (5 in all: ``torso.relu1..3``, ``value_relu``, ``advantage_relu``). The
attention's tanh/softmax and the LSTM's sigmoid/tanh are not ReLUs and are left as functions.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from rlinside.nets.atari import NatureCNN
from rlinside.nets.recurrent import GatedLSTMCell, LSTMGates

__all__ = ["AttentionDetails", "RecurrentAttentionQNetwork", "SpatialSoftAttention"]

State = tuple[torch.Tensor, torch.Tensor]


#: Initializations of :class:`RecurrentAttentionQNetwork` (see the module docstring).
INITS = ("pytorch", "orthogonal")


class SpatialSoftAttention(nn.Module):
    """Additive soft attention over ``L`` location vectors (Bahdanau et al. 2015; Xu et al.
    2015; DARQN, Sorokin et al. 2015):

        score_l = w^T tanh(W_f f_l + b_f + W_q q),   a = softmax_l(score),   context = sum_l a_l f_l

    Modules: ``feature_proj`` (``W_f``, ``b_f``), ``query_proj`` (``W_q``), ``score`` (``w``).
    """

    def __init__(self, feature_size: int, query_size: int, attention_size: int) -> None:
        super().__init__()
        self.feature_proj = nn.Linear(feature_size, attention_size)
        self.query_proj = nn.Linear(query_size, attention_size, bias=False)
        self.score = nn.Linear(attention_size, 1, bias=False)

    def keys(self, features: torch.Tensor) -> torch.Tensor:
        """``W_f f + b_f`` for ``features: (..., L, D)`` -> ``(..., L, attention_size)``; computed
        once for a whole sequence by :meth:`RecurrentAttentionQNetwork.forward_sequence`."""
        return self.feature_proj(features)

    def forward(
        self, features: torch.Tensor, query: torch.Tensor, keys: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``features: (B, L, D)``, ``query: (B, Q)`` [, ``keys: (B, L, attention_size)``] ->
        ``(context: (B, D), weights: (B, L))``, the weights summing to 1 over ``L``."""
        if keys is None:
            keys = self.keys(features)
        scores = self.score(torch.tanh(keys + self.query_proj(query)[:, None, :])).squeeze(2)
        weights = torch.softmax(scores, dim=1)  # (B, L)
        context = torch.bmm(weights[:, None, :], features).squeeze(1)  # (B, D)
        return context, weights


class AttentionDetails(NamedTuple):
    """Intermediate results of one step of :class:`RecurrentAttentionQNetwork`."""

    value: torch.Tensor  # (B, 1)
    advantage: torch.Tensor  # (B, n_actions)
    lstm_attention: torch.Tensor  # (B, 7, 7), queried by h_{t-1}, feeds the LSTM
    value_attention: torch.Tensor  # (B, 7, 7), queried by h_t, feeds the value stream
    advantage_attention: torch.Tensor  # (B, 7, 7), queried by h_t, feeds the advantage stream
    gates: LSTMGates  # each (B, lstm_size)


class RecurrentAttentionQNetwork(nn.Module):
    """Split-attention Double Dueling DRQN network (see the module docstring).

    One step, for a batch of ``B`` frames ``x_t`` and the state ``(h_{t-1}, c_{t-1})``::

        f_t = relu3(conv3(relu2(conv2(relu1(conv1(x_t / 255))))))   (B, 64, 7, 7) -> (B, 49, 64)
        z_t, a_t^lstm = lstm_attention(f_t, h_{t-1})                 (B, 64), (B, 49)
        h_t, c_t = lstm(z_t, (h_{t-1}, c_{t-1}))                      (B, lstm_size)
        u_t, a_t^V = value_attention(f_t, h_t)
        w_t, a_t^A = advantage_attention(f_t, h_t)
        V = value_out(value_relu(value_hidden([h_t, u_t])))          (B, 1)
        A = advantage_out(advantage_relu(advantage_hidden([h_t, w_t])))   (B, n_actions)
        Q = V + A - mean_a A                                          (Wang et al. 2016, Eq. 9)

    Modules: ``torso`` (:class:`NatureCNN`; its ``flatten`` is not used), ``lstm_attention``,
    ``lstm`` (:class:`GatedLSTMCell`), ``value_attention``, ``advantage_attention``,
    ``value_hidden``, ``value_relu``, ``value_out``, ``advantage_hidden``, ``advantage_relu``,
    ``advantage_out``.
    """

    def __init__(
        self,
        n_actions: int,
        in_channels: int = 1,
        lstm_size: int = 256,
        attention_size: int = 256,
        hidden: int = 256,
        init: str = "pytorch",
    ) -> None:
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        for name, value in (("n_actions", n_actions), ("in_channels", in_channels),
                            ("lstm_size", lstm_size), ("attention_size", attention_size),
                            ("hidden", hidden)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.n_actions = n_actions
        self.in_channels = in_channels
        self.lstm_size = lstm_size
        self.attention_size = attention_size
        self.hidden = hidden
        self.torso = NatureCNN(in_channels)
        self.feature_size = self.torso.conv3.out_channels  # D = 64
        self.feature_shape = (7, 7)  # for 84x84 inputs: L = 49 locations
        d = self.feature_size
        self.lstm_attention = SpatialSoftAttention(d, lstm_size, attention_size)
        self.lstm = GatedLSTMCell(d, lstm_size)
        self.value_attention = SpatialSoftAttention(d, lstm_size, attention_size)
        self.advantage_attention = SpatialSoftAttention(d, lstm_size, attention_size)
        self.value_hidden = nn.Linear(lstm_size + d, hidden)
        self.value_relu = nn.ReLU()
        self.value_out = nn.Linear(hidden, 1)
        self.advantage_hidden = nn.Linear(lstm_size + d, hidden)
        self.advantage_relu = nn.ReLU()
        self.advantage_out = nn.Linear(hidden, n_actions)
        self.init = init
        if init == "orthogonal":
            self._orthogonal_init()

    def _orthogonal_init(self) -> None:
        """Orthogonal weights, zero biases; gain sqrt(2) before a ReLU, 1 elsewhere (LSTM
        included: each gate's block of ``weight_ih`` and ``weight_hh`` gets its own
        orthogonal matrix)."""
        relu_gain = nn.init.calculate_gain("relu")
        t = self.torso
        for layer, gain in ((t.conv1, relu_gain), (t.conv2, relu_gain), (t.conv3, relu_gain),
                            (self.value_hidden, relu_gain), (self.advantage_hidden, relu_gain),
                            (self.value_out, 1.0), (self.advantage_out, 1.0)):
            nn.init.orthogonal_(layer.weight, gain)
            nn.init.zeros_(layer.bias)
        for attention in (self.lstm_attention, self.value_attention, self.advantage_attention):
            for layer in (attention.feature_proj, attention.query_proj, attention.score):
                nn.init.orthogonal_(layer.weight, 1.0)
            nn.init.zeros_(attention.feature_proj.bias)
        for name, param in self.lstm.named_parameters():
            if name.startswith("weight"):
                for block in param.data.chunk(4, dim=0):
                    nn.init.orthogonal_(block, 1.0)
            else:
                nn.init.zeros_(param)

    def initial_state(self, batch: int, device: torch.device | None = None) -> State:
        """Zero ``(h, c)``, each ``(batch, lstm_size)``."""
        return self.lstm.initial_state(batch, device)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Location vectors of the torso: ``x: (B, C, 84, 84)`` pixels in [0, 255] ->
        ``(B, 49, 64)``, location ``l = 7 * row + column``."""
        t = self.torso
        y = x.float() / 255.0
        y = t.relu3(t.conv3(t.relu2(t.conv2(t.relu1(t.conv1(y))))))  # (B, 64, 7, 7)
        return y.flatten(2).transpose(1, 2)

    def _keys(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (self.lstm_attention.keys(features), self.value_attention.keys(features),
                self.advantage_attention.keys(features))

    def _step(
        self, features: torch.Tensor, keys: tuple[torch.Tensor, ...], state: State, details: bool
    ) -> tuple[torch.Tensor, State, AttentionDetails | None]:
        h, c = state
        z, a_lstm = self.lstm_attention(features, h, keys[0])
        h, c, gates = self.lstm(z, (h, c), return_gates=True)
        u, a_value = self.value_attention(features, h, keys[1])
        w, a_advantage = self.advantage_attention(features, h, keys[2])
        value = self.value_out(self.value_relu(self.value_hidden(torch.cat([h, u], dim=1))))
        advantage = self.advantage_out(
            self.advantage_relu(self.advantage_hidden(torch.cat([h, w], dim=1)))
        )
        q = value + advantage - advantage.mean(dim=1, keepdim=True)
        if not details:
            return q, (h, c), None
        grid = (-1, *self.feature_shape)
        return q, (h, c), AttentionDetails(
            value, advantage, a_lstm.reshape(grid), a_value.reshape(grid),
            a_advantage.reshape(grid), gates,
        )

    def forward(
        self, x: torch.Tensor, state: State | None = None, return_details: bool = False,
        return_streams: bool = False,
    ) -> (tuple[torch.Tensor, State] | tuple[torch.Tensor, State, AttentionDetails]
          | tuple[torch.Tensor, torch.Tensor, torch.Tensor, State]):
        """One step for a batch.

        Args:
            x: ``(B, C, 84, 84)`` pixels in [0, 255], uint8 or float (a float input is what a
                saliency method differentiates).
            state: ``(h, c)``, each ``(B, lstm_size)``; None: zeros (start of a game).
            return_details: also return the :class:`AttentionDetails` (streams, the three
                attention maps as ``(B, 7, 7)``, the LSTM gates).
            return_streams: return ``(q, value (B, 1), advantage (B, n_actions), (h, c))``,
                the layout of :class:`~rlinside.nets.atari.DuelingQNetwork` with
                ``return_streams=True`` plus the state last (so that saliency targets of the
                two streams and :class:`~rlinside.explain.saliency.Unrolled` work unchanged).
                Not together with ``return_details``.

        Returns:
            ``(q: (B, n_actions), (h, c))``, plus the details when asked.
        """
        if return_details and return_streams:
            raise ValueError("return_details and return_streams cannot both be True")
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        features = self.features(x)
        q, state, details = self._step(features, self._keys(features), state,
                                       return_details or return_streams)
        if return_streams:
            return q, details.value, details.advantage, state
        if return_details:
            return q, state, details
        return q, state

    def forward_sequence(
        self, x: torch.Tensor, state: State | None = None, resets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, State]:
        """``T`` steps for a batch of sequences; the same numbers as ``T`` calls of
        :meth:`forward` (up to floating-point rounding: the torso and the attention keys run
        once on all ``T * B`` frames).

        Args:
            x: ``(T, B, C, 84, 84)`` pixels in [0, 255].
            state: ``(h, c)`` before step 0, each ``(B, lstm_size)``; None: zeros.
            resets: ``(T, B)`` bool; where ``resets[t, b]`` the state of sequence ``b`` is
                zeroed before step ``t`` (the frame starts a new game). None: no resets.

        Returns:
            ``(q: (T, B, n_actions), (h, c))``, the state after step ``T - 1``.
        """
        steps, batch = x.shape[:2]
        if state is None:
            state = self.initial_state(batch, x.device)
        if resets is not None and resets.shape != (steps, batch):
            raise ValueError(f"resets must have shape {(steps, batch)}, got {tuple(resets.shape)}")
        features = self.features(x.flatten(0, 1))  # (T * B, 49, 64)
        # unbind, not features[t]: the backward of indexing would allocate a zero tensor of
        # the whole sequence per step (70% of an update's time on CPU).
        per_attention = [k.unflatten(0, (steps, batch)).unbind(0) for k in self._keys(features)]
        keys = list(zip(*per_attention, strict=True))  # keys[t]: one (B, 49, att) per attention
        features = features.unflatten(0, (steps, batch)).unbind(0)
        qs = []
        for t in range(steps):
            if resets is not None:
                keep = ~resets[t].to(torch.bool)[:, None]  # (B, 1)
                state = (torch.where(keep, state[0], 0.0), torch.where(keep, state[1], 0.0))
            q, state, _ = self._step(features[t], keys[t], state, False)
            qs.append(q)
        return torch.stack(qs), state
