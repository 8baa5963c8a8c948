namespace Microsoft.ML.Lora.Evaluation;

/// <summary>
/// Corpus-level BLEU-4 against several references per segment, as the E2E NLG Challenge scores systems (e2e-metrics'
/// BLEU, the figure in the LoRA paper's E2E table): sentences tokenised by <see cref="MtevalTokenizer"/> and compared
/// case-insensitively; n-gram matches clipped by the largest count of that n-gram in any one reference; the reference
/// length of a segment is that of its reference closest in length to the hypothesis (the shorter one on a tie); the
/// brevity penalty exp(1 − r/c) applies when c ≤ r; the score is the geometric mean of the four precisions, with a zero
/// match count floored at 1e-15 so the score stays defined. Returned as a fraction (the paper prints 100×).
/// Add segments with <see cref="Add(string, IReadOnlyList{string})"/>, read <see cref="Score"/>.
/// </summary>
public sealed class CorpusBleu
{
    private const int MaxOrder = 4;
    private const double TinyHits = 1e-15, SmallLength = 1e-9;
    private readonly long[] _hits = new long[MaxOrder];
    private readonly long[] _candidateNgrams = new long[MaxOrder];

    /// <summary>Segments added.</summary>
    public int Segments { get; private set; }

    /// <summary>Summed closest-reference length r.</summary>
    public long ReferenceLength { get; private set; }

    /// <summary>Summed hypothesis length c (tokens).</summary>
    public long HypothesisLength => _candidateNgrams[0];

    /// <summary>Clipped matches of order n (1..4).</summary>
    public long Matches(int n) => _hits[n - 1];

    /// <summary>Hypothesis n-grams of order n (1..4), counted as length − n + 1 per segment like the reference implementation.</summary>
    public long HypothesisNgrams(int n) => _candidateNgrams[n - 1];

    /// <summary>Adds one segment: a system output and its references (raw text, tokenised here).</summary>
    public void Add(string hypothesis, IReadOnlyList<string> references)
    {
        ArgumentNullException.ThrowIfNull(hypothesis);
        ArgumentNullException.ThrowIfNull(references);
        Add(MtevalTokenizer.Tokenize(hypothesis), references.Select(MtevalTokenizer.Tokenize).ToList());
    }

    /// <summary>Adds one segment already tokenised.</summary>
    public void Add(IReadOnlyList<string> hypothesis, IReadOnlyList<IReadOnlyList<string>> references)
    {
        ArgumentNullException.ThrowIfNull(hypothesis);
        ArgumentNullException.ThrowIfNull(references);
        if (references.Count == 0)
        {
            throw new ArgumentException($"Segment {Segments + 1} has no reference; BLEU needs at least one per segment.", nameof(references));
        }
        var hyp = hypothesis.Select(t => t.ToLowerInvariant()).ToArray();
        var refs = references.Select(r => r.Select(t => t.ToLowerInvariant()).ToArray()).ToList();
        for (int n = 1; n <= MaxOrder; n++)
        {
            var mostInAnyReference = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var reference in refs)
            {
                foreach (var (gram, count) in Counts(reference, n))
                {
                    mostInAnyReference[gram] = Math.Max(count, mostInAnyReference.GetValueOrDefault(gram));
                }
            }
            _hits[n - 1] += Counts(hyp, n).Sum(g => Math.Min(g.Value, mostInAnyReference.GetValueOrDefault(g.Key)));
            _candidateNgrams[n - 1] += hyp.Length - n + 1;
        }
        ReferenceLength += refs.Select(r => r.Length).OrderBy(l => Math.Abs(l - hyp.Length)).ThenBy(l => l).First();
        Segments++;
    }

    /// <summary>The brevity penalty: 1 when the output is longer than the references, else exp(1 − r/c).</summary>
    public double BrevityPenalty
    {
        get
        {
            long c = HypothesisLength;
            return c > ReferenceLength ? 1 : Math.Exp(1 - ReferenceLength / (c == 0 ? 1e-5 : (double)c));
        }
    }

    /// <summary>The precision of order n (1..4): matches / hypothesis n-grams.</summary>
    public double Precision(int n) => Math.Max(_hits[n - 1], TinyHits) / Math.Max(_candidateNgrams[n - 1], SmallLength);

    /// <summary>BLEU-4 in [0, 1].</summary>
    public double Score => BrevityPenalty * Math.Exp(Enumerable.Range(1, MaxOrder).Sum(n => Math.Log(Precision(n))) / MaxOrder);

    /// <summary>The corpus BLEU-4 of system outputs against their reference groups (one group per output).</summary>
    public static double Of(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
        {
            throw new ArgumentException($"{hypotheses.Count} outputs but {references.Count} reference groups; there must be one group per output.", nameof(references));
        }
        var bleu = new CorpusBleu();
        for (int i = 0; i < hypotheses.Count; i++)
        {
            bleu.Add(hypotheses[i], references[i]);
        }
        return bleu.Score;
    }

    private static Dictionary<string, int> Counts(string[] tokens, int n)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Length; i++)
        {
            // A control character no token holds joins the n-gram into one dictionary key.
            var gram = string.Join('\u001f', tokens, i, n);
            counts[gram] = counts.GetValueOrDefault(gram) + 1;
        }
        return counts;
    }
}
