#!/usr/bin/env bash
# The figures of docs/performance.md: every `mllora bench` configuration REPEAT times (default 3), one JSON object
# per line in OUT (default bench-results.jsonl), with the 1-minute load average recorded in each. Runs one
# configuration at a time; on a shared machine compare figures measured at similar load.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
OUT=${OUT:-bench-results.jsonl}
STEPS=${STEPS:-5}
dotnet build src/Microsoft.ML.Lora.Cli -c Release -v quiet -nologo >/dev/null
mllora() { dotnet src/Microsoft.ML.Lora.Cli/bin/Release/net10.0/mllora.dll "$@"; }
run() { echo "mllora $*" >&2; mllora "$@" --json 2>/dev/null | sed "s|^{|{\"command\":\"$*\",|" >> "$OUT"; }

for _ in $(seq "$REPEAT"); do
  run bench train --preset smollm2-135m --mode lora --precision fp32 --steps "$STEPS"
  run bench train --preset smollm2-135m --mode lora --precision bf16 --steps "$STEPS"
  run bench train --preset smollm2-135m --mode full --precision fp32 --steps "$STEPS"
  run bench train --preset smollm2-135m --mode lora --precision fp32 --grad-checkpointing --steps "$STEPS"
  run bench train --preset smollm2-135m --mode lora --precision bf16 --grad-checkpointing --steps "$STEPS"
  run bench generate --preset smollm2-135m --precision fp32 --rounds 5 --decode-steps 32
  run bench generate --preset smollm2-135m --precision bf16 --rounds 5 --decode-steps 32
  run bench score
done
run bench models
# Memory over a long run: 200 steps (bf16, the fastest).
run bench train --preset smollm2-135m --mode lora --precision bf16 --steps 200 --warmup 2
