#!/bin/bash
# Usage: nice -n 10 scripts/train_bug_agents.sh > runs/bug_agents.log 2>&1 &
# The saliency chapter's bug-localisation study: the DDDQN on Breakout with each of the two
# planted errors of its dueling head (rlinside.nets.atari.DUELING_BUGS), same seed and settings
# as the zoo's DDDQN, to 250k agent steps (the zoo's early agent is the bug-free reference at
# the same step); then the control, the bug-free setup with another training seed
# (rlinside.studies.saliency.BUG_NULL_SEED). Resumable: rerun; train_atari.py resumes each run
# from its checkpoint. Ship each with scripts/ship_atari_agent.py --run-dir DIR --agent dddqn
# --stage final.
set -e
cd "$(dirname "$0")/.."
for bug in value_link merge; do
  d=runs/dddqn_breakout_bug_$bug
  if [ ! -f $d/eval.json ]; then
    .venv/bin/python scripts/train_atari.py --game Breakout --agent dddqn --bug $bug --steps 250000 \
      --early-step 0 --run-dir $d
  fi
done
d=runs/dddqn_breakout_s1_250k
if [ ! -f $d/eval.json ]; then
  .venv/bin/python scripts/train_atari.py --game Breakout --agent dddqn --seed 1 --steps 250000 \
    --early-step 0 --run-dir $d
fi
