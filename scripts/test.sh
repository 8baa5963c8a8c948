#!/usr/bin/env bash
# Runs the whole test suite (after installing prerequisites). Tests read ../shared/data beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
dotnet test LoraMlNet.sln -c Release --logger "console;verbosity=normal" "$@"
