#!/usr/bin/env bash
# A guide-conditioned maze world: record the maze with depth and wall-id maps, train a model that is
# shown the maps of each frame it paints, then paint an unseen maze from its maps alone and compare.
#
#   examples/maze_guided.sh              # tiny: 32x32, a smoke run of a couple of minutes on a laptop CPU
#   PRESET=small examples/maze_guided.sh # the shipped size: 64x64, hours on CPU (see docs/conditioning.md)
#
# Everything lands under $OUT (default: runs/maze-guided-$PRESET). Seeds 0.. train; the generated
# video and the evaluation use held-out seeds (2,000,000 and 1,000,000 onwards).
set -euo pipefail

PRESET=${PRESET:-tiny}
OUT=${OUT:-runs/maze-guided-$PRESET}
case "$PRESET" in
  tiny)  SIZE=32; EPISODES=24;  FRAMES=200 ;;
  small) SIZE=64; EPISODES=240; FRAMES=500 ;;
  *) echo "PRESET must be tiny or small, got $PRESET" >&2; exit 2 ;;
esac

# 1. Frames, actions and guide maps (depth, wall id) of mazes 0..EPISODES-1.
vidgen record maze --guides --policy explore,explore,random --episodes "$EPISODES" --frames "$FRAMES" \
  --size "$SIZE" -o "$OUT/data" --overwrite

# 2. Train: model.guide_channels is taken from the store (2), so no flag is needed.
vidgen train --preset "$PRESET" --data "$OUT/data" --out "$OUT/run"

# 3. An unseen maze (seed 2000000) painted from its own guide maps: real | generated.
vidgen generate "$OUT/run" --seed 2000000 --policy explore --frames 200 --compare -o "$OUT/unseen-compare.mp4"

# 4. The same start, painted from another unseen maze's maps (what the guide alone changes).
vidgen generate "$OUT/run" --seed 2000000 --guides-from-seed 2000001 --frames 200 --compare \
  -o "$OUT/other-guides-compare.mp4"

# 5. Quality report on held-out mazes, driven by their guide maps.
vidgen eval "$OUT/run" --episodes 8 --json "$OUT/eval.json" --plot "$OUT/eval.png" \
  --html "$OUT/report/index.html" --md "$OUT/report/README.md"
echo "videos, eval.json and report/ are in $OUT"
