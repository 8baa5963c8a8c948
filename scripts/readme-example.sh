#!/usr/bin/env bash
# Runs the README's minimal example as the README says: convert stories260K into models/stories260K, then run
# samples/ReadmeExample (the README's code, verbatim) from the repository root. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
shared=../shared/data/models/stories260K
dotnet run --project src/Microsoft.ML.Lora.Cli -c Release -- convert llama2c --out models/stories260K --overwrite \
    --checkpoint "$shared/stories260K.bin" --tokenizer "$shared/tok512.bin" >/dev/null
log=$(mktemp)
dotnet run --project samples/ReadmeExample -c Release 2>/dev/null | tee "$log"
# The program prints the test accuracy, then its two predictions: the prize message is spam, the lunch one ham.
grep -qE '^test accuracy [0-9.]+ ?%$' "$log" && [ "$(sed -n 2p "$log")" = spam ] && [ "$(sed -n 3p "$log")" = ham ] \
  || { echo "error: the README example did not print an accuracy, spam and ham" >&2; rm -f "$log"; exit 1; }
rm -f "$log"
