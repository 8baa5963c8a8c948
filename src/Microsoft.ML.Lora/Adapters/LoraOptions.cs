using System.Text.Json.Serialization;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>Which biases train with an adapter (PEFT <c>bias</c>). Biases are shared by all adapters of a model.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LoraBias>))]
public enum LoraBias
{
    /// <summary>No bias trains (PEFT "none").</summary>
    [JsonStringEnumMemberName("none")] None,

    /// <summary>Every bias of the model trains and is saved with the adapter (PEFT "all").</summary>
    [JsonStringEnumMemberName("all")] All,

    /// <summary>The biases of the adapted layers train and are saved (PEFT "lora_only").</summary>
    [JsonStringEnumMemberName("lora_only")] LoraOnly,
}

/// <summary>How a new adapter's A and B start (PEFT <c>init_lora_weights</c>).</summary>
public enum LoraInitialization
{
    /// <summary>A kaiming-uniform, B zero: the model starts equal to the base (PEFT <c>true</c>).</summary>
    Default,

    /// <summary>A ~ N(0, std 1/r), B zero (PEFT "gaussian").</summary>
    Gaussian,

    /// <summary>
    /// PiSSA: the top-r singular triplets of W go into B and A (scaled so scale·B·A is exactly that part);
    /// the frozen base keeps the residual, so the model starts equal to the base (PEFT "pissa").
    /// </summary>
    Pissa,

    /// <summary>OLoRA: B = Q_r, A = R_r of W = QR; the base keeps W − scale·B·A (PEFT "olora").</summary>
    Olora,

    /// <summary>
    /// Both A and B random; the base becomes W0 − scale·B0·A0, so the model still starts equal to the base
    /// (this library's "nonzero").
    /// </summary>
    NonZero,

    /// <summary>Both A and B random with no compensation: the model changes at once (PEFT <c>false</c>).</summary>
    Random,

    /// <summary>
    /// An initialisation this library cannot perform (PEFT's loftq, eva, corda, …): adapters saved with it
    /// import fine, new ones cannot be created with it.
    /// </summary>
    Other,
}

/// <summary>How <see cref="AdapterArithmetic.AddWeightedAdapter"/> combines adapters.</summary>
public enum AdapterCombination
{
    /// <summary>A = Σ sign·√|wᵢsᵢ|·Aᵢ, B = Σ √|wᵢsᵢ|·Bᵢ (PEFT "linear"; all ranks equal).</summary>
    Linear,

    /// <summary>A = [w₁s₁A₁; w₂s₂A₂; …], B = [B₁ B₂ …]: exactly Σ wᵢsᵢBᵢAᵢ at rank Σrᵢ (PEFT "cat").</summary>
    Concatenate,

    /// <summary>Σ wᵢsᵢBᵢAᵢ re-factorised at a chosen rank by SVD: B = U_k·S_k, A = V_kᵀ (PEFT "svd").</summary>
    Svd,
}
