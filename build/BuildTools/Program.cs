// Build-time helpers used by the MSBuild targets in build/ (and, for ensure-torchsharp-loads, by the targets that the
// Microsoft.ML.Lora package brings into applications). Three commands:
//   publicize <in.dll> <out.dll>                 copy of a reference assembly whose internal members are public
//   compile-native <source.cpp> <out.so>         g++ -shared, skipped when the output is newer than the source
//   ensure-torchsharp-loads <dir> <shim.so>      patch every libLibTorchSharp.so below <dir> to load on a libstdc++
//                                                without GLIBCXX_3.4.32, with the shim beside it
// Each command is idempotent and writes only the output it is given.
using BuildTools;

return args switch
{
    ["publicize", var input, var output] => Publicizer.Run(input, output),
    ["compile-native", var source, var output] => NativeTools.Compile(source, output),
    ["ensure-torchsharp-loads", var outputDir, var shim] => TorchSharpLoadFix.Run(outputDir, shim),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: BuildTools publicize IN OUT | compile-native SOURCE_CPP OUT_SO | ensure-torchsharp-loads OUTPUT_DIR SHIM_SO");
    return 2;
}
