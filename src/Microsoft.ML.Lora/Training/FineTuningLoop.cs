using Microsoft.ML.Lora.Adapters;
using Microsoft.ML.Lora.Models;
using Microsoft.ML.Lora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Training;

/// <summary>
/// The training loop: seeded shuffling with length bucketing, gradient accumulation, AdamW with LoRA+
/// parameter groups, warm-up/decay schedule, gradient clipping, per-epoch validation with early stopping
/// (the best epoch's trainable weights are restored), cancellation checked before every step, and
/// periodic checkpoints through <see cref="ICheckpointSink"/>.
/// </summary>
public sealed class FineTuningLoop(PretrainedModel model, TaskObjective objective, FineTuningSettings settings, int padId, Device device)
{
    /// <summary>Called with each progress report (every optimizer step, and after validation).</summary>
    public Action<FineTuningProgress>? Progress { get; init; }

    /// <summary>Called before every step; throws (e.g. OperationCanceledException) to stop.</summary>
    public Action? ThrowIfCancelled { get; init; }

    /// <summary>Where periodic checkpoints go (null: none).</summary>
    public ICheckpointSink? Checkpoints { get; init; }

    /// <summary>Optimizer steps between checkpoints.</summary>
    public long CheckpointInterval { get; init; } = 100;

    private long _skippedSteps;
    private long? _lastCheckpointStep;

    /// <summary>Trains on <paramref name="train"/>, validating on <paramref name="valid"/> after each epoch.</summary>
    public FineTuningResult Run(IReadOnlyList<TokenizedExample> train, IReadOnlyList<TokenizedExample>? valid)
    {
        settings.Validate();
        _skippedSteps = 0;
        _lastCheckpointStep = null;
        var trainable = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        if (trainable.Count == 0)
        {
            throw new InvalidOperationException("The model has no trainable parameters: attach an adapter or a trainable head first.");
        }
        long totalSteps = PlannedSteps(train.Count, settings);
        var schedule = new LearningRateSchedule(settings.Schedule, (long)(settings.WarmupRatio * totalSteps), totalSteps);
        using var optimizer = CreateOptimizer(trainable);
        bool checkpointingBefore = model.GradientCheckpointing;
        model.GradientCheckpointing = checkpointingBefore || (settings.GradientCheckpointing && model.SupportsGradientCheckpointing);
        if (model.GradientCheckpointing)
        {
            NativeAllocator.PreferReturningFreedMemory();
        }
        string runKey = RunKey(train.Count, trainable);
        var resumed = Checkpoints?.TryResume(model, optimizer);
        if (resumed?.RunKey is { } written && written != runKey)
        {
            throw new TrainingCheckpointMismatchException(resumed.Step, written, runKey);
        }
        _lastCheckpointStep = resumed?.Step;
        var state = (resumed ?? new TrainingState()) with { RunKey = runKey };

        double? bestLoss = null, bestAccuracy = null;
        Dictionary<string, Tensor>? bestWeights = null;
        int epochsWithoutImprovement = 0;
        double lastLoss = double.NaN;
        bool stoppedEarly = false;
        try
        {
            for (int epoch = state.Epoch; epoch < settings.Epochs && state.Step < totalSteps; epoch++)
            {
                model.train();
                var batches = BatchOrder(train, epoch);
                lastLoss = RunEpoch(train, batches, epoch, state, totalSteps, schedule, optimizer);
                state = state with { Epoch = epoch + 1, BatchInEpoch = 0 };
                if (valid is { Count: > 0 })
                {
                    var (vLoss, vAcc) = Validate(valid);
                    Progress?.Invoke(new FineTuningProgress(epoch + 1, state.Step, totalSteps, lastLoss, 0, vLoss, vAcc));
                    bool improved = settings.EarlyStoppingMetric == "accuracy"
                        ? bestAccuracy is null || vAcc > bestAccuracy
                        : bestLoss is null || vLoss < bestLoss;
                    bestLoss = bestLoss is null ? vLoss : Math.Min(bestLoss.Value, vLoss);
                    bestAccuracy = vAcc is null ? null : bestAccuracy is null ? vAcc : Math.Max(bestAccuracy.Value, vAcc.Value);
                    if (improved)
                    {
                        epochsWithoutImprovement = 0;
                        DisposeAll(bestWeights);
                        bestWeights = Snapshot(trainable);
                    }
                    else if (settings.EarlyStoppingPatience is { } patience && ++epochsWithoutImprovement >= patience)
                    {
                        stoppedEarly = true;
                        break;
                    }
                }
            }
            if (bestWeights is not null)
            {
                Restore(trainable, bestWeights);
            }
        }
        finally
        {
            DisposeAll(bestWeights);
            model.GradientCheckpointing = checkpointingBefore;
            model.eval();
        }
        return new FineTuningResult(state.Step, state.Epoch, lastLoss, bestLoss, bestAccuracy, stoppedEarly) { SkippedSteps = _skippedSteps };
    }

    /// <summary>
    /// Optimizer steps a run over <paramref name="examples"/> rows takes: every epoch runs in full, stepping once per
    /// group of <see cref="FineTuningSettings.GradientAccumulationSteps"/> batches (a last, partial group steps too),
    /// so ⌈batches / accumulation⌉ × epochs, capped at <see cref="FineTuningSettings.MaxSteps"/>.
    /// </summary>
    public static long PlannedSteps(int examples, FineTuningSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        long batchesPerEpoch = (examples + (long)settings.BatchSize - 1) / settings.BatchSize;
        long stepsPerEpoch = Math.Max(1, (batchesPerEpoch + settings.GradientAccumulationSteps - 1) / settings.GradientAccumulationSteps);
        return Math.Min(settings.MaxSteps ?? long.MaxValue, stepsPerEpoch * settings.Epochs);
    }

    private double RunEpoch(IReadOnlyList<TokenizedExample> train, List<int[]> batches, int epoch, TrainingState state,
        long totalSteps, LearningRateSchedule schedule, FusedAdamW optimizer)
    {
        double lastLoss = double.NaN;
        long tokens = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (int first = state.BatchInEpoch; first < batches.Count && state.Step < totalSteps;)
        {
            int end = Math.Min(first + settings.GradientAccumulationSteps, batches.Count);
            var group = batches[first..end].Select(b => (IReadOnlyList<TokenizedExample>)b.Select(j => train[j]).ToList()).ToList();
            // Each batch's mean loss counts by what it holds (rows, or loss tokens for causal LM), so a group, full or
            // partial, computes the mean over all its rows (tokens) — the loss of one batch holding them all.
            var weights = group.Select(objective.Weight).ToArray();
            double totalWeight = weights.Sum();
            double groupLoss = 0;
            for (int k = 0; k < group.Count; k++)
            {
                ThrowIfCancelled?.Invoke();
                using var scope = NewDisposeScope();
                using var autocast = settings.Autocast ? AdapterAutocast.Enter() : null;
                using var batch = TrainingBatch.Collate(group[k], padId, device, withLossMask: objective.NeedsLossMask);
                var loss = objective.Loss(model, batch);
                double share = totalWeight > 0 ? weights[k] / totalWeight : 1.0 / group.Count;
                (share == 1 ? loss : loss * share).backward();
                groupLoss += loss.item<float>() * share;
                tokens += batch.RealTokens;
            }
            double factor = schedule.Factor(state.Step);
            bool applied;
            using (var scope = NewDisposeScope())
            {
                double norm = settings.MaxGradNorm > 0 ? optimizer.ClipGradNorm(settings.MaxGradNorm) : optimizer.GradientNorm();
                applied = double.IsFinite(groupLoss) && double.IsFinite(norm);
                if (applied)
                {
                    SetLearningRate(optimizer, factor);
                    optimizer.step();
                }
                optimizer.zero_grad();
                if (!applied && settings.NonFiniteSteps == NonFiniteStepAction.Stop)
                {
                    throw new NonFiniteTrainingException(state.Step + 1, epoch + 1, groupLoss, norm, settings.LearningRate * factor, _lastCheckpointStep);
                }
            }
            if (applied)
            {
                lastLoss = groupLoss;
            }
            else
            {
                _skippedSteps++;
            }
            state.Step++;
            state.BatchInEpoch = first = end;
            Progress?.Invoke(new FineTuningProgress(epoch + 1, state.Step, totalSteps, lastLoss, tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds))
            {
                LearningRateFactor = factor,
            });
            if (Checkpoints is not null && state.Step % CheckpointInterval == 0)
            {
                Checkpoints.Save(model, optimizer, state with { Epoch = epoch });
                _lastCheckpointStep = state.Step;
            }
        }
        return lastLoss;
    }

    /// <summary>
    /// Mean loss (weighted as training weights batches) and, for classification, accuracy on a validation set, in
    /// eval mode with one forward pass per batch; the model is left in the mode it was in.
    /// </summary>
    public (double Loss, double? Accuracy) Validate(IReadOnlyList<TokenizedExample> valid)
    {
        ArgumentNullException.ThrowIfNull(valid);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            double lossSum = 0, weightSum = 0;
            long correct = 0;
            for (int start = 0; start < valid.Count; start += settings.BatchSize)
            {
                using var scope = NewDisposeScope();
                var rows = valid.Skip(start).Take(settings.BatchSize).ToList();
                using var batch = TrainingBatch.Collate(rows, padId, device, withLossMask: objective.NeedsLossMask);
                var (loss, batchCorrect) = objective.Evaluate(model, batch);
                double weight = objective.Weight(rows);
                lossSum += loss.item<float>() * weight;
                weightSum += weight;
                correct += batchCorrect;
            }
            return (weightSum > 0 ? lossSum / weightSum : 0, objective.HasAccuracy ? (double)correct / valid.Count : null);
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>
    /// What a checkpoint must match to be resumed: everything that fixes the batches, their order and the schedule's
    /// shape. MaxSteps may change (resuming to stop earlier or later); the schedule then spans the new step count.
    /// </summary>
    private string RunKey(int rows, List<(string name, Parameter parameter)> trainable) => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"rows={rows} batch={settings.BatchSize} accumulation={settings.GradientAccumulationSteps} epochs={settings.Epochs} " +
        $"seed={settings.Seed} bucketing={settings.LengthBucketing} lr={settings.LearningRate:R} schedule={settings.Schedule} warmup={settings.WarmupRatio:R} " +
        $"trainable={trainable.Count}/{trainable.Sum(p => p.parameter.numel())}");

    private FusedAdamW CreateOptimizer(List<(string name, Parameter parameter)> trainable)
    {
        var groups = new List<AdamW.ParamGroup>();
        var bMatrices = trainable.Where(p => IsLoraB(p.name)).Select(p => p.parameter).ToList();
        var others = trainable.Where(p => !IsLoraB(p.name)).Select(p => p.parameter).ToList();
        if (others.Count > 0)
        {
            groups.Add(new AdamW.ParamGroup(others, lr: settings.LearningRate, weight_decay: settings.WeightDecay));
        }
        if (bMatrices.Count > 0)
        {
            groups.Add(new AdamW.ParamGroup(bMatrices, lr: settings.LearningRate * settings.LoraPlusRatio, weight_decay: settings.WeightDecay));
        }
        return new FusedAdamW(groups, lr: settings.LearningRate, weightDecay: settings.WeightDecay);
    }

    private static bool IsLoraB(string name) => name.Contains(".lora_B.", StringComparison.Ordinal) || name.Contains(".lora_embedding_B.", StringComparison.Ordinal);

    private static void SetLearningRate(OptimizerHelper optimizer, double factor)
    {
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = group.InitialLearningRate * factor;
        }
    }

    /// <summary>Batches of row indices: seeded shuffle, then (optionally) length-sorted pools to cut padding.</summary>
    private List<int[]> BatchOrder(IReadOnlyList<TokenizedExample> train, int epoch)
    {
        var random = new Random(unchecked(settings.Seed * 7919 + epoch));
        var order = Enumerable.Range(0, train.Count).ToArray();
        random.Shuffle(order);
        if (settings.LengthBucketing)
        {
            int pool = settings.BatchSize * 16;
            for (int start = 0; start < order.Length; start += pool)
            {
                int length = Math.Min(pool, order.Length - start);
                Array.Sort(order, start, length, Comparer<int>.Create((a, b) => train[a].InputIds.Length.CompareTo(train[b].InputIds.Length)));
            }
        }
        var batches = order.Chunk(settings.BatchSize).ToList();
        if (settings.LengthBucketing)
        {
            var shuffled = batches.ToArray();
            random.Shuffle(shuffled);
            batches = [.. shuffled];
        }
        return batches;
    }

    private static Dictionary<string, Tensor> Snapshot(List<(string name, Parameter parameter)> trainable) =>
        trainable.ToDictionary(p => p.name, p => p.parameter.detach().clone().DetachFromDisposeScope());

    private static void Restore(List<(string name, Parameter parameter)> trainable, Dictionary<string, Tensor> weights)
    {
        using var _ = no_grad();
        foreach (var (name, parameter) in trainable)
        {
            parameter.copy_(weights[name]);
        }
    }

    private static void DisposeAll(Dictionary<string, Tensor>? tensors)
    {
        foreach (var t in tensors?.Values ?? Enumerable.Empty<Tensor>())
        {
            t.Dispose();
        }
    }
}
