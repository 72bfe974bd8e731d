"""The dueling network's planted bugs (the saliency chapter's bug-localisation study): each
changes only what it plants, and a buggy agent's weights file rebuilds the same buggy network."""

from __future__ import annotations

import pytest


def test_dueling_bugs_change_only_what_they_plant():
    import torch

    from rlinside.nets.atari import DUELING_BUGS, DuelingQNetwork

    torch.manual_seed(0)
    good = DuelingQNetwork(4)
    x = torch.randint(0, 256, (3, 4, 84, 84)).float()
    nets = {}
    for bug in DUELING_BUGS:
        nets[bug] = DuelingQNetwork(4, bug=bug)
        nets[bug].load_state_dict(good.state_dict())
    q, v, a = good(x, return_streams=True)
    # the mis-linked value output reads the advantage stream's hidden layer: value_hidden gets no gradient
    qb, vb, ab = nets["value_link"](x, return_streams=True)
    torch.testing.assert_close(ab, a)
    hidden = torch.relu(good.advantage_hidden(good.torso(x)))
    torch.testing.assert_close(vb, good.value_out(hidden))
    qb.sum().backward()
    assert nets["value_link"].value_hidden.weight.grad is None
    # the wrong merge subtracts one mean over the batch: the states' Q-values are coupled
    qm = nets["merge"](x)
    torch.testing.assert_close(qm, v + a - a.mean())
    torch.testing.assert_close(nets[""](x), q)
    with pytest.raises(ValueError, match="bug must be one of"):
        DuelingQNetwork(4, bug="typo")


def test_a_planted_bug_travels_with_the_weights(tmp_path):
    import torch

    from rlinside.agents import dqn

    with pytest.raises(ValueError, match="needs dueling=True"):
        dqn.DQNConfig(bug="merge", dueling=False)
    config = dqn.DQNConfig(bug="value_link")
    net = dqn._new_network(4, config)
    assert net.bug == "value_link"
    payload = dqn.AGENT.weights_payload(net, config, 10, torch.float16)
    torch.save(payload, tmp_path / "w.pt")
    loaded, meta = dqn.load_weights(tmp_path / "w.pt")
    assert loaded.bug == "value_link" and meta["config"]["bug"] == "value_link"
    plain = dqn.AGENT.weights_payload(dqn._new_network(4, dqn.DQNConfig()), dqn.DQNConfig(), 10, torch.float16)
    assert "bug" not in plain  # the shipped agents' files are unchanged
