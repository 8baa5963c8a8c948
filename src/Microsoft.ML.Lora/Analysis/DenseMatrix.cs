using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Lora.Analysis;

/// <summary>
/// A row-major float64 matrix held in managed memory, so adapter factors and analysis results need no disposal;
/// the computations turn them into float64 CPU tensors for the duration of one call.
/// </summary>
public sealed class DenseMatrix
{
    private readonly double[] _values;

    /// <summary>Wraps <paramref name="values"/> (row-major, <paramref name="rows"/>·<paramref name="columns"/> long; not copied).</summary>
    public DenseMatrix(int rows, int columns, double[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(columns);
        if (values.Length != (long)rows * columns)
        {
            throw new ArgumentException($"A {rows}×{columns} matrix needs {(long)rows * columns} values, not {values.Length}.", nameof(values));
        }
        Rows = rows;
        Columns = columns;
        _values = values;
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of columns.</summary>
    public int Columns { get; }

    /// <summary>The element at (<paramref name="row"/>, <paramref name="column"/>).</summary>
    public double this[int row, int column] => _values[(row * (long)Columns) + column];

    /// <summary>The values, row-major.</summary>
    public ReadOnlySpan<double> Values => _values;

    /// <summary>A matrix from its rows (all of one length).</summary>
    public static DenseMatrix FromRows(IReadOnlyList<double[]> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int columns = rows.Count == 0 ? 0 : rows[0].Length;
        var values = new double[rows.Count * columns];
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i].Length != columns)
            {
                throw new ArgumentException($"Row {i} has {rows[i].Length} values; row 0 has {columns}.", nameof(rows));
            }
            rows[i].CopyTo(values, i * columns);
        }
        return new DenseMatrix(rows.Count, columns, values);
    }

    /// <summary>The matrix as a new float64 CPU tensor [Rows, Columns] (the caller disposes it).</summary>
    public Tensor ToTensor() => tensor(_values, [Rows, Columns], ScalarType.Float64);

    /// <summary>A copy of a 2-D tensor's values, converted to float64.</summary>
    public static DenseMatrix FromTensor(Tensor matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        if (matrix.dim() != 2)
        {
            throw new ArgumentException($"Expected a 2-D tensor, got shape [{string.Join(", ", matrix.shape)}].", nameof(matrix));
        }
        using var scope = NewDisposeScope();
        var flat = matrix.detach().to(ScalarType.Float64, CPU).contiguous();
        return new DenseMatrix((int)matrix.shape[0], (int)matrix.shape[1], flat.data<double>().ToArray());
    }
}
