using System.CommandLine;
using System.Globalization;
using Microsoft.ML.Lora.Benchmarks;
using Microsoft.ML.Lora.Checkpoints;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora bench score</c>: rows/s of batched Transform against PredictionEngine on labelled texts (by default
/// 1,000 SMS messages from the repository's shared data, with the converted stories260K model as the base).
/// </summary>
internal static class BenchScoreCommand
{
    private const string DefaultData = "datasets/sms-spam/SMSSpamCollection";
    private const string DefaultModel = "models/stories260K/stories260K.bin";

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"Base model: Hugging Face folder or llama2.c .bin (default: shared data's {DefaultModel})" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "llama2.c tokenizer .bin for a .bin model (default: tok512.bin beside it)" };
        var data = new Option<string?>("--data") { Description = $"Tab-separated 'label<TAB>text' file with a header; label spam/1/true is positive (default: shared data's {DefaultData})" };
        var rows = new Option<int>("--rows") { Description = "Rows to score", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch-size") { Description = "Rows per Transform batch", DefaultValueFactory = _ => 32 };
        var rounds = new Option<int>("--rounds") { Description = "Rounds (median counts)", DefaultValueFactory = _ => 3 };
        var preset = new Option<string?>("--preset") { Description = $"Time the batched forward of a model shape ({string.Join(", ", ModelPresets.Names)}) with a classification head instead, and report forward_mfu; token ids are drawn at the rows' token lengths under the GPT-2 tokenizer" };
        var precision = new Option<string>("--precision") { Description = "fp32 | bf16 (with --preset)", DefaultValueFactory = _ => "fp32" };
        var maxLength = new Option<int>("--max-length") { Description = "Longest row in tokens (with --preset)", DefaultValueFactory = _ => 128 };
        var threads = BenchCommand.Threads();
        var json = BenchCommand.JsonFlag();
        var command = new Command("score", "Classification rows/s: batched Transform against PredictionEngine (or, with --preset, the forward's MFU on a real model shape).")
            { model, tokenizer, data, rows, batch, rounds, preset, precision, maxLength, threads, json };
        command.SetAction(parse =>
        {
            if (parse.GetValue(preset) is { } named)
            {
                ModelPresets.Config(named);   // an unknown preset is named before any data is read
                BenchCommand.ParsePrecision(parse.GetValue(precision)!);
            }
            var texts = ReadRows(parse.GetValue(data) ?? SharedData(DefaultData), parse.GetValue(rows));
            if (parse.GetValue(preset) is { } shape)
            {
                return RunPreset(shape, texts, parse.GetValue(precision)!, new ScoringBenchmarkOptions
                {
                    ScoringBatchSize = parse.GetValue(batch),
                    Rounds = parse.GetValue(rounds),
                    Threads = parse.GetValue(threads),
                    MaxSequenceLength = parse.GetValue(maxLength),
                }, parse.GetValue(json));
            }
            var source = parse.GetValue(model) ?? SharedData(DefaultModel);
            var folder = Directory.Exists(source) ? source : ConvertLlama2c(source, parse.GetValue(tokenizer));
            try
            {
                var result = ScoringBenchmark.Run(folder, texts, new ScoringBenchmarkOptions
                {
                    ScoringBatchSize = parse.GetValue(batch),
                    Rounds = parse.GetValue(rounds),
                    Threads = parse.GetValue(threads),
                }, Console.Error.WriteLine);
                BenchCommand.Print(result, parse.GetValue(json), () => string.Create(CultureInfo.InvariantCulture,
                    $"{result.Rows} rows: Transform {result.RowsPerSecondBatched:F0} rows/s (batch {result.ScoringBatchSize}), " +
                    $"PredictionEngine {result.RowsPerSecondEngine:F0} rows/s: {result.Speedup:F1}× faster batched"));
            }
            finally
            {
                if (!ReferenceEquals(folder, source))
                {
                    Directory.Delete(folder, recursive: true);
                }
            }
            return 0;
        });
        return command;
    }

    private static int RunPreset(string preset, List<ScoringBenchmark.TextRow> texts, string precision, ScoringBenchmarkOptions options, bool json)
    {
        var dtype = BenchCommand.ParsePrecision(precision) ? TorchSharp.torch.ScalarType.BFloat16 : TorchSharp.torch.ScalarType.Float32;
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxSequenceLength, 1, "--max-length");
        var lengths = LengthTokenizer();
        var counts = texts.Select(t => lengths.Encode(t.Text).Count).ToList();
        var result = ForwardScoringBenchmark.Run(preset, counts, options, dtype, Console.Error.WriteLine);
        BenchCommand.Print(result, json, () => string.Create(CultureInfo.InvariantCulture,
            $"{result.Preset} ({result.Dtype}), {result.Rows} rows, {result.RealTokens} real tokens: {result.RowsPerSecond:F1} rows/s, " +
            $"forward {result.ForwardFlopsPerSecond / 1e9:F1} GFLOP/s = {100 * result.ForwardMfu:F0} % of the GEMM peak ({result.GemmFlopsPerSecond / 1e9:F1} GFLOP/s)"));
        return 0;
    }

    /// <summary>The GPT-2 tokenizer from the shared data, used only for row lengths (SmolLM2's BPE gives similar counts).</summary>
    private static Microsoft.ML.Lora.Tokenization.TextTokenizer LengthTokenizer() =>
        Microsoft.ML.Lora.Tokenization.TokenizerLoader.FromFolder(Path.GetDirectoryName(SharedData("tokenizers/gpt2/tokenizer.json"))!);

    /// <summary>The first <paramref name="count"/> rows of a 'label TAB text' file with a header.</summary>
    private static List<ScoringBenchmark.TextRow> ReadRows(string path, int count)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Data file not found: {path}", path);
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1, "--rows");
        var result = File.ReadLines(path).Skip(1)
            .Select((line, i) => (Parts: line.Split('\t', 2), Line: i + 2))
            .Select(r => r.Parts.Length == 2
                ? new ScoringBenchmark.TextRow { Label = r.Parts[0].Trim().ToLowerInvariant() is "spam" or "1" or "true", Text = r.Parts[1] }
                : throw new InvalidDataException($"{path}, line {r.Line}: expected 'label<TAB>text'."))
            .Take(count)
            .ToList();
        return result.Count > 0 ? result : throw new InvalidDataException($"{path} has no data rows.");
    }

    private static string ConvertLlama2c(string model, string? tokenizer)
    {
        if (!File.Exists(model))
        {
            throw new FileNotFoundException($"Model not found: {model} (give a Hugging Face folder or a llama2.c .bin).", model);
        }
        var folder = Path.Combine(Path.GetTempPath(), $"mllora-bench-{Guid.NewGuid():N}");
        Llama2cImporter.Convert(model, folder, tokenizer ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(model))!, "tok512.bin"));
        return folder;
    }

    /// <summary>A file under the repository's shared data folder (../shared/data from the repository root), found upward from here.</summary>
    private static string SharedData(string relative)
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "data", relative), Path.Combine(dir.FullName, "..", "shared", "data", relative) })
            {
                if (File.Exists(candidate))
                {
                    return Path.GetFullPath(candidate);
                }
            }
        }
        throw new FileNotFoundException($"No shared data folder with {relative} above {Directory.GetCurrentDirectory()}; pass the file explicitly.");
    }
}
