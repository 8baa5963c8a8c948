using Microsoft.ML.Lora.IO;

namespace Microsoft.ML.Lora.Tests.Security;

/// <summary>What a save leaves behind when it succeeds, and when the writer fails half-way.</summary>
public sealed class AtomicOutputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void FailedFileWriteKeepsTheOldFileAndLeavesNoTemporary()
    {
        var path = Path.Combine(_dir.Path, "model.zip");
        File.WriteAllText(path, "old");
        Assert.Throws<IOException>(() => AtomicOutput.WriteFile(path, temp =>
        {
            File.WriteAllText(temp, "half");
            throw new IOException("disk full");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Equal(["model.zip"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
        AtomicOutput.WriteAllText(path, "new");
        Assert.Equal("new", File.ReadAllText(path));
        Assert.Equal(["model.zip"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FolderIsReplacedWholeAndKeepsTheUsersOtherFiles()
    {
        var folder = Path.Combine(_dir.Path, "adapter");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "adapter_config.json"), "old");
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "mine");
        AtomicOutput.WriteFolder(folder, temp => File.WriteAllText(Path.Combine(temp, "adapter_config.json"), "new"));
        Assert.Equal("new", File.ReadAllText(Path.Combine(folder, "adapter_config.json")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(folder, "notes.txt")));
        Assert.Equal(["adapter"], Directory.GetDirectories(_dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void FailedFolderWriteKeepsTheOldFolderAndLeavesNoTemporary()
    {
        var folder = Path.Combine(_dir.Path, "merged");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "old");
        Assert.Throws<InvalidDataException>(() => AtomicOutput.WriteFolder(folder, temp =>
        {
            File.WriteAllText(Path.Combine(temp, "config.json"), "half");
            throw new InvalidDataException("bad tokenizer");
        }));
        Assert.Equal("old", File.ReadAllText(Path.Combine(folder, "config.json")));
        Assert.Equal(["merged"], Directory.GetDirectories(_dir.Path).Select(Path.GetFileName));
        AtomicOutput.WriteFolder(Path.Combine(_dir.Path, "fresh"), temp => File.WriteAllText(Path.Combine(temp, "a"), "1"));
        Assert.Equal("1", File.ReadAllText(Path.Combine(_dir.Path, "fresh", "a")));
    }
}
