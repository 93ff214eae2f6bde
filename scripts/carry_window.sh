#!/usr/bin/env bash
# After a GPU window (scripts/device_window.sh): unpack what came back, import its finished runs into the store
# (`lit-rnn runs import`, with its checks), and keep the runs it cut in .carry/unfinished/ for the next window
# (carry .carry/ with the corpora). The report is in .carry/window/report.md.
#
#   bash scripts/carry_window.sh FILES_AT
set -euo pipefail
files_at=${1:?give the folder the parts of the window came back in}
rm -rf .carry/window
mkdir -p .carry
cat "$files_at"/window.tar.part-* | tar -xf - -C .carry
if compgen -G ".carry/window/runs/*" > /dev/null; then
    lit-rnn runs import .carry/window/runs/*
fi
rm -rf .carry/unfinished
if [ -d .carry/window/unfinished ]; then mv .carry/window/unfinished .carry/unfinished; fi
cat .carry/window/report.md
