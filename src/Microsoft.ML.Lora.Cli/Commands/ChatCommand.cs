using System.CommandLine;
using Microsoft.ML.Lora.MLNet;
using Microsoft.ML.Lora.Models.Generation;
using Microsoft.ML.Lora.Tokenization.Chat;

namespace MlLora.Cli.Commands;

/// <summary>
/// <c>mllora chat</c>: a conversation in the terminal. Each line read from standard input is a user message; the reply
/// is printed as it is generated, rendered with the model's chat template. <c>/reset</c> starts over, <c>/exit</c> or the
/// end of input ends.
/// </summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder or model zip", Required = true };
        var system = new Option<string?>("--system") { Description = "A system message opening the conversation" };
        var template = new Option<string?>("--chat-template") { Description = "Built-in template (chatml, llama2, llama3, mistral, gemma, plain) or a .jinja file; default: the model's own" };
        var maxNew = new Option<int?>("--max-new-tokens") { Description = "Most tokens per reply (default: the model's setting)" };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0 };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0 = all)" };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<long?>("--seed") { Description = "Sampling seed" };
        var command = new Command("chat", "Hold a conversation with a model in the terminal (one user message per line).") { model, system, template, maxNew, temperature, topK, topP, seed };
        command.SetAction(parse =>
        {
            var templateValue = parse.GetValue(template);
            if (templateValue is not null && !ChatTemplates.BuiltInNames.Contains(templateValue))
            {
                templateValue = File.Exists(templateValue)
                    ? File.ReadAllText(templateValue)
                    : throw new FileNotFoundException($"--chat-template '{templateValue}' is neither a built-in template ({string.Join(", ", ChatTemplates.BuiltInNames)}) nor a file.", templateValue);
            }
            using var chat = LoraChatModel.Load(parse.GetValue(model)!, templateValue);
            var options = new GenerationOptions
            {
                MaxNewTokens = parse.GetValue(maxNew) ?? chat.DefaultMaxNewTokens,
                Temperature = parse.GetValue(temperature),
                TopK = parse.GetValue(topK),
                TopP = parse.GetValue(topP),
                Seed = parse.GetValue(seed),
            };
            options.Validate();
            Converse(chat, options, parse.GetValue(system));
            return 0;
        });
        return command;
    }

    private static void Converse(LoraChatModel chat, GenerationOptions options, string? system)
    {
        var opening = system is null ? new List<ConversationMessage>() : [new(ConversationMessage.SystemRole, system)];
        var messages = new List<ConversationMessage>(opening);
        bool interactive = CliErrors.Interactive && !Console.IsInputRedirected;
        if (interactive)
        {
            Console.WriteLine("Type a message (/reset starts over, /exit ends).");
        }
        while (true)
        {
            if (interactive)
            {
                Console.Write("> ");
            }
            var line = Console.In.ReadLine();
            if (line is null || line.Trim() is "/exit" or "/quit")
            {
                return;
            }
            if (line.Trim() == "/reset")
            {
                messages = [.. opening];
                continue;
            }
            if (line.Trim().Length == 0)
            {
                continue;
            }
            messages.Add(new ConversationMessage(ConversationMessage.UserRole, line));
            var reply = chat.Reply(messages, options, piece =>
            {
                Console.Write(piece);
                Console.Out.Flush();
            });
            Console.WriteLine();
            messages.Add(new ConversationMessage(ConversationMessage.AssistantRole, reply.Text));
        }
    }
}
