using Microsoft.ML.Lora.Checkpoints;
using Microsoft.ML.Lora.Models.Bert;

namespace Microsoft.ML.Lora.Tests;

/// <summary>
/// Hugging Face folders of every architecture family with a real tokenizer, small enough to fine-tune in a test:
/// HF's tiny-random-gpt2 (../shared/data), stories260K (Llama), and random tiny BERT / DistilBERT encoders
/// (16 wide, 2 layers) over the real bert-base-uncased / distilbert WordPiece vocabularies.
/// </summary>
public static class TinyModelFolders
{
    /// <summary>The families (xunit theory data): "llama", "gpt2", "bert", "distilbert".</summary>
    public static TheoryData<string> Families => new() { "llama", "gpt2", "bert", "distilbert" };

    /// <summary>A folder of the family; encoders are written under <paramref name="parent"/>.</summary>
    public static string Create(string family, string parent) => family switch
    {
        "llama" => Stories260K.Folder,
        "gpt2" => SharedData.PathOf("models/tiny-random-gpt2"),
        "bert" => Encoder(parent, "bert", SharedData.PathOf("tokenizers/bert-base-uncased/vocab.txt")),
        "distilbert" => Encoder(parent, "distilbert", Path.Combine(SharedData.PathOf("adapters/peft-distilbert-imdb"), "tokenizer.json"),
            Path.Combine(SharedData.PathOf("adapters/peft-distilbert-imdb"), "vocab.txt")),
        _ => throw new ArgumentOutOfRangeException(nameof(family), family, "unknown family"),
    };

    private static string Encoder(string parent, string modelType, params string[] tokenizerFiles)
    {
        var folder = Path.Combine(parent, "tiny-" + modelType);
        var config = (BertConfig)Models.TinyModels.Bert(modelType);
        // The real vocabularies have 30,522 WordPiece tokens; the rest of the model stays tiny.
        config.VocabSize = 30522;
        config.MaxPositionEmbeddings = 128;
        using var model = Models.TinyModels.Create(config);
        HfModelWriter.Save(model, folder, extraFiles: tokenizerFiles);
        return folder;
    }
}
