#!/usr/bin/env bash
# Times `adnn video` end to end (decode → frames.csv) on the demo clips: four faces from
# ../shared/data/faces drifting on a 640×480 and a 1280×720 canvas, 250 frames each, written by the
# ADNNVideoTests demo test with adnn's own encoder. Prints the best of REPEATS runs per setting
# (frames/s, face rows, CPU ms per frame) as a Markdown table.
# Usage: bash Scripts/bench_video.sh CHECKPOINT [DIR] [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
CK=${1:?usage: bench_video.sh CHECKPOINT [DIR] [REPEATS]}
DIR=${2:-runs/video-bench}
REPEATS=${3:-3}
[ -n "${ADNN_SKIP_BUILD:-}" ] || swift build -c release --product adnn >/dev/null
if [ ! -f "$DIR/faces_1280x720.mp4" ]; then
  ADNN_VIDEO_DEMO="$DIR" swift test -c release -Xswiftc -enable-testing --filter VideoPipelineTests/testWriteDemoClips >/dev/null
fi
echo "| input | flags | frames/s (best of $REPEATS) | face rows | CPU ms/frame |"
echo "|---|---|---|---|---|"
for setting in "faces_640x480.mp4|" "faces_640x480.mp4|--every 2" "faces_1280x720.mp4|--every 2" \
               "faces_1280x720.mp4|--every 2 --detect-size 384" "faces_1280x720.mp4|--detect-size 384"; do
  clip=${setting%%|*}; flags=${setting#*|}
  best=0; rows=0; cpu=0
  for _ in $(seq "$REPEATS"); do
    rm -rf "$DIR/out"
    # shellcheck disable=SC2086
    line=$( { /usr/bin/time -f "TIME %U %S" .build/release/adnn video "$DIR/$clip" --out "$DIR/out" --checkpoint "$CK" --json $flags; } 2>&1 )
    fps=$(echo "$line" | grep -o '"frames_per_second":[0-9.]*' | cut -d: -f2)
    faces=$(echo "$line" | grep -o '"faces":[0-9]*' | cut -d: -f2)
    frames=$(echo "$line" | grep -o '"frames":[0-9]*' | cut -d: -f2)
    t=$(echo "$line" | grep '^TIME' | awk -v f="$frames" '{ printf "%.1f", ($2 + $3) * 1000 / f }')
    if awk -v a="$fps" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$fps; rows=$faces; cpu=$t; fi
  done
  echo "| $clip | ${flags:-—} | $best | $rows | $cpu |"
done
rm -rf "$DIR/out"
