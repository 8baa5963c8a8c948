#!/usr/bin/env bash
# Uses the packages as a user would, from outside the repository: packs Microsoft.ML.Lora, Microsoft.ML.Lora.Plotting,
# Microsoft.ML.Lora.Chat and the mllora tool into a temporary feed under a fresh version, then
#   1. a new console app (dotnet new console + dotnet add package) fine-tunes stories260K on 200 SMS messages for one
#      epoch, saves, loads in a fresh MLContext and predicts (tests/package/Program.cs);
#   2. the same app built with MlLoraPatchTorchSharp=false must fail with the library's typed error naming
#      GLIBCXX_3.4.32 where the system's libstdc++ lacks it (and run where it has it);
#   3. the same app with the libtorch-cpu-* packages' assets excluded (how an app takes TorchSharp-cuda instead, as the
#      README shows) has no CPU libtorch in its output;
#   4. the mllora tool, installed from the feed, converts a model and generates text;
#   5. `dotnet build src/Microsoft.ML.Lora.Cli -o DIR` gives a tool that runs from DIR.
# Reads ../shared/data beside the repository. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
shared=$(cd ../shared/data 2>/dev/null && pwd) || { echo "error: ../shared/data beside the repository is missing" >&2; exit 1; }
version="0.9.0-ci.$(date -u +%Y%m%d%H%M%S).$$"
work=$(mktemp -d "${TMPDIR:-/tmp}/mllora-package-test.XXXXXX")
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
cleanup() { rm -rf "$work" "$packages"/microsoft.ml.lora*/"$version"; }
trap cleanup EXIT
step() { echo "== package test: $*"; }

step "pack $version"
for project in src/Microsoft.ML.Lora src/Microsoft.ML.Lora.Plotting src/Microsoft.ML.Lora.Chat src/Microsoft.ML.Lora.Cli; do
  dotnet pack "$project" -c Release -o "$work/feed" -p:Version="$version" -nologo -v q
done
ls "$work/feed"

step "a new console app that references the package"
mkdir "$work/app"
cd "$work/app"
cat > nuget.config <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
XML
dotnet new console --framework net10.0 --name SpamApp --output . >/dev/null
dotnet add package Microsoft.ML.Lora --version "$version" >/dev/null
cp "$repo/tests/package/Program.cs" Program.cs
dotnet build -c Release -nologo -v q
dotnet run -c Release --no-build -- "$shared" "$work/run" | tee "$work/app.log"
grep -q '^predicted ' "$work/app.log" || { echo "error: the app printed no prediction" >&2; exit 1; }
grep -q "^untouched before first use: yes" "$work/app.log" || { echo "error: the library changed the process before its first use of TorchSharp" >&2; exit 1; }
grep -q "^runtime changes: .*GOMP_SPINCOUNT=10000" "$work/app.log" || { echo "error: the runtime settings were not applied at first use" >&2; exit 1; }
for library in libmllora_mkl_cpu_dispatch.so libtorchsharp_glibcxx_shim.so; do
  grep -q "^loaded $library: yes" "$work/app.log" || { echo "error: the package's $library was not loaded in the app" >&2; exit 1; }
done
if grep -rq "Microsoft.ML.Lora.Plotting\|ScottPlot\|CsvHelper\|Microsoft.Extensions.AI" obj/project.assets.json; then
  echo "error: the core package pulls plotting, CSV or AI-abstraction libraries" >&2; exit 1
fi

step "the same app without the native fix"
dotnet build -c Release -nologo -v q -p:MlLoraPatchTorchSharp=false -o "$work/unpatched"
libstdcxx=$( (/sbin/ldconfig -p 2>/dev/null || true) | awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}')
set +e
dotnet "$work/unpatched/SpamApp.dll" "$shared" "$work/run-unpatched" >"$work/unpatched.log" 2>&1
status=$?
set -e
if [ -n "$libstdcxx" ] && ! grep -q GLIBCXX_3.4.32 "$libstdcxx"; then
  if [ $status -eq 0 ] || ! grep -q "NativeBackendUnavailableException" "$work/unpatched.log" || ! grep -q "GLIBCXX_3.4.32" "$work/unpatched.log"; then
    echo "error: without the fix the app should fail with NativeBackendUnavailableException naming GLIBCXX_3.4.32:" >&2
    cat "$work/unpatched.log" >&2; exit 1
  fi
  grep -m1 "NativeBackendUnavailableException" "$work/unpatched.log"
else
  [ $status -eq 0 ] || { echo "error: the unpatched app failed on a libstdc++ that has GLIBCXX_3.4.32:" >&2; cat "$work/unpatched.log" >&2; exit 1; }
  echo "system libstdc++ has GLIBCXX_3.4.32: the unpatched app runs"
fi

step "the native backend is the app's choice: libtorch-cpu-* excluded"
mkdir "$work/app-nocpu" && cp nuget.config SpamApp.csproj Program.cs "$work/app-nocpu/"
excluded=""
for rid in linux-x64 win-x64 osx-arm64; do
  excluded+="<PackageReference Include=\"libtorch-cpu-$rid\" Version=\"2.10.0\" ExcludeAssets=\"all\" />"
done
sed -i "s|</Project>|<ItemGroup>$excluded</ItemGroup></Project>|" "$work/app-nocpu/SpamApp.csproj"
(cd "$work/app-nocpu" && dotnet build -c Release -nologo -v q -o "$work/nocpu" >/dev/null)
[ -f "$work/nocpu/runtimes/linux-x64/native/libLibTorchSharp.so" ] && [ ! -e "$work/nocpu/runtimes/linux-x64/native/libtorch_cpu.so" ] \
  || { echo "error: with libtorch-cpu excluded the output should hold TorchSharp's library and no CPU libtorch" >&2; exit 1; }
echo "no libtorch_cpu.so in the output; libLibTorchSharp.so patched: $(grep -c libtorchsharp_glibcxx_shim.so "$work/nocpu/runtimes/linux-x64/native/libLibTorchSharp.so")"

step "the mllora tool from the feed"
dotnet tool install Microsoft.ML.Lora.Cli --version "$version" --tool-path "$work/tool" --add-source "$work/feed" >/dev/null
"$work/tool/mllora" convert llama2c --checkpoint "$shared/models/stories260K/stories260K.bin" \
  --tokenizer "$shared/models/stories260K/tok512.bin" --out "$work/tool-model"
"$work/tool/mllora" generate --model "$work/tool-model" --prompt "Once upon a time" --max-new-tokens 16 | tee "$work/tool.log"
grep -q "there was a little girl named Lily" "$work/tool.log" || { echo "error: mllora generate did not continue the story as stories260K does" >&2; exit 1; }
step "dotnet build -o DIR"
cd "$repo"
dotnet build src/Microsoft.ML.Lora.Cli -c Release -nologo -v q -o "$work/cli-out" >/dev/null
dotnet "$work/cli-out/mllora.dll" generate --model "$work/tool-model" --prompt "Once upon a time" --max-new-tokens 8 >/dev/null
echo "mllora runs from the -o folder"
step "passed"
