"""Gradient-based saliency maps: Gradient, Guided Backpropagation and the Grad-CAM family.

Paper: Rosynski et al., *Are gradient-based saliency maps useful in deep RL?*, Sec. 2 and 3.
They compare six methods on Atari agents; each is one class here, with Captum's call shape
``Method(model, ...).attribute(obs, target=...)``:

- :class:`Gradient` -- the signed gradient ``d y / d obs`` of the target ``y``.
- :class:`GuidedBackprop` -- Springenberg et al. 2015: at every ``nn.ReLU`` the backward pass
  keeps ``grad * 1[input > 0] * 1[grad > 0]`` ("set all the negative gradients to zero").
- :class:`GradCAM` -- Selvaraju et al. 2017: at a convolution layer with feature maps
  ``A_k``, ``alpha_k = mean_{u,v} d y / d A_k(u, v)`` and
  ``L = ReLU(sum_k alpha_k A_k)``, upsampled bilinearly to the input's ``H x W``. The feature
  maps ``A_k`` are the layer's activations *after* its ReLU, as in Selvaraju et al. and the
  reference libraries (Captum's ``LayerGradCam`` on the ReLU, pytorch-grad-cam): pass the
  ReLU module as ``layer`` (:func:`cam_module` finds it by name, ``"conv1"``). Passing the
  convolution itself gives the pre-ReLU variant (``"conv1:pre"``), which our first book used
  without saying so; the two agree only loosely (the saliency chapter shows them side by side).
- :class:`GuidedGradCAM` -- ``GradCAM * GuidedBackprop`` (Hadamard product).
- :class:`G1GradCAM` -- the paper's new method: Grad-CAM "with the guided model", i.e. the
  guided-backprop ReLU rule applied at every ReLU while the gradient ``d y / d A`` is taken.
- :class:`G2GradCAM` -- ``G1GradCAM * GuidedBackprop``.

Shapes. ``obs`` is ``(B, C, H, W)``. :class:`Gradient`, :class:`GuidedBackprop`,
:class:`GuidedGradCAM` and :class:`G2GradCAM` return ``(B, C, H, W)``; the coarse maps of
:class:`GradCAM` and :class:`G1GradCAM` are one map per observation, ``(B, 1, H, W)`` (they
broadcast against ``obs``). Integer observations (uint8 pixels) are converted to float32 before
differentiating; the result is float32 then, otherwise it has ``obs``'s dtype.

Targets. ``target`` says which scalar ``y`` per observation is explained:

- an ``int`` action index, or a LongTensor ``(B,)`` of indices, selects a column of the
  model's output ``(B, n)``. When ``forward`` returns a tuple or NamedTuple, the index selects
  from its *first* element (the Q-values of :class:`~rlinside.nets.atari.DuelingQNetwork`, the
  policy logits of :class:`~rlinside.nets.recurrent.ActorCritic`).
- a callable ``target(output) -> (B,)`` receives the model's output exactly as ``forward``
  returns it (the whole tuple, if a tuple), so any head can be addressed. ``(B, 1)`` results
  are accepted and flattened.
- helpers for the common choices: :func:`q_value`, :func:`value_stream`,
  :func:`advantage_stream` and :func:`layer_sum`.

Extra arguments of ``forward`` go in ``forward_kwargs`` (Captum's ``additional_forward_args``),
e.g. ``{"return_streams": True}`` for the streams of the dueling network, or ``{"state": (h, c)}``
for the recurrent actor-critic.

The model is never modified: module hooks are removed in ``finally``, gradients are taken with
``torch.autograd.grad`` with respect to the input (and the Grad-CAM layer) only, so no
parameter's ``.grad`` is touched, and train/eval mode is left as it is. The samples of a batch
must be independent (e.g. no BatchNorm in training mode), since the targets of the batch are
summed before differentiating.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Gradient",
    "GuidedBackprop",
    "GradCAM",
    "GuidedGradCAM",
    "G1GradCAM",
    "G2GradCAM",
    "LayerSum",
    "q_value",
    "value_stream",
    "advantage_stream",
    "critic_value",
    "explain_all",
    "layer_sum",
    "normalize",
    "Unrolled",
    "METHOD_NAMES",
    "COARSE",
    "register_method",
    "make_method",
    "newest_frame",
    "cam_module",
    "CAM_LAYERS",
]

Target = int | torch.Tensor | Callable[[Any], torch.Tensor]


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def _first(output: Any) -> torch.Tensor:
    """The first tensor of a tuple output, or the output itself."""
    return output[0] if isinstance(output, tuple) else output


def _stream(output: Any, index: int, name: str) -> torch.Tensor:
    if not isinstance(output, tuple) or len(output) <= index:
        raise ValueError(
            f"target {name}() needs a tuple model output with the stream at position {index}, "
            f"got {type(output).__name__}; for DuelingQNetwork pass "
            "forward_kwargs={'return_streams': True}"
        )
    return output[index]


def q_value(action: int | torch.Tensor) -> Callable[[Any], torch.Tensor]:
    """Target: ``Q(s, a)`` (or the policy logit) of ``action``, an int or LongTensor ``(B,)``.

    Same as passing ``target=action``: the column of the output (of its first element if the
    output is a tuple).
    """

    def select(output: Any) -> torch.Tensor:
        return _select_index(_first(output), action)

    return select


def value_stream() -> Callable[[Any], torch.Tensor]:
    """Target: the state value ``V(s)``, ``(B,)``: element 1 of a tuple output.

    :class:`~rlinside.nets.atari.DuelingQNetwork` returns ``(q, value (B, 1), advantage)``
    with ``forward_kwargs={"return_streams": True}``; :class:`~rlinside.nets.recurrent.ActorCritic`
    returns ``(logits, value (B,), state)`` always. Both put the value at position 1.
    """

    def select(output: Any) -> torch.Tensor:
        return _stream(output, 1, "value_stream")

    return select


def advantage_stream(action: int | torch.Tensor | None = None) -> Callable[[Any], torch.Tensor]:
    """Target: the advantage stream of :class:`~rlinside.nets.atari.DuelingQNetwork` (Wang et
    al. 2016, Eq. 9), element 2 of its output with ``forward_kwargs={"return_streams": True}``.

    Args:
        action: ``A(s, a)`` of this action (int or LongTensor ``(B,)``); None: the sum of the
            whole advantage layer, ``sum_a A(s, a)`` (the :func:`layer_sum` convention).
    """

    def select(output: Any) -> torch.Tensor:
        advantage = _stream(output, 2, "advantage_stream")
        if action is None:
            return advantage.flatten(1).sum(1)
        return _select_index(advantage, action)

    return select


class LayerSum:
    """Target: the sum of a whole layer's output (the convention of the authors' code).

    With ``layer=None`` it is the sum of the model's output (of its first element if the output
    is a tuple) over all but the batch dimension, ``(B,)``. With a module of the model, the
    saliency method captures that module's output during the forward pass (a forward hook,
    removed afterwards) and sums it, so the gradient of any hidden layer can be shown (the
    paper's layer-by-layer debugging, Sec. 4.1). Build it with :func:`layer_sum`.
    """

    def __init__(self, layer: nn.Module | None = None) -> None:
        if layer is not None and not isinstance(layer, nn.Module):
            raise ValueError(f"layer must be an nn.Module or None, got {type(layer).__name__}")
        self.layer = layer

    def __call__(self, output: Any) -> torch.Tensor:
        """Sum over all but the batch dimension: ``(B, ...) -> (B,)``."""
        return _first(output).flatten(1).sum(1)


def layer_sum(layer: nn.Module | None = None) -> LayerSum:
    """Target: the sum of a whole layer's output (the convention of the authors' code).

    ``layer=None`` sums the model's output; a submodule (e.g. ``model.value_hidden``) sums that
    module's output. See :class:`LayerSum`.
    """
    return LayerSum(layer)


def _select_index(output: torch.Tensor, index: int | torch.Tensor) -> torch.Tensor:
    """``output: (B, n)``, ``index`` int or LongTensor ``(B,)`` in ``[0, n)`` -> ``(B,)``."""
    if output.ndim != 2:
        raise ValueError(
            f"target as an index needs a model output of shape (B, n), got {tuple(output.shape)}; "
            "use a callable target for other outputs"
        )
    batch, n = output.shape
    if isinstance(index, bool) or not isinstance(index, int | torch.Tensor):
        raise ValueError(
            f"target must be an int, a LongTensor (B,) or a callable, got {type(index).__name__}"
        )
    if isinstance(index, int):
        if not 0 <= index < n:
            raise ValueError(f"target must be in [0, {n}) (the model has {n} outputs), got {index}")
        return output[:, index]
    if index.dtype != torch.long or index.shape != (batch,):
        raise ValueError(
            f"target as a tensor must be a LongTensor of shape ({batch},), got dtype "
            f"{index.dtype} and shape {tuple(index.shape)}"
        )
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= n):
        raise ValueError(
            f"target must be in [0, {n}) (the model has {n} outputs), got values in "
            f"[{int(index.min())}, {int(index.max())}]"
        )
    return output.gather(1, index.to(output.device).unsqueeze(1)).squeeze(1)


# --------------------------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------------------------


def _check_model_layer(model: nn.Module, layer: nn.Module) -> None:
    if not isinstance(layer, nn.Module) or not any(m is layer for m in model.modules()):
        raise ValueError(
            "layer must be a submodule of model (e.g. model.torso.conv1), "
            f"got {type(layer).__name__}"
        )


def _prepare_obs(obs: torch.Tensor) -> torch.Tensor:
    """A float leaf copy of ``obs: (B, C, H, W)`` that requires grad."""
    if not isinstance(obs, torch.Tensor):
        raise ValueError(f"obs must be a torch.Tensor of shape (B, C, H, W), got {type(obs).__name__}")
    if obs.ndim != 4:
        raise ValueError(
            f"obs must have shape (B, C, H, W) (4 dimensions), got shape {tuple(obs.shape)}; "
            "add the batch dimension with obs.unsqueeze(0)"
        )
    x = obs.detach()
    if not x.is_floating_point():
        x = x.float()
    return x.clone().requires_grad_(True)


class _GuidedReLU(torch.autograd.Function):
    """``relu(x)`` whose backward passes ``grad * 1[x > 0] * 1[grad > 0]`` (guided backprop)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0).to(grad.dtype)


@contextmanager
def _guided_relus(model: nn.Module) -> Iterator[None]:
    """While active, every ``nn.ReLU`` of ``model`` passes back ``grad * 1[in > 0] * 1[grad > 0]``.

    A forward hook replaces each ReLU's output by :class:`_GuidedReLU` of its input (same
    values), so the guided rule applies as the gradient passes *through* the ReLU, as with
    Captum's backward hooks: the gradient *at* a ReLU's output (what Grad-CAM reads at a
    post-ReLU layer) is what arrives from above, not yet clamped. Hooks removed in ``finally``.
    """

    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> Any:
        x = inputs[0] if inputs else None
        if isinstance(x, torch.Tensor) and isinstance(output, torch.Tensor) and x.requires_grad:
            return _GuidedReLU.apply(x)
        return None

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def _capture(layer: nn.Module | None, store: list[torch.Tensor]) -> Iterator[None]:
    """Append ``layer``'s output of each call to ``store``; no-op for ``layer=None``."""
    if layer is None:
        yield
        return

    def hook(module: nn.Module, inputs: Any, output: Any) -> None:
        store.append(output)

    handle = layer.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _single(store: list[torch.Tensor], what: str) -> torch.Tensor:
    if len(store) != 1:
        raise ValueError(
            f"{what} must be called exactly once per forward pass, it was called {len(store)} times"
        )
    out = store[0]
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"{what} must output a tensor, got {type(out).__name__}")
    return out


def _forward_scores(
    model: nn.Module,
    x: torch.Tensor,
    target: Target,
    forward_kwargs: Mapping[str, Any] | None,
    guided: bool,
    layer: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run the model on ``x`` and return ``(scores: (B,), layer output or None)``."""
    kwargs = dict(forward_kwargs or {})
    target_layer = target.layer if isinstance(target, LayerSum) else None
    if target_layer is not None:
        _check_model_layer(model, target_layer)
    layer_out: list[torch.Tensor] = []
    target_out: list[torch.Tensor] = []
    with torch.enable_grad():
        guide = _guided_relus(model) if guided else nullcontext()
        with guide, _capture(layer, layer_out), _capture(target_layer, target_out):
            output = model(x, **kwargs)
        if target_layer is not None:
            scores = target(_single(target_out, "the layer of layer_sum()"))
        elif isinstance(target, int | torch.Tensor):
            scores = _select_index(_first(output), target)
        elif callable(target):
            scores = target(output)
        else:
            raise ValueError(
                f"target must be an int, a LongTensor (B,) or a callable, got {type(target).__name__}"
            )
    if not isinstance(scores, torch.Tensor):
        raise ValueError(f"target callable must return a tensor (B,), got {type(scores).__name__}")
    batch = x.shape[0]
    if scores.shape == (batch, 1):
        scores = scores.squeeze(1)
    if scores.shape != (batch,):
        raise ValueError(
            f"target must give one scalar per sample, shape ({batch},), got {tuple(scores.shape)}"
        )
    captured = _single(layer_out, "layer") if layer is not None else None
    return scores, captured


def _input_gradient(
    model: nn.Module,
    obs: torch.Tensor,
    target: Target,
    forward_kwargs: Mapping[str, Any] | None,
    guided: bool,
) -> torch.Tensor:
    """``d target / d obs``, ``(B, C, H, W)``, plain or guided."""
    x = _prepare_obs(obs)
    scores, _ = _forward_scores(model, x, target, forward_kwargs, guided)
    (grad,) = torch.autograd.grad(scores.sum(), x, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(x)
    return grad.detach()


def _grad_cam(
    model: nn.Module,
    layer: nn.Module,
    obs: torch.Tensor,
    target: Target,
    forward_kwargs: Mapping[str, Any] | None,
    guided: bool,
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017, Eqs. 1-2) at ``layer``, ``(B, 1, H, W)``."""
    x = _prepare_obs(obs)
    scores, acts = _forward_scores(model, x, target, forward_kwargs, guided, layer=layer)
    if acts.ndim != 4:
        raise ValueError(
            "layer must output feature maps (B, K, h, w) (a convolution), "
            f"got shape {tuple(acts.shape)}"
        )
    (grads,) = torch.autograd.grad(scores.sum(), acts, allow_unused=True)
    if grads is None:
        grads = torch.zeros_like(acts)
    with torch.no_grad():
        weights = grads.mean(dim=(2, 3), keepdim=True)  # alpha_k: (B, K, 1, 1)
        cam = F.relu((weights * acts).sum(dim=1, keepdim=True))  # (B, 1, h, w)
        cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return cam.detach()


# --------------------------------------------------------------------------------------------
# Methods
# --------------------------------------------------------------------------------------------


class _Method:
    def __init__(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise ValueError(f"model must be an nn.Module, got {type(model).__name__}")
        self.model = model


class _LayerMethod(_Method):
    """A method that reads one convolution ``layer`` of ``model`` (the Grad-CAM family)."""

    def __init__(self, model: nn.Module, layer: nn.Module) -> None:
        super().__init__(model)
        _check_model_layer(model, layer)
        self.layer = layer


class Gradient(_Method):
    """The signed gradient of the target with respect to the input (Simonyan et al. 2014)."""

    def attribute(
        self,
        obs: torch.Tensor,
        target: Target,
        forward_kwargs: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """``obs: (B, C, H, W)`` -> ``d target / d obs: (B, C, H, W)``."""
        return _input_gradient(self.model, obs, target, forward_kwargs, guided=False)


class GuidedBackprop(_Method):
    """Guided backpropagation (Springenberg et al. 2015): at every ``nn.ReLU`` module the
    backward pass keeps ``grad * 1[input > 0] * 1[grad > 0]``.

    Every ReLU must be an ``nn.ReLU`` module (functional ``F.relu`` is not seen); the nets of
    :mod:`rlinside.nets` are built that way.
    """

    def attribute(
        self,
        obs: torch.Tensor,
        target: Target,
        forward_kwargs: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """``obs: (B, C, H, W)`` -> guided gradient ``(B, C, H, W)``."""
        return _input_gradient(self.model, obs, target, forward_kwargs, guided=True)


class GradCAM(_LayerMethod):
    """Grad-CAM (Selvaraju et al. 2017) at a convolution ``layer`` of ``model``.

    ``alpha_k = mean_{u,v} d y / d A_k(u, v)``, ``L = ReLU(sum_k alpha_k A_k)``, upsampled with
    ``F.interpolate(mode="bilinear", align_corners=False)`` to the input's ``H x W``. The paper
    uses the first convolution: ``cam_module(model, "conv1")``, ``model.torso.relu1`` for the
    nets of :mod:`rlinside.nets` (its post-ReLU activations, the standard Grad-CAM).
    Returns one map per observation, ``(B, 1, H, W)``.
    """

    _guided = False

    def attribute(
        self,
        obs: torch.Tensor,
        target: Target,
        forward_kwargs: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """``obs: (B, C, H, W)`` -> Grad-CAM map ``(B, 1, H, W)``, non-negative."""
        return _grad_cam(self.model, self.layer, obs, target, forward_kwargs, guided=self._guided)


class G1GradCAM(GradCAM):
    """G1Grad-CAM (Rosynski et al., Sec. 3): Grad-CAM "with the guided model", i.e. the
    guided-backprop rule applied at every ``nn.ReLU`` while ``d y / d A`` is computed (negative
    gradients zeroed). Returns ``(B, 1, H, W)``.
    """

    _guided = True


class GuidedGradCAM(_LayerMethod):
    """Guided Grad-CAM (Selvaraju et al. 2017): ``GradCAM ⊙ GuidedBackprop``, ``(B, C, H, W)``
    (the ``(B, 1, H, W)`` map broadcast over the channels)."""

    _cam = GradCAM

    def attribute(
        self,
        obs: torch.Tensor,
        target: Target,
        forward_kwargs: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """``obs: (B, C, H, W)`` -> ``(B, C, H, W)``."""
        cam = self._cam(self.model, self.layer).attribute(obs, target, forward_kwargs)
        guided = GuidedBackprop(self.model).attribute(obs, target, forward_kwargs)
        return cam * guided


class G2GradCAM(GuidedGradCAM):
    """G2Grad-CAM (Rosynski et al., Sec. 3): ``G1GradCAM ⊙ GuidedBackprop``, ``(B, C, H, W)``."""

    _cam = G1GradCAM


# --------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------


def normalize(maps: torch.Tensor, mode: str = "frame") -> torch.Tensor:
    """Scale saliency maps to [-1, 1] by their maximum absolute value (Rosynski et al., Sec. 3).

    Args:
        maps: ``(T, ...)``, dimension 0 indexing the frames (states) of a video or a batch,
            e.g. ``(T, C, H, W)``.
        mode: ``"frame"`` divides each ``maps[t]`` by its own ``max |maps[t]|`` (every frame
            reaches +-1; the video "flashes"); ``"video"`` divides all frames by the one
            ``max |maps|`` of the whole sequence (weak frames stay weak; smoother videos).
            An all-zero frame (or video) stays zero.

    Returns:
        ``(T, ...)``, same shape and dtype, values in [-1, 1].
    """
    if mode not in ("frame", "video"):
        raise ValueError(f"mode must be 'frame' or 'video', got {mode!r}")
    if not isinstance(maps, torch.Tensor) or maps.ndim < 1:
        raise ValueError("maps must be a tensor (T, ...) with at least 1 dimension")
    if not maps.is_floating_point():
        raise ValueError(f"maps must be a floating-point tensor, got dtype {maps.dtype}")
    if mode == "frame":
        scale = maps.abs().flatten(1).amax(dim=1) if maps.ndim > 1 else maps.abs()
        scale = scale.reshape((-1,) + (1,) * (maps.ndim - 1))
    else:
        scale = maps.abs().amax() if maps.numel() else maps.new_ones(())
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return maps / scale


# --------------------------------------------------------------------------------------------
# Recurrent agents
# --------------------------------------------------------------------------------------------


class Unrolled(nn.Module):
    """A recurrent agent seen as a feed-forward model of its last ``K`` inputs.

    ``net(x, state)`` must return a tuple whose last element is the new recurrent state
    (:class:`~rlinside.nets.recurrent.ActorCritic` with an LSTM returns ``(logits, value,
    state)``, :class:`~rlinside.nets.attention.RecurrentAttentionQNetwork` ``(q, state)``).
    ``Unrolled(net, state, steps=K)`` takes ``x: (B, K * c, H, W)``, the ``K`` inputs of ``c``
    channels each, oldest first (as a frame stack), runs ``net`` for ``K`` steps starting from
    the carried ``state`` (the state the agent had before the oldest of the ``K`` inputs;
    None: zeros) and returns the output of the last step. Any saliency method then explains
    the decision at the newest step with respect to each of the ``K`` inputs (channel ``K-1``
    is step ``t``, channel ``0`` is step ``t-K+1``).

    The carried state enters as a constant: the gradient stops there (truncated
    backpropagation through time over the window). The Grad-CAM family needs ``K = 1``, since
    its layer must run once per forward pass.
    """

    def __init__(self, net: nn.Module, state: tuple[torch.Tensor, torch.Tensor] | None = None,
                 steps: int = 1, channels_per_step: int = 1) -> None:
        super().__init__()
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}")
        if isinstance(channels_per_step, bool) or not isinstance(channels_per_step, int) \
                or channels_per_step < 1:
            raise ValueError(f"channels_per_step must be an int >= 1, got {channels_per_step!r}")
        if state is not None and (not isinstance(state, tuple) or len(state) != 2):
            raise ValueError("state must be None or the pair (h, c) of the recurrent net")
        self.net, self.steps, self.channels = net, steps, channels_per_step
        self.state = None if state is None else tuple(s.detach() for s in state)

    def forward(self, x: torch.Tensor, **net_kwargs: Any):
        """``net_kwargs`` (e.g. ``return_streams=True``) are passed to every step of ``net``,
        whose output must keep the recurrent state as its last element."""
        expected = self.steps * self.channels
        if x.ndim != 4 or x.shape[1] != expected:
            raise ValueError(
                f"Unrolled(steps={self.steps}, channels_per_step={self.channels}) takes inputs "
                f"(B, {expected}, H, W), got shape {tuple(x.shape)}"
            )
        state = self.state
        if state is not None and state[0].shape[0] != x.shape[0]:
            state = tuple(s.expand(x.shape[0], *s.shape[1:]) for s in state)
        out = None
        for k in range(self.steps):
            out = self.net(x[:, k * self.channels:(k + 1) * self.channels], state, **net_kwargs)
            state = out[-1]
        return out


# --------------------------------------------------------------------------------------------
# The six methods by name
# --------------------------------------------------------------------------------------------

# --------------------------------------------------------------------------------------------
# The registry of methods
# --------------------------------------------------------------------------------------------

#: name -> (class, coarse): every method the book knows, in the paper's order. Add one with
#: :func:`register_method`; :data:`METHOD_NAMES` and :data:`COARSE` follow it.
_METHODS: dict[str, tuple[type, bool]] = {}


def register_method(name: str, cls: type, *, coarse: bool = False) -> None:
    """Add a saliency method: ``cls(model)`` (or ``cls(model, layer)`` for a subclass of the
    layer methods) with ``attribute(obs, target, forward_kwargs=None)``; ``coarse``: it
    returns one map per observation ``(B, 1, H, W)`` rather than one per channel."""
    if name in _METHODS:
        raise ValueError(f"saliency method {name!r} is already registered")
    if not callable(getattr(cls, "attribute", None)):
        raise ValueError(f"saliency method {name!r}: {cls.__name__} has no attribute() method")
    _METHODS[name] = (cls, coarse)


class _Names(Sequence):
    """A live, read-only view of the registered method names (all, or the coarse ones)."""

    def __init__(self, coarse_only: bool) -> None:
        self._coarse_only = coarse_only

    def _names(self) -> tuple[str, ...]:
        return tuple(n for n, (_, c) in _METHODS.items() if c or not self._coarse_only)

    def __getitem__(self, i):
        return self._names()[i]

    def __len__(self) -> int:
        return len(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


for _name, _cls, _coarse in (("Gradient", Gradient, False), ("Guided Backprop", GuidedBackprop, False),
                             ("Grad-CAM", GradCAM, True), ("Guided Grad-CAM", GuidedGradCAM, False),
                             ("G1Grad-CAM", G1GradCAM, True), ("G2Grad-CAM", G2GradCAM, False)):
    register_method(_name, _cls, coarse=_coarse)

#: The names of every registered method, in registration order (the paper's six first).
METHOD_NAMES: Sequence[str] = _Names(coarse_only=False)
#: The methods that give one map per observation, ``(B, 1, H, W)``.
COARSE: Sequence[str] = _Names(coarse_only=True)


def make_method(name: str, model: nn.Module, layer: nn.Module | None = None):
    """The method called ``name`` (one of :data:`METHOD_NAMES`) on ``model``; the Grad-CAM
    family needs the ``layer`` it reads (e.g. ``cam_module(model, "conv1")``, the first
    convolution's ReLU)."""
    if name not in _METHODS:
        raise ValueError(f"method must be one of {list(METHOD_NAMES)}, got {name!r}")
    cls = _METHODS[name][0]
    if issubclass(cls, _LayerMethod):
        if layer is None:
            raise ValueError(f"{name} needs a layer, e.g. cam_module(model, 'conv1') (model.torso.relu1)")
        return cls(model, layer)
    return cls(model)


#: The Grad-CAM layers by name: ``convK`` the activations after the K-th convolution's ReLU
#: (the standard Grad-CAM), ``convK:pre`` the convolution's output before it (a variant).
CAM_LAYERS = ("conv1", "conv2", "conv3", "conv1:pre", "conv2:pre", "conv3:pre")


def cam_module(net: nn.Module, name: str = "conv1") -> nn.Module:
    """The module whose output the Grad-CAM family reads, by name (:data:`CAM_LAYERS`).

    ``"convK"`` is ``net.torso.reluK`` (the standard, post-ReLU Grad-CAM); ``"convK:pre"`` is
    ``net.torso.convK`` (its output before the ReLU). ``net`` is a network of
    :mod:`rlinside.nets` (a Nature-CNN ``torso`` with ``conv1..3`` and ``relu1..3``)."""
    if name not in CAM_LAYERS:
        raise ValueError(f"cam_layer must be one of {list(CAM_LAYERS)}, got {name!r}")
    torso = getattr(net, "torso", None)
    conv, _, side = name.partition(":")
    attr = conv if side == "pre" else conv.replace("conv", "relu")
    module = getattr(torso, attr, None) if torso is not None else None
    if not isinstance(module, nn.Module):
        raise ValueError(f"the network has no torso.{attr} (a Nature-CNN torso is needed for cam_layer {name!r})")
    return module


def newest_frame(maps: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, H, W)``: the map of the newest stacked frame (channel
    ``C - 1``; the single map of Grad-CAM and G1Grad-CAM)."""
    if maps.ndim != 4:
        raise ValueError(f"maps must have shape (B, C, H, W), got {tuple(maps.shape)}")
    return maps[:, -1]


def critic_value() -> Callable[[Any], torch.Tensor]:
    """Target: the critic's value ``V(s)`` of an actor-critic net (second element of its
    output ``(logits, value, state)``)."""

    def select(output: Any) -> torch.Tensor:
        if not isinstance(output, tuple) or len(output) < 2:
            raise ValueError("critic_value() needs an actor-critic output (logits, value, ...)")
        return output[1]

    return select


def explain_all(
    model: nn.Module,
    obs: torch.Tensor,
    target: Any,
    layer: nn.Module,
    *,
    methods: tuple[str, ...] = METHOD_NAMES,
    forward_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, torch.Tensor]:
    """``method name -> raw map`` for the batch ``obs`` (shapes as the methods return them)."""
    return {m: make_method(m, model, layer).attribute(obs, target=target, forward_kwargs=forward_kwargs)
            for m in methods}
