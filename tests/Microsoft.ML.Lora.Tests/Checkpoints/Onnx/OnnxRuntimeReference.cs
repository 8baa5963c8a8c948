using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Microsoft.ML.Lora.Tests.Checkpoints.Onnx;

/// <summary>Runs an ONNX graph with ONNX Runtime: the independent reference for imported encoders.</summary>
internal static class OnnxRuntimeReference
{
    /// <summary>last_hidden_state [B, T, H] for right-padded rows of token ids (token types 0).</summary>
    public static (float[] Values, int Time, int Width) LastHiddenState(byte[] model, IReadOnlyList<int[]> rows, bool withTokenTypes = true)
    {
        using var session = new InferenceSession(model);
        int batch = rows.Count, time = rows.Max(r => r.Length);
        var ids = new long[batch * time];
        var mask = new long[batch * time];
        for (int b = 0; b < batch; b++)
        {
            for (int t = 0; t < rows[b].Length; t++)
            {
                ids[b * time + t] = rows[b][t];
                mask[b * time + t] = 1;
            }
        }
        int[] shape = [batch, time];
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, shape)),
        };
        if (withTokenTypes)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[batch * time], shape)));
        }
        using var outputs = session.Run(inputs, ["last_hidden_state"]);
        var hidden = (DenseTensor<float>)outputs.First().Value;
        return (hidden.ToArray(), time, hidden.Dimensions[2]);
    }
}
