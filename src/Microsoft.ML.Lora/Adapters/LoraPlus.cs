using TorchSharp.Modules;

namespace Microsoft.ML.Lora.Adapters;

/// <summary>
/// LoRA+ (Hayou et al. 2024, PEFT's create_loraplus_optimizer): B learns <c>ratio</c> times faster than A.
/// Groups the trainable parameters for TorchSharp's AdamW.
/// </summary>
public static class LoraPlus
{
    /// <summary>
    /// AdamW parameter groups over the trainable parameters: A factors and other matrices at
    /// <paramref name="lr"/>; B factors and 1-D parameters (DoRA magnitudes, biases) at lr × ratio, biases
    /// without weight decay; embedding factors at <paramref name="embeddingLr"/>. Empty groups are left out.
    /// Pass the result to <c>torch.optim.AdamW(groups)</c>.
    /// </summary>
    public static IReadOnlyList<AdamW.ParamGroup> LoraParameterGroups(LoraModel model, double lr, double loraPlusRatio = 16, double weightDecay = 0, double embeddingLr = 1e-6)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(lr > 0) || !(loraPlusRatio > 0) || weightDecay < 0 || !(embeddingLr > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(lr), $"lr ({lr}), loraPlusRatio ({loraPlusRatio}) and embeddingLr ({embeddingLr}) must be positive and weightDecay ({weightDecay}) non-negative.");
        }
        var roles = new Dictionary<IntPtr, LoraParameterRole>();
        foreach (var (_, layer) in model.LoraLayers())
        {
            foreach (var adapter in model.Adapters.Keys)
            {
                foreach (var (role, parameter) in layer.AdapterParameters(adapter))
                {
                    roles[parameter.Handle] = role;
                }
            }
        }
        var groupA = new List<Parameter>();
        var groupB = new List<Parameter>();
        var groupBNoDecay = new List<Parameter>();
        var embedding = new List<Parameter>();
        foreach (var (name, parameter) in model.Model.named_parameters())
        {
            if (!parameter.requires_grad)
            {
                continue;
            }
            var role = roles.TryGetValue(parameter.Handle, out var r) ? r : (LoraParameterRole?)null;
            bool isBias = name.EndsWith("bias", StringComparison.Ordinal);
            if (role is LoraParameterRole.EmbeddingA or LoraParameterRole.EmbeddingB)
            {
                embedding.Add(parameter);
            }
            else if (role == LoraParameterRole.B || parameter.dim() == 1)
            {
                (isBias ? groupBNoDecay : groupB).Add(parameter);
            }
            else
            {
                groupA.Add(parameter);
            }
        }
        var groups = new List<AdamW.ParamGroup>();
        AddGroup(groups, groupA, lr, weightDecay);
        AddGroup(groups, groupB, lr * loraPlusRatio, weightDecay);
        AddGroup(groups, groupBNoDecay, lr * loraPlusRatio, 0);
        AddGroup(groups, embedding, embeddingLr, weightDecay);
        return groups;
    }

    private static void AddGroup(List<AdamW.ParamGroup> groups, List<Parameter> parameters, double lr, double weightDecay)
    {
        if (parameters.Count > 0)
        {
            groups.Add(new AdamW.ParamGroup(parameters, lr: lr, weight_decay: weightDecay));
        }
    }
}
