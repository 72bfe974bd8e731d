# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # From the planar model to a physics simulator: the trained arm in pybullet
#
# The agents of this chapter learn on a kinematic model: each action adds ±0.05 rad to a joint
# angle, instantly. The paper moves its trained agents to a detailed robot simulation (its
# Figure 1, left) to show that what was learned is not an artefact of the simple model. We do
# the same with a **pybullet twin** of the arm (`rlinside.envs.planar_arm_bullet`): a URDF
# generated for $n$ links of the same lengths, with masses, gravity in the arm's plane, and
# joint motors under position control that follow the commanded angles over the 50 ms of a
# control step. The policy is the trained network, unchanged; it reads the same observation
# (sines and cosines of the *measured* joint angles and the goal) and its commands become
# motor set-points. Nothing is retrained.
#
# We measure the success rate (final reward at least 0.9) on the same goals in both simulators,
# and show one episode as an animation.

# %% tags=["parameters"]
joints: list[int] = [2, 3, 4]  # arms whose shipped agents are transferred | nonempty; unique; {2, 3, 4}
width: int = 32  # width of those agents | {32, 48, 128, 256, 512}
agent_seed: int = 0  # training seed of those agents | [0, 999]
episodes: int = 300  # goals per arm, the same in both simulators | [1, 10_000]
episode_seed: int = 5  # seed of the goals | [0, 2_147_483_647]
animate_joints: int = 3  # arm shown in the animation | {2, 3, 4}
render_every: int = 2  # control steps between two animation frames | [1, 1000]

# %%

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims
from rlinside.agents.arm_dqn import greedy_actions, load_arm_agent
from rlinside.envs.planar_arm_bullet import run_policy, run_policy_planar
from rlinside.plots import PALETTE, publish, publish_html, run_context, set_theme
from rlinside.plots.video import gif_bytes, gif_html
from rlinside.studies.neuron_activation import transfer_success_differences

set_theme()


def policy_of(model):
    return lambda obs: greedy_actions(model, np.asarray(obs, dtype=np.float32)[None])[0]


results, rows = {}, []
for n in joints:
    model, art = load_arm_agent(n, width, agent_seed)
    planar = run_policy_planar(policy_of(model), n, episodes=episodes, seed=episode_seed)
    bullet = run_policy(policy_of(model), n, episodes=episodes, seed=episode_seed)
    results[n] = (planar, bullet)
    rows.append({
        "joints": n, "agent": art.key, "episodes": episodes,
        "success planar": planar["success_rate"], "success pybullet": bullet["success_rate"],
        "mean final distance planar": float(planar["final_distance"].mean()),
        "mean final distance pybullet": float(bullet["final_distance"].mean()),
        "pybullet control steps/s": round(bullet["steps_per_s"], 1),
    })
table = pd.DataFrame(rows)
table

# %% [markdown]
# The chapter's claim about the transfer, measured per goal (success in pybullet minus success
# in the planar model on the same goal, all arms together); its verdict is computed on the
# chapter page ({doc}`../../claims`).

# %%
diffs = transfer_success_differences(results)
m = claims.measure("neuron_activation.transfer_to_pybullet", [diffs[k] for k in sorted(diffs)],
                   scale={"profile": run_context().get("profile"), "episodes": episodes, "agents": len(joints)},
                   details={"success planar": dict(zip(map(str, table["joints"]), table["success planar"])),
                            "success pybullet": dict(zip(map(str, table["joints"]), table["success pybullet"]))})
pd.DataFrame([m.to_dict()])[["claim", "estimate", "low", "high", "n"]]

# %% [markdown]
# ## Same goals, two simulators
#
# Each point is one goal: the final reward reached in the planar model (x) and in pybullet
# (y). Points on the diagonal behave the same in both; the dashed lines mark the success
# threshold 0.9.

# %%
fig, axes = plt.subplots(1, len(joints), figsize=(3.6 * len(joints), 3.4), squeeze=False)
for ax, n in zip(axes[0], joints):
    planar, bullet = results[n]
    ax.scatter(planar["final_reward"], bullet["final_reward"], s=8, alpha=0.6, color=PALETTE[0])
    ax.plot([0, 1], [0, 1], color="0.6", lw=1)
    ax.axvline(0.9, color="0.4", ls="--", lw=0.8)
    ax.axhline(0.9, color="0.4", ls="--", lw=0.8)
    ax.set(xlim=(0, 1.02), ylim=(0, 1.02), xlabel="final reward, planar model",
           ylabel="final reward, pybullet", title=f"{n} joints")
publish("na_pybullet_rewards", fig,
        f"Final rewards of the shipped width-{width} agents on {episodes} goals in both simulators.")

# %% [markdown]
# ## One episode in pybullet
#
# The trained 3-joint agent reaching for a goal (the sphere), rendered by pybullet's
# software renderer every `render_every` control steps.

# %%
model, _ = load_arm_agent(animate_joints, width, agent_seed)
run = run_policy(policy_of(model), animate_joints, episodes=1, seed=episode_seed + 1,
                 render_every=render_every)
frames = run["frames"][0]
# An animated GIF embedded as a data URI: plays in any browser, needs no script or network.
publish_html(gif_html(gif_bytes(list(frames), fps=1000 / 150),
                      alt=f"the {animate_joints}-joint agent reaching in pybullet"),
             f"The {animate_joints}-joint agent reaching in pybullet, one frame every {render_every} control steps.")
strip = frames[:: max(1, len(frames) // 5)][:5]
fig, axes = plt.subplots(1, len(strip), figsize=(2.4 * len(strip), 2.0))
for _k, (ax, f) in enumerate(zip(np.atleast_1d(axes), strip)):
    ax.imshow(f)
    ax.axis("off")
publish("na_pybullet_filmstrip", fig,
        f"The {animate_joints}-joint agent in pybullet: final reward {run['final_reward'][0]:.2f} "
        f"({'success' if run['success'][0] else 'failure'}).")
