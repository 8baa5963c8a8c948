using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Models.Llama;
using Microsoft.ML.Lora.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Tests.Training;

/// <summary>Tiny seeded models and rows for training-loop tests.</summary>
internal static class LoopTestModels
{
    /// <summary>A tiny Llama (no dropout anywhere) with a LoRA adapter on every linear layer and a trainable 2-class head.</summary>
    public static LlamaForCausalLM Classifier(int seed = 3)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(TinyModels.LlamaConfig(64));
        model.AddClassificationHead(2);
        new LoraModel(model).AddAdapter("a", new LoraConfig { Rank = 4, Alpha = 8, TargetModules = [LoraConfig.AllLinear], ModulesToSave = ["score"] }, seed: 1);
        return model;
    }

    /// <summary>A tiny Llama language model with a LoRA adapter on every linear layer.</summary>
    public static LlamaForCausalLM LanguageModel(int seed = 4)
    {
        manual_seed(seed);
        var model = new LlamaForCausalLM(TinyModels.LlamaConfig(64));
        new LoraModel(model).AddAdapter("a", new LoraConfig { Rank = 4, Alpha = 8, TargetModules = [LoraConfig.AllLinear] }, seed: 1);
        return model;
    }

    /// <summary>Rows of one length with random tokens and 0/1 labels.</summary>
    public static List<TokenizedExample> EqualLengthRows(int count, int length = 12, int seed = 7)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count)
            .Select(_ => new TokenizedExample([.. Enumerable.Range(0, length).Select(_ => random.Next(1, 64))], Label: random.Next(2)))
            .ToList();
    }

    /// <summary>Copies of the trainable parameters, by name.</summary>
    public static Dictionary<string, float[]> Trainable(PretrainedModel model) =>
        model.named_parameters().Where(p => p.parameter.requires_grad)
            .ToDictionary(p => p.name, p => p.parameter.detach().cpu().to(ScalarType.Float32).data<float>().ToArray());

    /// <summary>Largest absolute difference between two snapshots of the same parameters.</summary>
    public static double MaxDifference(Dictionary<string, float[]> a, Dictionary<string, float[]> b)
    {
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        return a.Max(kv => kv.Value.Zip(b[kv.Key], (x, y) => Math.Abs((double)x - y)).Max());
    }

    /// <summary>Largest change of any trainable element between two snapshots.</summary>
    public static double MaxChange(Dictionary<string, float[]> before, Dictionary<string, float[]> after) => MaxDifference(before, after);
}

/// <summary>Wraps an objective, counting its forward passes (every Loss/Correct/Evaluate call runs one).</summary>
internal sealed class CountingObjective(TaskObjective inner) : TaskObjective
{
    public int ForwardPasses { get; private set; }

    public override bool NeedsLossMask => inner.NeedsLossMask;

    public override bool HasAccuracy => inner.HasAccuracy;

    public override double Weight(IReadOnlyList<TokenizedExample> rows) => inner.Weight(rows);

    public override Tensor Loss(PretrainedModel model, TrainingBatch batch)
    {
        ForwardPasses++;
        return inner.Loss(model, batch);
    }

    public override long Correct(PretrainedModel model, TrainingBatch batch)
    {
        ForwardPasses++;
        return inner.Correct(model, batch);
    }

    public override (Tensor Loss, long Correct) Evaluate(PretrainedModel model, TrainingBatch batch)
    {
        ForwardPasses++;
        return inner.Evaluate(model, batch);
    }
}
