using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Runtime;

namespace Microsoft.ML.Lora.Tests.Performance;

public class LoraRuntimeTests
{
    [Fact]
    public void SettingsAreAppliedAtFirstUseAndReported()
    {
        LoraRuntime.Start();
        Assert.True(LoraRuntime.IsStarted);
        Assert.Contains(LoraRuntime.Changes, c => c.StartsWith("torch intra-op threads=", StringComparison.Ordinal));
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null
            && Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is null)
        {
            // libgomp reads the native environment: the library set it there, before libtorch loaded.
            Assert.Equal("10000", OpenMpWaitPolicy.NativeValue("GOMP_SPINCOUNT"));
            Assert.Contains("GOMP_SPINCOUNT=10000", LoraRuntime.Changes);
        }
        Assert.Equal(MklCpuDispatch.Applied, LoraRuntime.Changes.Any(c => c.Contains(MklCpuDispatch.LibraryFileName, StringComparison.Ordinal)));
    }

    [Fact]
    public void ChangingSettingsAfterStartIsATypedErrorThatSaysWhatWasApplied()
    {
        LoraRuntime.Start();
        var error = Assert.Throws<LoraRuntimeStartedException>(() => new MLContext(1).ConfigureLoraRuntime(s => s with { OpenMpSpinCount = null }));
        Assert.Contains("before the first model load or Fit", error.Message, StringComparison.Ordinal);
        Assert.Equal(LoraRuntime.Changes, error.Applied);
        Assert.Equal(10_000, LoraRuntime.Settings.OpenMpSpinCount);
    }

    [Theory]
    [InlineData(-1, null)]
    [InlineData(null, 0)]
    public void InvalidSettingsNameTheSetting(int? spin, int? threads)
    {
        var settings = new LoraRuntimeSettings { OpenMpSpinCount = spin, IntraOpThreads = threads };
        var error = Assert.Throws<ArgumentOutOfRangeException>(settings.Validate);
        Assert.Equal(spin is not null ? nameof(LoraRuntimeSettings.OpenMpSpinCount) : nameof(LoraRuntimeSettings.IntraOpThreads), error.ParamName);
    }
}
