namespace Microsoft.ML.Lora.Tokenization;

/// <summary>
/// A token matched as a whole in the raw text before any other processing (HF "added tokens":
/// &lt;|endoftext|&gt;, [CLS], &lt;|im_start|&gt;...). Special ones are skipped when decoding.
/// </summary>
/// <param name="Content">The literal text of the token.</param>
/// <param name="Id">Its id.</param>
/// <param name="Special">Whether decoding skips it.</param>
/// <param name="LStrip">Whether it swallows the whitespace on its left.</param>
/// <param name="RStrip">Whether it swallows the whitespace on its right.</param>
internal sealed record AddedToken(string Content, int Id, bool Special, bool LStrip = false, bool RStrip = false);
