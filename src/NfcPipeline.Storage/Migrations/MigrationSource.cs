using System.Reflection;
using System.Text.RegularExpressions;

namespace NfcPipeline.Storage.Migrations;

/// <summary>Finds migrations in a folder or in this assembly (the repo's migrations/ folder is embedded at build).</summary>
public static partial class MigrationSource
{
    [GeneratedRegex(@"^(?<version>\d{4})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex FileNamePattern();

    public static IReadOnlyList<Migration> FromDirectory(string directory)
    {
        if (!Directory.Exists(directory))
            throw new MigrationException($"Migrations folder not found: {directory}");
        var files = Directory.EnumerateFiles(directory, "*.sql")
            .Select(path => (Name: Path.GetFileName(path), Path: path));
        return Build(files.Select(f => (f.Name, (Func<string>)(() => File.ReadAllText(f.Path)))));
    }

    /// <summary>The migrations embedded in NfcPipeline.Storage, so deployed hosts need no migrations folder.</summary>
    public static IReadOnlyList<Migration> Embedded()
    {
        var assembly = typeof(MigrationSource).Assembly;
        const string prefix = "NfcPipeline.Storage.Migrations.Sql.";
        var resources = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal))
            .Select(n => (n[prefix.Length..], (Func<string>)(() => ReadResource(assembly, n))));
        return Build(resources);
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)
            ?? throw new MigrationException($"Embedded migration {name} cannot be read.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static IReadOnlyList<Migration> Build(IEnumerable<(string FileName, Func<string> Read)> files)
    {
        var migrations = new List<Migration>();
        foreach (var (fileName, read) in files)
        {
            var match = FileNamePattern().Match(fileName);
            if (!match.Success)
                throw new MigrationException($"Migration file '{fileName}' is not named NNNN_lower_snake_name.sql.");
            migrations.Add(new Migration(int.Parse(match.Groups["version"].Value), match.Groups["name"].Value, read()));
        }
        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new MigrationException($"Two migrations share version {duplicate.Key:D4}: {string.Join(", ", duplicate)}.");
        return migrations.OrderBy(m => m.Version).ToList();
    }
}
