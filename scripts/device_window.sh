#!/usr/bin/env bash
# One GPU window on a lent machine that returns only what a command leaves in $OUT (at most 8 files of 16 MiB):
# the window (`python -m lit_rnn.window`, PyTorch alone needed), going on from the runs an earlier window cut
# where .carry/unfinished/ holds them, then its folder packed into $OUT in 15 MB parts.
#
#   bash scripts/device_window.sh MINUTES [lit_rnn.window flags...]
#
# Before: copy the corpora into .corpora/ (git-ignored) and carry it, with .carry/unfinished if an earlier window
# left runs to go on from. After, here: scripts/carry_window.sh FILES_AT imports the finished runs and keeps the cut
# ones.
# MINUTES: the device call's limit less 1.5 minutes, for the archive.
set -uo pipefail
minutes=${1:?give the minutes of the window, e.g. 8.5}
shift
resume=()
if [ -d .carry/unfinished ]; then resume=(--resume .carry/unfinished); fi
LIT_RNN_DATA=${LIT_RNN_DATA:-.corpora} PYTHONPATH=src "${PYTHON:-python3}" -m lit_rnn.window --minutes "$minutes" --out window \
    --partial "${resume[@]}" "$@"
status=$?
tar -cf - window | split -b 15m - "${OUT:?OUT is the folder the device machine sends back}/window.tar.part-"
ls -l "$OUT"
exit $status
