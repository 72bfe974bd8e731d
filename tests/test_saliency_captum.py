"""Our six saliency methods against Captum, the reference library, on the shipped agents.

Captum has four of the six (``Saliency``, ``GuidedBackprop``, ``LayerGradCam``,
``GuidedGradCam``). The paper's G1Grad-CAM is Grad-CAM through the guided network: its
reference is Captum's ``LayerGradCam`` on a copy of the network whose ReLU modules are replaced
by a guided ReLU written as an ``autograd.Function`` (no hooks, so independent of ours); G2 is
that times Captum's guided backprop. Grad-CAM reads the activations after the first
convolution's ReLU (the standard choice, ``cam_module(net, "conv1")``) and is upsampled
bilinearly; the pre-ReLU variant is checked against ``LayerGradCam`` on the convolution.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:captum")

captum_attr = pytest.importorskip("captum.attr", reason="captum is a test dependency (pip install -e '.[test]')")

from rlinside.agents import zoo  # noqa: E402
from rlinside.explain.saliency import Unrolled, cam_module, make_method  # noqa: E402

AGENTS = [("dddqn", "Breakout"), ("a2c", "Breakout"), ("a2c-lstm", "Seaquest"), ("drqn", "Seaquest")]


class FirstOutput(nn.Module):
    """The network's first output (Q-values or policy logits) as a plain tensor, for Captum."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out[0] if isinstance(out, tuple) else out


class _GuidedReLUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * (x > 0).to(grad.dtype)


class GuidedReLU(nn.Module):
    def forward(self, x):
        return _GuidedReLUFunction.apply(x)


def _guided_copy(model: nn.Module) -> nn.Module:
    guided = copy.deepcopy(model)
    for parent in list(guided.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU):
                setattr(parent, name, GuidedReLU())
    return guided


def _module_path(model: nn.Module, module: nn.Module) -> str:
    return next(n for n, m in model.named_modules() if m is module)


@pytest.fixture(scope="module", params=AGENTS, ids=lambda a: f"{a[0]}-{a[1]}")
def agent(request):
    name, game = request.param
    net, _ = zoo.load_agent(name, game, "final")
    obs, _, actions = zoo.play_states(name, net, game, steps=6, seed=0)
    model = Unrolled(net) if registry_recurrent(name) else net
    wrapped = FirstOutput(model).eval()
    x = torch.from_numpy(obs[-3:]).float()
    target = torch.from_numpy(actions[-3:])
    return name, wrapped, x, target


def registry_recurrent(name: str) -> bool:
    from rlinside.agents import registry
    return registry.get(name).recurrent


def _close(ours: torch.Tensor, ref: torch.Tensor) -> None:
    scale = ref.abs().max()
    assert scale > 0 or ours.abs().max() == 0
    scale = scale if scale > 0 else torch.ones(())
    torch.testing.assert_close(ours / scale, ref / scale, rtol=1e-5, atol=1e-6)


def _ours(name: str, wrapped: FirstOutput, layer_name: str, x, target):
    layer = cam_module(wrapped.net.net if isinstance(wrapped.net, Unrolled) else wrapped.net, layer_name)
    return {m: make_method(m, wrapped, layer).attribute(x, target=target)
            for m in ("Gradient", "Guided Backprop", "Grad-CAM", "Guided Grad-CAM", "G1Grad-CAM", "G2Grad-CAM")}, layer


@pytest.mark.parametrize("layer_name", ["conv1", "conv1:pre"])
def test_methods_equal_captum(agent, layer_name):
    name, wrapped, x, target = agent
    ours, layer = _ours(name, wrapped, layer_name, x, target)
    size = tuple(x.shape[-2:])
    _close(ours["Gradient"], captum_attr.Saliency(wrapped).attribute(x, target=target, abs=False))
    gbp = captum_attr.GuidedBackprop(wrapped).attribute(x, target=target)
    _close(ours["Guided Backprop"], gbp)
    cam = captum_attr.LayerGradCam(wrapped, layer).attribute(x, target=target, relu_attributions=True)
    _close(ours["Grad-CAM"], captum_attr.LayerAttribution.interpolate(cam, size, interpolate_mode="bilinear"))
    _close(ours["Guided Grad-CAM"], captum_attr.GuidedGradCam(wrapped, layer).attribute(
        x, target=target, interpolate_mode="bilinear"))
    guided = _guided_copy(wrapped)
    guided_layer = dict(guided.named_modules())[_module_path(wrapped, layer)]
    g1 = captum_attr.LayerGradCam(guided, guided_layer).attribute(x, target=target, relu_attributions=True)
    g1 = captum_attr.LayerAttribution.interpolate(g1, size, interpolate_mode="bilinear")
    _close(ours["G1Grad-CAM"], g1)
    _close(ours["G2Grad-CAM"], g1 * gbp)


def test_post_relu_is_the_default_and_differs_from_pre(agent):
    """``"conv1"`` names the ReLU after the first convolution, ``"conv1:pre"`` the convolution."""
    name, wrapped, x, target = agent
    net = wrapped.net.net if isinstance(wrapped.net, Unrolled) else wrapped.net
    assert cam_module(net, "conv1") is net.torso.relu1
    assert cam_module(net, "conv1:pre") is net.torso.conv1
    with pytest.raises(ValueError, match="cam_layer must be one of"):
        cam_module(net, "relu1")
