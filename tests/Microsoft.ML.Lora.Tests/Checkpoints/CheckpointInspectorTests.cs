using System.Text;
using System.Text.Json.Nodes;
using Microsoft.ML.Lora.Checkpoints;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

public class CheckpointInspectorTests
{
    [Fact]
    public void HfModelFolderReportsArchitectureParametersAndTensors()
    {
        var report = CheckpointInspector.Inspect(SharedData.PathOf("models/tiny-random-gpt2"));
        Assert.Equal("hf-model", report.Format);
        Assert.Equal(("gpt2", "GPT2LMHeadModel"), (report.ModelType, report.Architecture));
        Assert.Equal(64, report.Tensors.Count);
        Assert.Equal(111968, report.ParameterCount);   // summed from the header with Python
        Assert.Equal(4 * 111968, report.TotalBytes);
        Assert.Equal([new DtypeSummary("F32", 64, 111968, 4 * 111968)], report.Dtypes);
        Assert.Equal("32", report.Details["Width"]);
        Assert.Equal("5", report.Details["Layers"]);

        var text = report.ToText(includeTensors: true);
        Assert.Contains("111,968 (111.97K)", text);
        Assert.Matches(@"transformer\.h\.0\.attn\.c_attn\.weight\s+F32\s+\[32, 96\]", text);
        Assert.DoesNotContain("c_attn.weight", report.ToText(includeTensors: false));

        var json = JsonNode.Parse(report.ToJson(includeTensors: true))!;
        Assert.Equal(111968, json["parameter_count"]!.GetValue<long>());
        Assert.Equal("gpt2", json["model_type"]!.GetValue<string>());
        Assert.Equal(64, json["tensors"]!.AsArray().Count);
        Assert.Equal(new[] { 32L, 96L }, json["tensors"]!.AsArray().First(t => t!["name"]!.GetValue<string>() == "transformer.h.0.attn.c_attn.weight")!["shape"]!.AsArray().Select(n => n!.GetValue<long>()));
        Assert.Null(JsonNode.Parse(report.ToJson(includeTensors: false))!["tensors"]);
    }

    [Fact]
    public void PeftAdapterFolderReportsRankTargetsAndTensors()
    {
        var report = CheckpointInspector.Inspect(SharedData.PathOf("adapters/peft-gpt2-emotion"));
        Assert.Equal("peft-adapter", report.Format);
        Assert.Equal(25, report.Tensors.Count);
        Assert.Equal(299520, report.ParameterCount);
        Assert.Equal(("gpt2", "SEQ_CLS", "8", "8", "c_attn"),
            (report.Details["Base model"], report.Details["Task"], report.Details["Rank"], report.Details["Alpha"], report.Details["Targets"]));
        Assert.Equal("pt", report.Details["Metadata format"]);
    }

    [Fact]
    public void Llama2cCheckpointReportsTheTensorsItConvertsTo()
    {
        var checkpoint = SharedData.PathOf("models/stories260K/stories260K.bin");
        var report = CheckpointInspector.Inspect(checkpoint);
        Assert.Equal("llama2c", report.Format);
        Assert.Equal(47, report.Tensors.Count);
        // 264,128 floats after the header, less the two RoPE tables of 512 × 4 (see shared/data/README.md).
        Assert.Equal(264128 - 4096, report.ParameterCount);

        using var folder = new TempFolder();
        Llama2cImporter.Convert(checkpoint, folder.Path);
        var converted = CheckpointInspector.Inspect(folder.Path);
        Assert.Equal(converted.Tensors, report.Tensors, (a, b) => a.Name == b.Name && a.Shape.SequenceEqual(b.Shape) && a.Dtype == b.Dtype);
        Assert.Equal(("llama", "LlamaForCausalLM"), (converted.ModelType, converted.Architecture));
        Assert.Equal(report.Details["Heads"], converted.Details["Heads"]);
    }

    [Fact]
    public void SingleFilesAndIndexesCanBeInspected()
    {
        var file = SharedData.PathOf("adapters/peft-distilbert-imdb/adapter_model.safetensors");
        var report = CheckpointInspector.Inspect(file);
        Assert.Equal("safetensors", report.Format);
        Assert.Equal([file], report.Files);
        Assert.Equal(28, report.Tensors.Count);
    }

    [Fact]
    public void PicklesAndMissingPathsAreRefused()
    {
        using var folder = new TempFolder();
        var pickle = folder.File("pytorch_model.bin");
        File.WriteAllBytes(pickle, Encoding.ASCII.GetBytes("PK\u0003\u0004 a torch.save zip"));
        Assert.Throws<UnsupportedCheckpointFormatException>(() => CheckpointInspector.Inspect(pickle));
        Assert.Throws<UnsupportedCheckpointFormatException>(() => CheckpointInspector.Inspect(folder.Path));
        File.WriteAllBytes(folder.File("model.pt"), [0x80, 0x02]);
        Assert.Throws<UnsupportedCheckpointFormatException>(() => CheckpointInspector.Inspect(folder.File("model.pt")));
        Assert.Throws<FileNotFoundException>(() => CheckpointInspector.Inspect(folder.File("absent")));
    }
}
