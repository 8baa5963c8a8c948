// The one place where Microsoft.ML.Lora reaches into ML.NET internals (see build/MlNetInternals.targets).
// The runtime honours this attribute by name: calls from this assembly into Microsoft.ML.Core's internal
// persistence API (ModelSaveContext, ModelLoadContext, LoadableClass, VersionInfo) are not access-checked.
// Microsoft.ML.Data: only to reach the host environment of ML.NET's trainer catalogs.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices;

/// <summary>Lets this assembly call internal members of the named assembly (honoured by the .NET runtime).</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute(string assemblyName) : Attribute
{
    /// <summary>The assembly whose internals may be used.</summary>
    public string AssemblyName { get; } = assemblyName;
}
