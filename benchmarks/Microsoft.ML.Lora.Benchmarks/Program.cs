using BenchmarkDotNet.Running;

// Run all: dotnet run -c Release -- --filter '*'
// One class, short job: dotnet run -c Release -- --filter '*Attention*' --job short
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
