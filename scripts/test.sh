#!/usr/bin/env bash
# Runs the whole test suite (after installing prerequisites): the unit and integration tests, the README's minimal
# example as written, the chat sample and the results harness with small settings, and the package test (a console app outside the
# repository that uses the packed packages). Tests read ../shared/data beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prerequisites.sh
dotnet test LoraMlNet.sln -c Release --logger "console;verbosity=normal" "$@"
bash scripts/readme-example.sh
dotnet run --project samples/ChatE2E -c Release -- --quick
dotnet run --project samples/Results -c Release -- --quick   # every table of docs/results.md on tiny subsets
bash scripts/package-test.sh
