#!/usr/bin/env bash
# plot.sh RATIOS.tsv OUT.svg [TITLE]: draws the side-by-side ratios that
# summarize.py --ratios wrote (one row per scenario, one column per peer,
# "-" where a peer did not run) as grouped bars, 1.0 = raw epoll, into an
# SVG with gnuplot (Debian: gnuplot-nox, in the extra tier of
# tools/deps.sh).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 RATIOS.tsv OUT.svg [TITLE]" >&2
    exit 2
fi
if ! command -v gnuplot >/dev/null; then
    echo "plot.sh: gnuplot is not installed (sudo tools/deps.sh extra); no plot" >&2
    exit 1
fi
data=$1 out=$2
title=${3:-"Echo servers side by side on loopback (median of per-repeat ratios)"}
ncols=$(head -n1 "$data" | awk -F'\t' '{print NF}')
[ "$ncols" -ge 2 ] || { echo "plot.sh: no peers in $data" >&2; exit 1; }
gnuplot <<GP
set terminal svg size 900,420 dynamic font "sans,12" background rgb "white"
set output "$out"
set title "$title"
set datafile separator "\t"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set ylabel "throughput × raw epoll (higher is better)"
set yrange [0:*]
set grid ytics
set key outside right top vertical
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lc rgb "black"
plot for [i=2:$ncols] "$data" using i:xtic(1) title columnheader(i)
GP
echo "wrote $out"
