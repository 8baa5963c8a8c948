namespace Microsoft.ML.Lora;

/// <summary>Facts about this build of Microsoft.ML.Lora.</summary>
public static class LoraPackageInfo
{
    /// <summary>The ML.NET version whose persistence format the model zips are written with.</summary>
    public const string VerifiedMlNetVersion = "5.0.1";
}
