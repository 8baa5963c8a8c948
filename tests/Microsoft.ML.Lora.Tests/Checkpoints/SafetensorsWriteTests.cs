using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.ML.Lora.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

public class SafetensorsWriteTests
{
    /// <summary>One tensor of every supported dtype with random contents (odd sizes, so alignment matters).</summary>
    private static Dictionary<string, Tensor> EveryDtype()
    {
        var g = new Generator(1234);
        var floats = randn([3, 5, 7], generator: g);
        return new Dictionary<string, Tensor>
        {
            ["f64"] = randn([7, 3], ScalarType.Float64, generator: g),
            ["f32"] = floats,
            ["f16"] = randn([5, 3], generator: g).to(ScalarType.Float16),
            ["bf16"] = randn([9], generator: g).to(ScalarType.BFloat16),
            ["i64"] = randint(long.MinValue / 2, long.MaxValue / 2, [11], ScalarType.Int64, generator: g),
            ["i32"] = randint(int.MinValue, int.MaxValue, [2, 3], ScalarType.Int32, generator: g),
            ["i16"] = randint(short.MinValue, short.MaxValue, [13], ScalarType.Int16, generator: g),
            ["i8"] = randint(-128, 127, [7], ScalarType.Int8, generator: g),
            ["u8"] = randint(0, 255, [3, 3], ScalarType.Byte, generator: g),
            ["bool"] = randint(0, 2, [5], ScalarType.Int64, generator: g).to(ScalarType.Bool),
            ["scalar"] = tensor(3.5f),
            ["empty"] = zeros([0, 4]),
            ["strided"] = floats.transpose(0, 2),   // not contiguous: written in logical (row-major) order
        };
    }

    [Fact]
    public void EveryDtypeRoundTripsBitExactThroughFileAndMemory()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var tensors = EveryDtype();
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "a+b <c>" };
        var path = folder.File("all.safetensors");
        SafetensorsWriter.Write(path, tensors, metadata);
        using var fromFile = SafetensorsFile.Open(path);
        using var fromBytes = SafetensorsFile.Load(SafetensorsWriter.ToBytes(tensors, metadata));
        foreach (var file in new[] { fromFile, fromBytes })
        {
            Assert.Equal(metadata, file.Metadata);
            Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), file.Entries.Select(e => e.Name));
            foreach (var (name, expected) in tensors)
            {
                TensorAssert.BitExact(expected, file.ReadTensor(name), name);
            }
        }
        Assert.Equal(File.ReadAllBytes(path), SafetensorsWriter.ToBytes(tensors, metadata));
    }

    [Theory]
    [InlineData("models/tiny-random-gpt2/model.safetensors")]
    [InlineData("adapters/peft-gpt2-emotion/adapter_model.safetensors")]
    [InlineData("adapters/peft-distilbert-imdb/adapter_model.safetensors")]
    public void RewritingAReferenceWrittenFileReproducesItByteForByte(string relativePath)
    {
        // These files were written by Hugging Face's safetensors library: same layout, same header bytes.
        var original = File.ReadAllBytes(SharedData.PathOf(relativePath));
        using var file = SafetensorsFile.Load(original);
        using var scope = NewDisposeScope();
        Assert.Equal(original, SafetensorsWriter.ToBytes(file.ReadAll(), file.Metadata));
    }

    [Fact]
    public void OutputIsDeterministicAlignedAndFollowsTheReferenceLayout()
    {
        using var scope = NewDisposeScope();
        var tensors = EveryDtype();
        var bytes = SafetensorsWriter.ToBytes(tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var reversed = SafetensorsWriter.ToBytes(tensors.Reverse(), new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(bytes, reversed);

        // Decode the header independently of the reader.
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + headerLength) % 8);
        var headerText = System.Text.Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.Equal(headerText.TrimEnd(' ').Length, headerText.TrimEnd().Length);
        using var header = JsonDocument.Parse(headerText);
        var keys = header.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal("__metadata__", keys[0]);
        long previousEnd = 0;
        foreach (var property in header.RootElement.EnumerateObject().Skip(1))
        {
            var offsets = property.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            SafetensorsDtype.TryGetScalarType(property.Value.GetProperty("dtype").GetString()!, out var type);
            Assert.Equal(previousEnd, offsets[0]);                              // packed, no gaps
            Assert.Equal(0, offsets[0] % SafetensorsDtype.ElementSize(type));   // each tensor aligned to its element size
            previousEnd = offsets[1];
        }
        Assert.Equal(bytes.LongLength - 8 - headerLength, previousEnd);
    }

    [Fact]
    public void ShardedAndSingleFileFormsLoadToIdenticalTensors()
    {
        using var scope = NewDisposeScope();
        using var single = new TempFolder();
        using var sharded = new TempFolder();
        var tensors = EveryDtype();
        Assert.Single(SafetensorsShardWriter.Write(single.Path, tensors));
        var shardFiles = SafetensorsShardWriter.Write(sharded.Path, tensors, maxShardBytes: 256);
        Assert.True(shardFiles.Count > 3, $"expected several shards, got {shardFiles.Count}");
        Assert.EndsWith(SafetensorsCheckpoint.IndexFileName, shardFiles[^1]);
        Assert.Contains(shardFiles, f => Path.GetFileName(f) == $"model-00001-of-{shardFiles.Count - 1:D5}.safetensors");

        using var a = SafetensorsCheckpoint.Open(single.Path);
        using var b = SafetensorsCheckpoint.Open(sharded.Path);
        Assert.Single(a.Files);
        Assert.Equal(shardFiles.Count - 1, b.Files.Count);
        Assert.Equal(a.Entries.Select(e => (e.Name, e.Dtype, string.Join(",", e.Shape))), b.Entries.Select(e => (e.Name, e.Dtype, string.Join(",", e.Shape))));
        var fromSingle = a.ReadAll();
        var fromShards = b.ReadAll();
        foreach (var (name, expected) in fromSingle)
        {
            TensorAssert.BitExact(expected, fromShards[name], name);
        }
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(sharded.Path, SafetensorsCheckpoint.IndexFileName)));
        Assert.Equal(a.TotalBytes, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
    }

    [Fact]
    public void RewritingInTheOtherFormRemovesStaleWeightFiles()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var tensors = EveryDtype();
        SafetensorsShardWriter.Write(folder.Path, tensors, maxShardBytes: 256);
        SafetensorsShardWriter.Write(folder.Path, tensors);
        Assert.Equal([SafetensorsCheckpoint.SingleFileName], Directory.GetFiles(folder.Path).Select(Path.GetFileName));
    }
}
