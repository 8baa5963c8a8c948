using System.Buffers.Binary;
using System.Text;
using Microsoft.ML.Lora.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Checkpoints;

/// <summary>Malformed files must each raise <see cref="SafetensorsFormatException"/> naming the file and the problem.</summary>
public class SafetensorsValidationTests
{
    /// <summary>A file made of a length prefix, the given header text and <paramref name="dataBytes"/> bytes of data.</summary>
    private static byte[] Craft(string header, int dataBytes, ulong? declaredLength = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        return bytes;
    }

    private static SafetensorsFormatException Refused(byte[] bytes, string expectedProblem)
    {
        using var folder = new TempFolder();
        var path = folder.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var fromFile = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.Equal(path, fromFile.FilePath);
        Assert.Contains(path, fromFile.Message);
        Assert.Contains(expectedProblem, fromFile.Problem);
        var fromMemory = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Load(bytes, "image").Dispose());
        Assert.Equal("image", fromMemory.FilePath);
        Assert.Equal(fromFile.Problem.Replace(path, "image"), fromMemory.Problem);
        return fromFile;
    }

    private const string ValidTensor = "\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}";

    [Fact]
    public void TheCraftingHelperMakesAValidFile()
    {
        using var file = SafetensorsFile.Load(Craft("{" + ValidTensor + "}", 24));
        Assert.Equal(new long[] { 2, 3 }, file.Entry("t").Shape);
    }

    [Fact]
    public void E001_TruncatedSafetensorsIsRefused()
    {
        Refused([1, 0, 0], "truncated");
        Refused([], "truncated");
        var whole = Craft("{" + ValidTensor + "}", 24);
        Refused(whole[..^4], "outside the 20-byte data section");
    }

    [Fact]
    public void E002_SafetensorsHeaderLengthBeyondTheFileOrTheLimitIsRefused()
    {
        Refused(Craft("{" + ValidTensor + "}", 24, declaredLength: 10_000), "goes beyond the end of the file");
        Refused(Craft("{}", 0, declaredLength: ulong.MaxValue), "exceeds the 100000000-byte limit");
        Refused(Craft("{}", 0, declaredLength: 200_000_000), "exceeds the 100000000-byte limit");
    }

    [Theory]
    [InlineData("{\"t\":{\"dtype\":\"F32\",")]
    [InlineData("not json at all")]
    [InlineData("{\"t\":1}} trailing")]
    public void E003_SafetensorsHeaderThatIsNotJsonIsRefused(string header) => Refused(Craft(header, 0), "not valid JSON");

    [Fact]
    public void InvalidUtf8InTheHeaderIsRefused()
    {
        var bytes = Craft("{\"t\u00e9\":{}}", 0);
        bytes[11] = 0xFF;   // breaks the two-byte sequence of 'é'
        Refused(bytes, "not valid JSON");
    }

    [Theory]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{\"t\":[1,2]}", "must be described by an object")]
    [InlineData("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "has no dtype")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "has no shape")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", "has no data_offsets")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "not a non-negative integer")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "not a non-negative integer")]
    [InlineData("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "exactly two data_offsets")]
    [InlineData("{\"__metadata__\":{\"format\":1}}", "must be a string")]
    [InlineData("{\"__metadata__\":[]}", "__metadata__ must be an object")]
    public void StructurallyWrongHeadersAreRefused(string header, string problem) => Refused(Craft(header, 64), problem);

    [Theory]
    [InlineData("F8_E4M3")]
    [InlineData("Q4")]
    [InlineData("f32")]
    public void E005_SafetensorsUnknownDtypeIsRefused(string dtype) =>
        Refused(Craft($"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":[4],\"data_offsets\":[0,4]}}}}", 4), $"unknown or unsupported dtype '{dtype}'");

    [Theory]
    [InlineData("[0,28]", "outside the 24-byte data section")]
    [InlineData("[8,4]", "outside the 24-byte data section")]
    [InlineData("[0,9223372036854775807]", "outside the 24-byte data section")]
    public void E004_SafetensorsOffsetsOutsideTheBodyAreRefused(string offsets, string problem) =>
        Refused(Craft($"{{\"t\":{{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":{offsets}}}}}", 24), problem);

    [Fact]
    public void OverlappingTensorsAreRefused()
    {
        var header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[12,28]}}";
        var error = Refused(Craft(header, 32), "overlap");
        Assert.Contains("'a'", error.Problem);
        Assert.Contains("'b'", error.Problem);
    }

    [Theory]
    [InlineData("F32", "[2,3]", "[0,20]", "needs 24 bytes but its data_offsets [0, 20] span 20")]
    [InlineData("BF16", "[2,3]", "[0,24]", "needs 12 bytes")]
    [InlineData("F64", "[4294967296,4294967296]", "[0,8]", "too large to exist")]
    public void ShapeTimesDtypeDifferentFromTheByteLengthIsRefused(string dtype, string shape, string offsets, string problem) =>
        Refused(Craft($"{{\"t\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":{offsets}}}}}", 24), problem);

    [Fact]
    public void DuplicateTensorNamesAreRefused() =>
        Refused(Craft("{" + ValidTensor + "," + ValidTensor + "}", 24), "names 't' twice");

    [Fact]
    public void RandomCorruptionIsEitherReadOrRefusedNeverACrash()
    {
        using var scope = NewDisposeScope();
        var valid = SafetensorsWriter.ToBytes(new Dictionary<string, Tensor>
        {
            ["a"] = randn(3, 4), ["b"] = ones([5], ScalarType.Int16), ["c"] = zeros([2, 2], ScalarType.BFloat16),
        });
        var random = new Random(7);
        int refused = 0;
        for (int trial = 0; trial < 2000; trial++)
        {
            var bytes = (byte[])valid.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                // Mostly hit the prefix and header, where corruption changes the structure.
                int at = random.Next(4) == 0 ? random.Next(bytes.Length) : random.Next(Math.Min(bytes.Length, 8 + 200));
                bytes[at] = (byte)random.Next(256);
            }
            var cut = random.Next(10) == 0 ? bytes[..random.Next(bytes.Length)] : bytes;
            try
            {
                using var file = SafetensorsFile.Load(cut);
                foreach (var t in file.ReadAll().Values)
                {
                    t.Dispose();
                }
            }
            catch (SafetensorsFormatException)
            {
                refused++;
            }
        }
        Assert.InRange(refused, 100, 2000);
    }

    [Fact]
    public void E006_MissingShardIsRefusedNamingTheIndexAndTheShard()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        var files = SafetensorsShardWriter.Write(folder.Path, new Dictionary<string, Tensor> { ["a"] = ones(64), ["b"] = ones(64) }, maxShardBytes: 256);
        File.Delete(files[1]);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(folder.Path));
        Assert.Equal(folder.File(SafetensorsCheckpoint.IndexFileName), error.FilePath);
        Assert.Contains("shard 'model-00002-of-00002.safetensors'", error.Problem);
        Assert.Contains("missing", error.Problem);
    }

    [Theory]
    [InlineData("{\"weight_map\":{\"a\":\"../elsewhere.safetensors\"}}", "not a shard file name")]
    [InlineData("{\"weight_map\":{\"a\":\"/etc/passwd\"}}", "not a shard file name")]
    [InlineData("{\"weight_map\":{\"a\":3}}", "not a shard file name")]
    [InlineData("{\"metadata\":{}}", "no weight_map")]
    [InlineData("{\"weight_map\":", "not valid JSON")]
    [InlineData("{\"weight_map\":{\"zzz\":\"model.safetensors\"}}", "does not hold it")]
    public void E007_MalformedShardIndexIsRefused(string index, string problem)
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        SafetensorsWriter.Write(folder.File("model.safetensors"), new Dictionary<string, Tensor> { ["a"] = ones(4) });
        File.WriteAllText(folder.File(SafetensorsCheckpoint.IndexFileName), index);
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(folder.Path));
        Assert.Contains(problem, error.Problem);
        Assert.Equal(folder.File(SafetensorsCheckpoint.IndexFileName), error.FilePath);
    }

    [Fact]
    public void E008_PickleOnlyFolderIsRefusedWithConversionAdvice()
    {
        using var folder = new TempFolder();
        // A pickle that would run a command if unpickled: it must never be opened at all.
        File.WriteAllBytes(folder.File("pytorch_model.bin"), Encoding.ASCII.GetBytes("cos\nsystem\n(S'echo pwned'\ntR."));
        File.WriteAllText(folder.File("config.json"), "{}");
        var error = Assert.Throws<UnsupportedCheckpointFormatException>(() => SafetensorsCheckpoint.Open(folder.Path));
        Assert.Equal(["pytorch_model.bin"], error.PickleFiles);
        Assert.Contains("only safetensors", error.Message);
        Assert.Contains("save_pretrained('OUT', safe_serialization=True)", error.Message);
        Assert.Contains(folder.Path, error.Message);
    }

    [Fact]
    public void E009_FolderWithoutWeightsIsRefused()
    {
        using var scope = NewDisposeScope();
        using var folder = new TempFolder();
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(folder.Path));
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(folder.File("absent")));
        SafetensorsWriter.Write(folder.File("one.safetensors"), new Dictionary<string, Tensor> { ["a"] = ones(1) });
        using (var lone = SafetensorsCheckpoint.Open(folder.Path))
        {
            Assert.True(lone.Contains("a"));
        }
        SafetensorsWriter.Write(folder.File("two.safetensors"), new Dictionary<string, Tensor> { ["b"] = ones(1) });
        var error = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(folder.Path));
        Assert.Contains("several safetensors files", error.Problem);
    }
}
