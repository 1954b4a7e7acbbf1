#!/usr/bin/env bash
# Development only (never CI): renders an `adnn report` HTML file to a PNG with headless Chromium.
#   bash Scripts/render_report.sh REPORT.html OUT.png [WIDTH] [HEIGHT]
# Needs Debian's `chromium` (apt-get install -y chromium). The report is self-contained, so the
# renderer is run with networking disabled to prove nothing is fetched.
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 REPORT.html OUT.png [WIDTH=1200] [HEIGHT=3000]" >&2; exit 2; fi
report=$1; out=$2; width=${3:-1200}; height=${4:-3000}
[ -f "$report" ] || { echo "$report: no such file" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium not found: apt-get install -y chromium" >&2; exit 1; }
abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
outabs=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
    --proxy-server="127.0.0.1:9" --proxy-bypass-list="<-loopback>" \
    --window-size="$width,$height" --screenshot="$outabs" "file://$abs" >/dev/null 2>&1
[ -s "$outabs" ] || { echo "$outabs: chromium wrote no screenshot" >&2; exit 1; }
echo "wrote $outabs (${width}x${height})"
