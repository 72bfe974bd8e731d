#!/bin/bash
# Usage: nice -n 10 scripts/train_maze_planted_delay.sh [CHAIN] > runs/maze_dagger_d8.log 2>&1 &
#   CHAIN: all (default, every run in turn), a (seed 1's pair) or b (seed 2's pair); run chains a
#   and b side by side on two cores.
# DAgger maze policies with an 8-step observation delay (and the no-delay references of the same
# seeds), for the planted-delay experiment of the LSTM chapter. Resumable: rerun; each run resumes
# (train_maze_dagger.py keeps its rounds) and ships once.
set -e
cd "$(dirname "$0")/.."
run() {  # run-dir seed delay
  d=$1
  if [ ! -f $d/shipped ]; then
    .venv/bin/python scripts/train_maze_dagger.py --run-dir $d --seed $2 --obs-delay $3
    .venv/bin/python scripts/train_maze.py --run-dir $d --ship && touch $d/shipped
  fi
}
chain=${1:-all}
case $chain in
  all|a|b) ;;
  *) echo "unknown chain '$chain': use all, a or b" >&2; exit 2 ;;
esac
if [ $chain = all ]; then run runs/maze_dagger_d8_s0 0 8; fi
if [ $chain != b ]; then
  run runs/maze_dagger_s1 1 0
  run runs/maze_dagger_d8_s1 1 8
fi
if [ $chain != a ]; then
  run runs/maze_dagger_d8_s2 2 8
  run runs/maze_dagger_s2 2 0
fi
