// Build-time helpers used by the MSBuild targets in build/. Three commands:
//   publicize <in.dll> <out.dll>        copy of a reference assembly whose internal members are public
//   ensure-torchsharp-loads <dir> <shim.cpp> <cache>  make TorchSharp 0.107's native library in <dir>
//                                       load on a libstdc++ without GLIBCXX_3.4.32 (no-op where not needed)
//   mkl-cpu-dispatch <dir> <source.cpp> <cache>       put the MKL CPU-dispatch library beside TorchSharp in <dir>
// Each command is idempotent and writes only the output it is given.
using BuildTools;

return args switch
{
    ["publicize", var input, var output] => Publicizer.Run(input, output),
    ["ensure-torchsharp-loads", var outputDir, var shimSource, var cacheDir] => TorchSharpLoadFix.Run(outputDir, shimSource, cacheDir),
    ["mkl-cpu-dispatch", var outputDir, var source, var cacheDir] => MklCpuDispatchLibrary.Run(outputDir, source, cacheDir),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: BuildTools publicize IN OUT | ensure-torchsharp-loads OUTPUT_DIR SHIM_CPP CACHE_DIR | mkl-cpu-dispatch OUTPUT_DIR SOURCE_CPP CACHE_DIR");
    return 2;
}
