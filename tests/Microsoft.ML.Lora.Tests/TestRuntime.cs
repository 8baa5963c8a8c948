using System.Runtime.CompilerServices;
using Microsoft.ML.Lora.Runtime;

namespace Microsoft.ML.Lora.Tests;

/// <summary>
/// Many tests call TorchSharp directly before any library entry point; an application that does so must call
/// <see cref="LoraRuntime.Start"/> first (README), and the test host does the same so that libtorch loads with the
/// library's runtime settings (the MKL dispatch library first).
/// </summary>
internal static class TestRuntime
{
#pragma warning disable CA2255 // The test host's own start-up, not a library's.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Start() => LoraRuntime.Start();
}
