using Microsoft.ML.Lora.Evaluation;

namespace Microsoft.ML.Lora.Tests.Evaluation;

/// <summary>
/// The E2E BLEU: the mteval-v13a tokenisation of e2e-metrics, and corpus BLEU-4 against hand-counted cases and against
/// NLTK's corpus_bleu (an independent published implementation) on a fixture.
/// </summary>
public sealed class CorpusBleuTests
{
    [Theory]
    [InlineData("Prices range from £20-25, it's 3.5 stars.", new[] { "Prices", "range", "from", "£20", "-", "25", ",", "it's", "3.5", "stars", "." })]
    [InlineData("x/y (a&b) &amp; \"q\"", new[] { "x", "/", "y", "(", "a", "&", "b", ")", "&", "\"", "q", "\"" })]
    [InlineData("well-known 1,000.5", new[] { "well-known", "1,000.5" })]
    [InlineData("end.Next", new[] { "end", ".", "Next" })]
    [InlineData("  two   spaces\tand a tab  ", new[] { "two", "spaces", "and", "a", "tab" })]
    [InlineData("", new[] { "" })]
    public void TokenisesAsMteval13a(string sentence, string[] expected) =>
        Assert.Equal(expected, MtevalTokenizer.Tokenize(sentence));

    [Fact]
    public void AHypothesisMadeOfTwoReferencesScoresOne()
    {
        // Every n-gram of the output is in one reference or the other (clipping is per reference, the maximum over them);
        // the closest reference lengths 6 and 8 tie at distance 1, so r = 6 (the shorter) < c = 7: no brevity penalty.
        var bleu = new CorpusBleu();
        bleu.Add("the cat sat on the red mat", ["the cat sat on the mat", "a cat sat on the red mat today"]);
        Assert.Equal([7L, 6, 5, 4], Enumerable.Range(1, 4).Select(bleu.Matches));
        Assert.Equal([7L, 6, 5, 4], Enumerable.Range(1, 4).Select(bleu.HypothesisNgrams));
        Assert.Equal(6, bleu.ReferenceLength);
        Assert.Equal(1.0, bleu.Score, 12);
    }

    [Fact]
    public void AShortOutputPaysTheBrevityPenalty()
    {
        var bleu = new CorpusBleu();
        bleu.Add("the cat sat on the mat", ["the cat sat on the mat today"]);
        Assert.Equal(Math.Exp(1 - 7.0 / 6.0), bleu.BrevityPenalty, 12);
        Assert.Equal(Math.Exp(-1.0 / 6.0), bleu.Score, 12);
    }

    [Fact]
    public void MatchesAreClippedByTheReferenceCount()
    {
        var bleu = new CorpusBleu();
        bleu.Add("the the the the", ["the cat the mat"]);
        Assert.Equal(2.0 / 4.0, bleu.Precision(1), 12);
        Assert.Equal(0, bleu.Matches(2));
        Assert.InRange(bleu.Score, 0, 1e-3);   // a zero count is floored, never undefined
    }

    [Fact]
    public void CorpusScoreSumsCountsOverSegmentsAndIgnoresCase()
    {
        // Segment 1 matches fully (6, 5, 4, 3 n-grams); segment 2 "a dog ran in the park today" against
        // "a dog ran in a park today": 6/7 unigrams, 4/6 bigrams, 2/5 trigrams, 1/4 four-grams. r = c = 13.
        double score = CorpusBleu.Of(
            ["The cat sat on the mat", "a dog ran in the park today"],
            [["the cat sat on the MAT"], ["A dog ran in a park today"]]);
        double expected = Math.Pow(12.0 / 13 * (9.0 / 11) * (6.0 / 9) * (4.0 / 7), 0.25);
        Assert.Equal(expected, score, 12);
    }

    [Fact]
    public void AgreesWithNltkCorpusBleuOnAnE2EFixture()
    {
        // NLTK 3.8 nltk.translate.bleu_score.corpus_bleu (weights 0.25 x 4, no smoothing) over these sentences tokenised
        // by e2e-metrics' mteval-v13a rules and lower-cased returns 0.6528353581004921.
        string[] outputs =
        [
            "The Vaults is a pub near Café Adriatic, with prices over £30.",
            "Blue Spice is a coffee shop in the city centre.",
            "Aromi is a family-friendly Chinese restaurant by the river.",
        ];
        IReadOnlyList<string>[] references =
        [
            ["The Vaults pub near Café Adriatic has prices over £30.", "Near Café Adriatic, The Vaults is an expensive pub with a 5 star rating."],
            ["A coffee shop in the city centre area called Blue Spice.", "Blue Spice is a coffee shop in city centre.", "There is a coffee shop Blue Spice in the city centre."],
            ["Aromi is a family friendly Chinese restaurant in the riverside area.", "Aromi, a Chinese restaurant by the river, is family-friendly."],
        ];
        Assert.Equal(0.6528353581004921, CorpusBleu.Of(outputs, references), 12);
    }

    [Fact]
    public void MismatchedInputsAreRefused()
    {
        Assert.Throws<ArgumentException>(() => CorpusBleu.Of(["a b c d"], []));
        Assert.Throws<ArgumentException>(() => new CorpusBleu().Add("a b c d", Array.Empty<string>()));
    }
}
