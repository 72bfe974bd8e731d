"""Saliency methods against independent computations: autograd by hand, a guided copy of the
network built from a custom autograd.Function (no hooks), and Grad-CAM split at the layer."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rlinside.explain.saliency import (
    G1GradCAM,
    G2GradCAM,
    GradCAM,
    Gradient,
    GuidedBackprop,
    GuidedGradCAM,
    advantage_stream,
    layer_sum,
    normalize,
    q_value,
    value_stream,
)
from rlinside.nets.atari import DuelingQNetwork


class TinyNet(nn.Module):
    """conv -> ReLU -> conv -> ReLU -> flatten -> linear -> ReLU -> linear, ``(B, 3, 10, 10) -> (B, 3)``."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 5, 3, stride=2)
        self.relu2 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(5 * 3 * 3, 6)
        self.relu3 = nn.ReLU()
        self.out = nn.Linear(6, 3)

    def features(self, x: torch.Tensor, upto: str) -> torch.Tensor:
        x = self.conv1(x)
        if upto == "conv1":
            return x
        x = self.conv2(self.relu1(x))
        assert upto == "conv2"
        return x

    def head(self, a: torch.Tensor, after: str) -> torch.Tensor:
        if after == "conv1":
            a = self.conv2(self.relu1(a))
        return self.out(self.relu3(self.fc(self.flatten(self.relu2(a)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x, "conv2"), "conv2")


class _GuidedReLUFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # noqa: ANN001, ANN205
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001, ANN205
        (x,) = ctx.saved_tensors
        return grad * (x > 0).to(grad.dtype) * (grad > 0).to(grad.dtype)


class _GuidedReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _GuidedReLUFn.apply(x)


def guided_copy(net: TinyNet) -> TinyNet:
    """A copy of ``net`` whose ReLUs implement the guided rule themselves (no hooks)."""
    g = copy.deepcopy(net)
    for name in ("relu1", "relu2", "relu3"):
        setattr(g, name, _GuidedReLU())
    return g


def manual_cam(net: TinyNet, x: torch.Tensor, layer: str, action: int) -> torch.Tensor:
    """Grad-CAM by hand: split the forward pass at ``layer``; ``(B, 1, H, W)``."""
    a = net.features(x, layer).detach().requires_grad_(True)
    y = net.head(a, layer)[:, action].sum()
    (g,) = torch.autograd.grad(y, a)
    cam = F.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
    return F.interpolate(cam.detach(), size=x.shape[-2:], mode="bilinear", align_corners=False)


@pytest.fixture
def net() -> TinyNet:
    torch.manual_seed(0)
    return TinyNet().eval()


@pytest.fixture
def obs() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(4, 3, 10, 10)


def all_methods(net: TinyNet) -> list:
    return [
        Gradient(net),
        GuidedBackprop(net),
        GradCAM(net, net.conv1),
        GuidedGradCAM(net, net.conv1),
        G1GradCAM(net, net.conv2),
        G2GradCAM(net, net.conv2),
    ]


def test_gradient_equals_autograd(net, obs):
    x = obs.clone().requires_grad_(True)
    actions = torch.tensor([0, 2, 1, 2])
    (expected,) = torch.autograd.grad(net(x).gather(1, actions[:, None]).sum(), x)
    torch.testing.assert_close(Gradient(net).attribute(obs, target=actions), expected, rtol=0, atol=0)
    (expected1,) = torch.autograd.grad(net(x)[:, 1].sum(), x)
    torch.testing.assert_close(Gradient(net).attribute(obs, target=1), expected1)
    torch.testing.assert_close(Gradient(net).attribute(obs, target=q_value(1)), expected1)
    (expected_sum,) = torch.autograd.grad(net(x).sum(), x)
    torch.testing.assert_close(Gradient(net).attribute(obs, target=layer_sum()), expected_sum)
    (expected_fc,) = torch.autograd.grad(net.fc(net.flatten(net.relu2(net.features(x, "conv2")))).sum(), x)
    torch.testing.assert_close(Gradient(net).attribute(obs, target=layer_sum(net.fc)), expected_fc)


def test_guided_backprop_equals_custom_function_copy(net, obs):
    g = guided_copy(net)
    x = obs.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(g(x)[:, 2].sum(), x)
    got = GuidedBackprop(net).attribute(obs, target=2)
    torch.testing.assert_close(got, expected)
    assert got.abs().sum() > 0
    # the guided rule really changes something on this net
    plain = Gradient(net).attribute(obs, target=2)
    assert not torch.allclose(got, plain)


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_grad_cam_equals_manual(net, obs, layer):
    got = GradCAM(net, getattr(net, layer)).attribute(obs, target=1)
    assert got.shape == (4, 1, 10, 10)
    torch.testing.assert_close(got, manual_cam(net, obs, layer, 1))
    assert (got >= 0).all() and got.sum() > 0


def test_grad_cam_constant_feature_maps_give_constant_map(net, obs):
    with torch.no_grad():
        net.conv2.weight.zero_()
        net.conv2.bias.copy_(torch.tensor([0.5, 1.0, 0.2, 0.3, 0.7]))
        net.fc.weight.abs_()
        net.fc.bias.fill_(0.1)
        net.out.weight.abs_()
    cam = GradCAM(net, net.conv2).attribute(obs, target=0)
    assert cam.min() > 0
    torch.testing.assert_close(cam, cam[:, :, :1, :1].expand_as(cam))


def test_guided_grad_cam_and_g2_are_products(net, obs):
    gbp = GuidedBackprop(net).attribute(obs, target=1)
    cam = GradCAM(net, net.conv1).attribute(obs, target=1)
    g1 = G1GradCAM(net, net.conv1).attribute(obs, target=1)
    torch.testing.assert_close(GuidedGradCAM(net, net.conv1).attribute(obs, target=1), cam * gbp)
    g2 = G2GradCAM(net, net.conv1).attribute(obs, target=1)
    assert g2.shape == obs.shape
    torch.testing.assert_close(g2, g1 * gbp)


@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_g1_grad_cam_equals_manual_through_guided_copy(net, obs, layer):
    got = G1GradCAM(net, getattr(net, layer)).attribute(obs, target=0)
    torch.testing.assert_close(got, manual_cam(guided_copy(net), obs, layer, 0))
    if layer == "conv1":  # relu1..relu3 lie between conv1 and the output: guiding changes it
        assert not torch.allclose(got, GradCAM(net, net.conv1).attribute(obs, target=0))


def _outputs_and_grads(net: nn.Module, obs: torch.Tensor):
    x = obs.clone().requires_grad_(True)
    out = net(x)
    grads = torch.autograd.grad(out.square().sum(), [x, *net.parameters()])
    return out.detach(), [g.detach() for g in grads]


def test_methods_leave_model_unchanged(net, obs):
    state = {k: v.clone() for k, v in net.state_dict().items()}
    out0, grads0 = _outputs_and_grads(net, obs)
    for training in (False, True):
        net.train(training)
        for method in all_methods(net):
            method.attribute(obs, target=1)
        assert net.training is training
        assert all(m.training is training for m in net.modules())
    net.eval()
    out1, grads1 = _outputs_and_grads(net, obs)
    torch.testing.assert_close(out1, out0, rtol=0, atol=0)
    for a, b in zip(grads1, grads0, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k])
    assert all(p.grad is None for p in net.parameters())
    for m in net.modules():
        assert not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks
        assert not m._backward_pre_hooks


def test_hooks_removed_after_error(net, obs):
    for method in all_methods(net):
        with pytest.raises(ValueError, match="target"):
            method.attribute(obs, target=lambda out: out)  # (B, 3): not one scalar per sample
    for m in net.modules():
        assert not m._forward_hooks and not m._backward_hooks and not m._forward_pre_hooks


def test_deterministic(net, obs):
    for method in all_methods(net):
        assert torch.equal(method.attribute(obs, target=2), method.attribute(obs, target=2))


def test_bad_inputs(net, obs):
    with pytest.raises(ValueError, match="obs"):
        Gradient(net).attribute(obs[0], target=0)
    for bad in (3, -1, torch.tensor([0, 1, 2, 3]), torch.tensor([0, 1]), torch.tensor([0.0, 1, 1, 1])):
        with pytest.raises(ValueError, match="target"):
            GuidedBackprop(net).attribute(obs, target=bad)
    with pytest.raises(ValueError, match="mode"):
        normalize(torch.randn(2, 3), mode="sequence")
    with pytest.raises(ValueError, match="layer"):
        GradCAM(net, nn.Conv2d(3, 4, 3))
    with pytest.raises(ValueError, match="layer"):
        GradCAM(net, net.fc).attribute(obs, target=0)
    with pytest.raises(ValueError, match="value_stream"):
        Gradient(net).attribute(obs, target=value_stream())


def test_normalize():
    maps = torch.tensor([[[2.0, -4.0]], [[0.5, 0.25]], [[0.0, 0.0]]])  # (T=3, 1, 2)
    frame = normalize(maps, mode="frame")
    torch.testing.assert_close(frame, torch.tensor([[[0.5, -1.0]], [[1.0, 0.5]], [[0.0, 0.0]]]))
    video = normalize(maps, mode="video")
    torch.testing.assert_close(video, maps / 4.0)
    assert normalize(torch.zeros(2, 2), mode="video").eq(0).all()


def test_dueling_q_network_all_methods_and_streams():
    torch.manual_seed(0)
    model = DuelingQNetwork(n_actions=4).eval()
    obs = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    methods = [
        Gradient(model), GuidedBackprop(model), GradCAM(model, model.torso.conv1),
        GuidedGradCAM(model, model.torso.conv1), G1GradCAM(model, model.torso.conv3),
        G2GradCAM(model, model.torso.conv3),
    ]
    for method in methods:
        m = method.attribute(obs, target=torch.tensor([0, 3]))
        expected = (2, 1, 84, 84) if type(method) in (GradCAM, G1GradCAM) else (2, 4, 84, 84)
        assert m.shape == expected and m.dtype == torch.float32
        assert torch.isfinite(m).all()

    streams = {"return_streams": True}
    x = obs.float().requires_grad_(True)
    q, v, a = model(x, return_streams=True)
    (gv,) = torch.autograd.grad(v.sum(), x, retain_graph=True)
    (ga,) = torch.autograd.grad(a[:, 2].sum(), x, retain_graph=True)
    (ga_sum,) = torch.autograd.grad(a.sum(), x, retain_graph=True)
    (gq,) = torch.autograd.grad(q[:, 1].sum(), x)
    grad = Gradient(model)
    torch.testing.assert_close(grad.attribute(obs, value_stream(), forward_kwargs=streams), gv)
    torch.testing.assert_close(grad.attribute(obs, advantage_stream(2), forward_kwargs=streams), ga)
    torch.testing.assert_close(grad.attribute(obs, advantage_stream(), forward_kwargs=streams), ga_sum)
    torch.testing.assert_close(grad.attribute(obs, 1, forward_kwargs=streams), gq)
    torch.testing.assert_close(grad.attribute(obs, 1), gq)
    for method in methods:
        m = method.attribute(obs, value_stream(), forward_kwargs=streams)
        assert torch.isfinite(m).all()
