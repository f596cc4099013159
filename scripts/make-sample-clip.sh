#!/bin/sh
# Regenerates src/kling/simulator/assets/sample-clip.mp4, the clip behind every video URL of the Kling simulator
# (src/kling/simulator/placeholder-video.ts). The clip is committed: neither the build, the tests
# nor CI run this, so none of them needs ffmpeg; only someone changing the clip does
# (Debian: apt-get install -y ffmpeg).
#
# 3 s, 128x72, 12 fps: a light square sliding across a dark field and back, so it loops without a
# jump. H.264 Constrained Baseline, yuv420p, `moov` before `mdat` (faststart) so playback can start
# before the download ends: what Kling itself returns, and what Chromium (Debian's build included),
# Firefox and Safari all decode. The x264 settings SEI (type 6) is stripped and the output is
# bit-exact, so the same ffmpeg makes the same bytes (ffmpeg 5.1.9 made 1,773 bytes, md5
# c5beae8fd6d51a71fe68fa4d3b238e4d).
set -eu
cd "$(dirname "$0")/.."
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "color=c=0x1e2a3a:s=128x72:r=12:d=3" \
  -f lavfi -i "color=c=0x5b8def:s=16x16:r=12:d=3" \
  -filter_complex "[0][1]overlay=x='(W-w)*(1-abs(1-2*t/3))':y='(H-h)/2':shortest=1,format=yuv420p" \
  -c:v libx264 -profile:v baseline -level 3.0 -preset veryslow -crf 30 -g 36 \
  -bsf:v filter_units=remove_types=6 \
  -map_metadata -1 -fflags +bitexact -flags:v +bitexact -movflags +faststart \
  src/kling/simulator/assets/sample-clip.mp4
ls -l src/kling/simulator/assets/sample-clip.mp4
