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
# # The Atari prediction benchmark
#
# This notebook regenerates **Figures 7, 8, 10 and 11** of Javed et al. (Figure 9 and a test of
# the agent behind the stream: {doc}`07_atari_ablation`). A learner reads the play of a
# trained agent, one step at a time: only the newest frame, grey and shrunk to 16 × 16, the
# action just taken (one-hot, padded to 20 entries) and the reward just received, clipped to
# [−1, 1]. That is 277 inputs. It predicts the discounted return of the clipped reward
# ($\gamma = 0.98$). One frame hides a lot: the ball of Pong is often invisible, and its
# direction is never in a single frame. A learner must build that state from the history.
#
# **Our streams.** The paper's streams come from Rainbow agents of a model zoo. Ours come from
# this project's own A2C and DQN agents (`rlinside.agents`), trained here and shipped in
# `data/` with their scores against random play. Each stream is at least 100k steps of greedy
# play, continued to the end of the last game (`scripts/collect_atari_stream.py`). A run
# longer than its stream goes round it again. The learner's error is measured against the
# stream's exact returns.
#
# **Protocol.** Every learner is tuned on tuning seeds, which are disjoint from the report
# seeds (`rlinside.seeds`). The best T-BPTT of a game is the best of Table 1's five pairs on the
# tuning seeds; labels read truncation:features, as the table does ({doc}`07_atari_ablation`:
# which match hybrid's compute, `tbptt_reading`). Errors: squared return error, last 0.4 % of a run.

# %% tags=["parameters"]
games: list[str] = ["Breakout", "Seaquest", "Pong", "CrazyClimber", "Qbert", "SpaceInvaders", "MsPacman",
                    "Asterix"]  # games, each with a shipped stream | nonempty; unique
n_steps: int = 1000000  # learning steps per run (paper: 50M) | [1_000, 10_000_000_000]
step_sizes: list[float] = [0.001, 0.0001]  # RMSProp step sizes tried (paper: 1e-2 to 1e-4) | nonempty; unique; (0, 1]
epsilons: list[float] = [0.01]  # normalisation floors of the RTRL learners (paper: 0.1 to 0.001) | nonempty; (0, 10]
tune_seeds: int = 2  # tuning seeds per configuration (paper: 5) | [1, 100]
n_seeds: int = 5  # report seeds behind each number (paper: 15) | [1, 1000]
# how Table 1's Atari pairs are read (notebook 07) | {truncation:features, features:truncation}
tbptt_reading: str = "truncation:features"
prediction_games: list[str] = ["Pong", "Breakout", "Seaquest", "Qbert", "MsPacman"]  # games of Figure 11 | unique
workers: int = 2  # Dask LocalCluster worker processes; 0 runs everything in this process | [0, 1024]
scheduler: str = ""  # address of a running Dask scheduler (overrides workers) | match (|synchronous|(tcp|tls|inproc|ucx|ws|wss)://\S+)

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlinside import claims, seeds
from rlinside.plots import publish, run_context, set_theme
from rlinside.plots.rtrl import plot_frames, plot_predictions, plot_relative_bars
from rlinside.studies import rtrl as study

set_theme()
FINAL = 0.004  # the error window: the last 0.4 % of a run, as 200k of the paper's 50M steps
bin_steps = max(1, n_steps // 250)  # 250 bins, so the last bin is that window
streams, _, stream_table = study.atari_streams(games)
stream_table

# %% [markdown]
# ## Figure 10: what the learner sees: the newest frame (84 × 84, after 150 random actions), and at 16 × 16

# %%
fig = plot_frames({g: study.atari_frame(g) for g in games[:4]})
publish("rtrl_fig10_atari_frames", fig, "Figure 10: the newest frame of four games at full size and at 16 × 16.")

# %% [markdown]
# ## Tuning and report runs
#
# Each game: columnar (7 features), constructive (10), hybrid (20, 5 per stage) and five T-BPTT
# configurations of Table 1, each tuned over the step sizes (and ε for RTRL) on the
# tuning seeds, the winner rerun on the report seeds. A winner at an edge of its grid is counted.

# %%
run = dict(n_steps=n_steps, step_sizes=step_sizes, epsilons=epsilons, bin_steps=bin_steps,
           tune_seeds=seeds.TUNING.take(tune_seeds), final_seeds=seeds.REPORT.take(n_seeds),
           scheduler=scheduler or ("synchronous" if workers == 0 else None), workers=workers or None,
           command=run_context().get("command"), tbptt_reading=tbptt_reading)
results = {g: study.run_atari_game(g, streams[g].config["agent_key"], **run) for g in games}
fin = {g: {lab: study.final_errors(r, FINAL) for lab, r in res.items()} for g, res in results.items()}
TB = study.atari_tbptt_labels(tbptt_reading)
best = {g: study.best_tbptt(results[g], TB) for g in games}
table = study.atari_table(fin, results, best)
print(f"Winners at an edge of their grid: {(table['winner at a grid edge'] != '').sum()} of {len(table)}.")
table.pivot_table(index="learner", columns="game", values="final error").round(5)

# %% [markdown]
# ## Figure 7: hybrid against the best T-BPTT, per game
# Per report seed, hybrid's final error / the best T-BPTT's (same data); below 1: hybrid better.

# %%
ratio = {g: study.relative_errors(fin[g]["hybrid 20/5"], fin[g][best[g]]) for g in games}
scale = {"profile": run_context().get("profile"), "steps": n_steps, "seeds": n_seeds, "games": len(games)}
per_game = {g: claims.measure(f"rtrl.atari.hybrid_over_tbptt.{g}", ratio[g].values(), scale=scale) for g in games}
fig, ax = plt.subplots(figsize=(8, 3.8))
plot_relative_bars(ax, per_game, color_by_one=True, log=True)
ax.set_ylabel("hybrid error / best T-BPTT error")
ax.set_title(f"Figure 7 at {n_steps:,} steps, {n_seeds} report seeds")
publish("rtrl_fig7_atari_hybrid_vs_tbptt", fig,
        f"Figure 7, our run: per game, hybrid's final error relative to the best T-BPTT's (chosen on {tune_seeds} "
        f"tuning seeds), mean and 95 % bootstrap interval over {n_seeds} report seeds, {n_steps:,} steps.")

# %% [markdown]
# ## Figure 8: every learner, averaged over games
#
# Each learner's error relative to the best T-BPTT of the same game and seed, averaged over games.

# %%
learners = ["columnar 7", "constructive 10", "hybrid 20/5", *TB]
avg = {lab: study.average_relative(fin, best, lab, games) for lab in learners}
ms = {lab: claims.measure(f"rtrl.atari.average_relative.{lab}", v.values(), scale=scale) for lab, v in avg.items()}
fig, ax = plt.subplots(figsize=(8, 3.8))
plot_relative_bars(ax, ms)
ax.set_ylabel("error relative to the best T-BPTT")
ax.set_title(f"Figure 8 at {n_steps:,} steps, {len(games)} games, {n_seeds} seeds")
publish("rtrl_fig8_atari_average", fig,
        f"Figure 8, our run: each learner's final error relative to the best T-BPTT of the same game and seed, "
        f"averaged over {len(games)} games; mean and 95 % interval over {n_seeds} report seeds.")

# %% [markdown]
# ## Figure 11: predictions at the end of learning
#
# The last 500 steps of the first report seed's run: hybrid and the best T-BPTT against the truth.

# %%
tails = {g: {"true return": results[g]["hybrid 20/5"].first["tail_return"],
            **{lab: results[g][lab].first["tail_prediction"] for lab in ("hybrid 20/5", best[g])}}
         for g in prediction_games if g in games}
fig = plot_predictions(tails)
publish("rtrl_fig11_atari_predictions", fig,
        f"Figure 11, our run: predictions at the end of {n_steps:,} steps against the true return (report seed 0).")

# %% [markdown]
# ## The chapter's Atari claims
#
# Over report seeds (averages over games), or over games for the share of games won, whose
# interval resamples each game's report seeds (the games are fixed); verdicts: chapter page.

# %%
wins = [float(np.mean(list(ratio[g].values())) < 1) for g in games]
rows = [claims.measure(cid, avg[lab].values(), scale=scale).to_dict() for cid, lab in [
    ("rtrl.atari_hybrid_beats_tbptt", "hybrid 20/5"), ("rtrl.atari_columnar_beats_tbptt", "columnar 7"),
    ("rtrl.atari_constructive_beats_tbptt", "constructive 10")]] + [claims.measure(
        "rtrl.atari_hybrid_wins_most_games", wins, scale=scale, draws=study.win_share_draws(ratio, games),
        draws_from="report seeds resampled within each game").to_dict()]
pd.DataFrame(rows)[["claim", "estimate", "low", "high", "n"]]
