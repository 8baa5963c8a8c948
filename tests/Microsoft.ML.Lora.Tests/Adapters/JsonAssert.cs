using System.Text.Json;

namespace Microsoft.ML.Lora.Tests.Adapters;

/// <summary>
/// JSON equivalence as PEFT reads a config: same keys in any order (a key holding null counts as absent),
/// same values, numbers compared by value (16 equals 16.0).
/// </summary>
internal static class JsonAssert
{
    public static void Equivalent(string expected, string actual)
    {
        using var e = JsonDocument.Parse(expected);
        using var a = JsonDocument.Parse(actual);
        Compare(e.RootElement, a.RootElement, "$");
    }

    private static void Compare(JsonElement expected, JsonElement actual, string path)
    {
        if (expected.ValueKind == JsonValueKind.Number && actual.ValueKind == JsonValueKind.Number)
        {
            Assert.True(expected.GetDouble() == actual.GetDouble(), $"{path}: {expected} vs {actual}");
            return;
        }
        Assert.True(expected.ValueKind == actual.ValueKind, $"{path}: {expected.ValueKind} vs {actual.ValueKind}");
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                var expectedKeys = expected.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null).Select(p => p.Name).Order().ToList();
                var actualKeys = actual.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null).Select(p => p.Name).Order().ToList();
                Assert.True(expectedKeys.SequenceEqual(actualKeys), $"{path}: keys differ: [{string.Join(", ", expectedKeys.Except(actualKeys))}] missing, [{string.Join(", ", actualKeys.Except(expectedKeys))}] extra");
                foreach (var property in expected.EnumerateObject().Where(p => p.Value.ValueKind != JsonValueKind.Null))
                {
                    Compare(property.Value, actual.GetProperty(property.Name), $"{path}.{property.Name}");
                }
                break;
            case JsonValueKind.Array:
                Assert.True(expected.GetArrayLength() == actual.GetArrayLength(), $"{path}: array lengths differ");
                for (int i = 0; i < expected.GetArrayLength(); i++)
                {
                    Compare(expected[i], actual[i], $"{path}[{i}]");
                }
                break;
            default:
                Assert.True(expected.GetRawText() == actual.GetRawText(), $"{path}: {expected.GetRawText()} vs {actual.GetRawText()}");
                break;
        }
    }
}
