using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Npgsql;
using NfcPipeline.Storage.Migrations;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>A throw-away database and RabbitMQ vhost for one benchmark run, removed afterwards.</summary>
internal sealed class BenchEnvironment : IAsyncDisposable
{
    private readonly string _adminConnection;
    private readonly HttpClient _management;

    private BenchEnvironment(string name, string adminConnection, HttpClient management, string connectionString, Uri rabbitUri)
    {
        Name = name; _adminConnection = adminConnection; _management = management; ConnectionString = connectionString; RabbitUri = rabbitUri;
    }

    public string Name { get; }
    public string ConnectionString { get; }
    public Uri RabbitUri { get; }

    /// <summary>A fresh name for a bench database and its broker vhost.</summary>
    public static string NewName() => "nfc_bench_" + Guid.NewGuid().ToString("N")[..10];

    public static async Task<BenchEnvironment> CreateAsync(string name, string connection, Uri rabbit, Uri management)
    {
        var admin = new NpgsqlConnectionStringBuilder(connection) { Database = "postgres", Pooling = false }.ConnectionString;
        await using (var c = new NpgsqlConnection(admin))
        {
            await c.OpenAsync();
            await using var create = new NpgsqlCommand($"create database {name}", c);
            await create.ExecuteNonQueryAsync();
        }
        var database = new NpgsqlConnectionStringBuilder(connection) { Database = name }.ConnectionString;
        // An address that never answers: a clear failure in seconds, not HttpClient's 100 s.
        var client = new HttpClient { BaseAddress = management, Timeout = TimeSpan.FromSeconds(10) };
        var user = string.IsNullOrEmpty(rabbit.UserInfo) ? "guest:guest" : Uri.UnescapeDataString(rabbit.UserInfo);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user)));
        var environment = new BenchEnvironment(name, admin, client, database, new UriBuilder(rabbit) { Path = "/" + name }.Uri);
        try
        {
            await new MigrationRunner(database).ApplyAsync(MigrationSource.Embedded());
            (await client.PutAsync($"api/vhosts/{name}", null)).EnsureSuccessStatusCode();
            (await client.PutAsJsonAsync($"api/permissions/{name}/{user.Split(':')[0]}", new { configure = ".*", write = ".*", read = ".*" })).EnsureSuccessStatusCode();
            return environment;
        }
        catch
        {
            await environment.DisposeAsync();   // the database (and a vhost, if made) do not outlive a failed set-up
            throw;
        }
    }

    /// <summary>One value of a query; <paramref name="id"/>, when given, is bound to the parameter @id.</summary>
    public async Task<T?> ScalarAsync<T>(string sql, string? id = null)
    {
        await using var c = new NpgsqlConnection(ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        if (id is not null) cmd.Parameters.AddWithValue("id", id);
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }

    public static double PeakRssMb(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024;
    }

    public static Process StartWorker(IReadOnlyDictionary<string, string> settings, StringBuilder log)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "nfc-worker.dll")])
        {
            WorkingDirectory = AppContext.BaseDirectory, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var (k, v) in settings) psi.Environment[k] = v;
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public async ValueTask DisposeAsync()
    {
        // The vhost is best effort; the database is dropped whatever became of it (a timeout left both before).
        try { await _management.DeleteAsync($"api/vhosts/{Name}"); }
        catch (Exception) { /* best effort, whatever the failure: the database below must still go */ }
        _management.Dispose();
        await using var c = new NpgsqlConnection(_adminConnection);
        await c.OpenAsync();
        await using var drop = new NpgsqlCommand($"drop database if exists {Name} with (force)", c);
        await drop.ExecuteNonQueryAsync();
    }
}
