#!/usr/bin/env bash
# Regenerates docs/results.md and its plots (samples/Results): SST-2 with MiniLM and Arctic-xs (majority, head-only,
# LoRA r 1..16, full; 3 seeds), the LoRA paper's Table 5 analogue, SMS spam, E2E with stories260K. CPU-heavy (hours on
# 2 cores); finished cells are kept in docs/results-runs.jsonl, so rerunning resumes. --quick: every table on tiny
# subsets with one seed, written to out/results-quick/ (what the test command runs).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
dotnet run --project samples/Results -c Release -- "$@"
