using System.Reflection;
using NfcPipeline.Inference;
using NfcPipeline.Inference.Batching;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage;
using NfcPipeline.Worker;
using NfcPipeline.Worker.Share;
using YamlDotNet.RepresentationModel;

namespace NfcPipeline.IntegrationTests;

/// <summary>Docker cannot run here, so the compose file is checked for what can be checked without it.</summary>
public class DeploymentFilesTests
{
    private static readonly YamlMappingNode Compose = Load();

    private static YamlMappingNode Load()
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(Path.Combine(TestServices.RepoRoot, "docker-compose.yml"));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlMappingNode Services => (YamlMappingNode)Compose["services"];

    [Fact]
    public void Compose_parses_and_has_the_production_services_with_healthchecks()
    {
        var names = Services.Children.Keys.Select(k => k.ToString()).ToList();
        Assert.Superset(new HashSet<string> { "postgres", "rabbitmq", "migrate", "worker" }, names.ToHashSet());
        foreach (var service in new[] { "postgres", "rabbitmq", "worker" })
            Assert.True(((YamlMappingNode)Services[service]).Children.ContainsKey("healthcheck"), $"{service} has no healthcheck");
        // The long-running services come back after a reboot or a crash; the one-shot migration does not rerun.
        foreach (var service in new[] { "postgres", "rabbitmq", "worker", "dashboard" })
            Assert.Equal("unless-stopped", Services[service]["restart"].ToString());
        Assert.Equal("no", Services["migrate"]["restart"].ToString());
        Assert.Contains("rabbitmq:3.13-management", Services["rabbitmq"]["image"].ToString());
        // RabbitMQ keeps its data under rabbit@<hostname>: a recreated container must find its queues again.
        var rabbitmq = (YamlMappingNode)Services["rabbitmq"];
        Assert.Equal("rabbitmq", rabbitmq["hostname"].ToString());
        Assert.Contains("rabbitmqdata:/var/lib/rabbitmq", ((YamlSequenceNode)rabbitmq["volumes"]).Children.Select(v => v.ToString()));
        Assert.True(((YamlMappingNode)Compose["volumes"]).Children.ContainsKey("rabbitmqdata"));
        var worker = (YamlMappingNode)Services["worker"];
        Assert.Contains("/share", ((YamlSequenceNode)worker["volumes"]).Children.Select(v => v.ToString()).Single());
        Assert.True(((YamlMappingNode)worker["deploy"]).Children.ContainsKey("replicas"));
        // Unauthenticated health endpoints stay on the container's loopback, where its healthcheck reaches them.
        var health = worker["environment"]["Worker__HealthUrls"].ToString();
        Assert.Empty(new NfcPipeline.Worker.WorkerOptions { HealthUrls = health }.Validate());
        Assert.Contains(health.Replace("http://", "").Split('/')[0], worker["healthcheck"]["test"].ToString());
    }

    [Fact]
    public void Every_image_runs_on_a_runtime_that_has_the_frameworks_its_app_references()
    {
        // The CLI image ran on the plain runtime while nfc references ASP.NET Core: `dotnet nfc.dll` would stop with
        // "framework not found", and the compose stack's migrate service with it.
        var dockerfiles = Directory.GetFiles(Path.Combine(TestServices.RepoRoot, "ops", "docker"), "*.Dockerfile");
        Assert.NotEmpty(dockerfiles);
        foreach (var dockerfile in dockerfiles)
        {
            var lines = File.ReadAllLines(dockerfile);
            var project = lines.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"dotnet publish (\S+\.csproj)")).Single(m => m.Success).Groups[1].Value;
            bool aspnet = NeedsAspNetCore(Path.Combine(TestServices.RepoRoot, project), []);
            var runtime = lines.Last(l => l.StartsWith("FROM mcr.microsoft.com/dotnet/", StringComparison.Ordinal));
            if (aspnet) Assert.True(runtime.Contains("/dotnet/aspnet:"), $"{Path.GetFileName(dockerfile)} runs {project} (ASP.NET Core) on {runtime}");
        }
    }

    /// <summary>Whether the project, or one it references, is a web project or references ASP.NET Core.</summary>
    private static bool NeedsAspNetCore(string csprojPath, HashSet<string> seen)
    {
        if (!seen.Add(Path.GetFullPath(csprojPath))) return false;
        var csproj = File.ReadAllText(csprojPath);
        if (csproj.Contains("Microsoft.NET.Sdk.Web") || csproj.Contains("\"Microsoft.AspNetCore.App\"")) return true;
        return System.Text.RegularExpressions.Regex.Matches(csproj, "ProjectReference Include=\"([^\"]+)\"")
            .Any(m => NeedsAspNetCore(Path.Combine(Path.GetDirectoryName(csprojPath)!, m.Groups[1].Value.Replace('\\', '/')), seen));
    }

    [Fact]
    public void Every_file_the_compose_file_builds_from_exists()
    {
        var dockerfiles = Services.Children.Values.OfType<YamlMappingNode>()
            .Where(s => s.Children.ContainsKey("build")).Select(s => s["build"]["dockerfile"].ToString()).ToList();
        Assert.NotEmpty(dockerfiles);
        foreach (var dockerfile in dockerfiles)
        {
            var path = Path.Combine(TestServices.RepoRoot, dockerfile);
            Assert.True(File.Exists(path), $"{dockerfile} is missing");
            foreach (var line in File.ReadLines(path).Where(l => l.StartsWith("RUN dotnet publish", StringComparison.Ordinal)))
            {
                var project = line.Split(' ').First(w => w.EndsWith(".csproj", StringComparison.Ordinal));
                Assert.True(File.Exists(Path.Combine(TestServices.RepoRoot, project)), $"{dockerfile} publishes {project}, which does not exist");
            }
        }
    }

    [Fact]
    public void Environment_names_match_the_options_classes()
    {
        var sections = new Dictionary<string, Type>
        {
            [StorageOptions.Section] = typeof(StorageOptions), [WorkerOptions.Section] = typeof(WorkerOptions),
            [InferenceOptions.Section] = typeof(InferenceOptions), [ShareWatcherOptions.Section] = typeof(ShareWatcherOptions),
            [NfcPipeline.Dashboard.Hosting.DashboardOptions.Section] = typeof(NfcPipeline.Dashboard.Hosting.DashboardOptions),
        };
        var names = Services.Children.Values.OfType<YamlMappingNode>().Where(s => s.Children.ContainsKey("environment"))
            .SelectMany(s => ((YamlMappingNode)s["environment"]).Children.Keys.Select(k => k.ToString()))
            .Concat(((YamlMappingNode)Compose["x-pipeline-env"]).Children.Keys.Select(k => k.ToString()))
            .Where(n => n.Contains("__")).Distinct().ToList();
        Assert.Contains("Dashboard__Users__0__Role", names);
        foreach (var name in names)
        {
            // Messaging:RabbitUri is read straight from configuration by the worker, the dashboard and the CLI.
            if (name == "Messaging__RabbitUri") continue;
            var segments = name.Split("__");
            Assert.True(sections.TryGetValue(segments[0], out var type), $"{name}: no options class for section {segments[0]}");
            foreach (var segment in segments.Skip(1))
            {
                if (int.TryParse(segment, out _))
                {
                    type = type!.IsArray ? type.GetElementType() : type.GetGenericArguments().Single();
                    continue;
                }
                var property = type!.GetProperty(segment, BindingFlags.Public | BindingFlags.Instance);
                Assert.True(property is not null, $"{name}: {type.Name} has no property {segment}");
                type = property!.PropertyType;
            }
        }
    }
}
