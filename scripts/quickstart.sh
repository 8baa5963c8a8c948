#!/usr/bin/env bash
# The quick start: converts the pretrained stories260K Llama from ../shared/data, fine-tunes it with LoRA to
# detect SMS spam, saves the ML.NET model zip, loads it back and predicts (see samples/QuickStart).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
dotnet run --project samples/QuickStart -c Release -- "$@"
