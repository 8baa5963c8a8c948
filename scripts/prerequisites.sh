#!/usr/bin/env bash
# Installs what the build needs beyond the .NET 10 SDK: on x86-64 Linux, g++ compiles two small native helpers beside
# TorchSharp (build/glibcxx_shim.cpp lets TorchSharp 0.107's native library load on a libstdc++ older than GCC 13;
# build/mkl_cpu_dispatch.cpp lets libtorch's MKL use its optimised kernels on non-Intel CPUs — see
# build/TorchSharpNative.targets). Nothing is installed where it is already there.
set -euo pipefail

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required: https://dot.net" >&2
  exit 1
fi

if [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ] && ! command -v g++ >/dev/null 2>&1; then
  echo "installing g++ (it builds TorchSharp's native helpers, see build/TorchSharpNative.targets)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq g++ >/dev/null
fi
