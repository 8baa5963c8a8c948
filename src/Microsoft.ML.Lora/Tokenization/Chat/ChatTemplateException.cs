namespace Microsoft.ML.Lora.Tokenization.Chat;

/// <summary>
/// A chat template could not be parsed or rendered: a syntax error, a construct outside the supported Jinja
/// subset, or the template's own <c>raise_exception</c> (for example "roles must alternate"). The message names the
/// template and, for syntax errors, the line.
/// </summary>
public sealed class ChatTemplateException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChatTemplateException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
