using Npgsql;

namespace NfcPipeline.IntegrationTests.Infrastructure;

/// <summary>
/// Where the real services are, from the environment (ops/services.sh env prints these), with the local defaults.
/// A missing service fails the test with the fix; integration tests never skip.
/// </summary>
public static class TestServices
{
    /// <summary>Unpooled: the outage tests restart the server, and a pooled connection would not survive that.</summary>
    public static string PostgresAdmin => new NpgsqlConnectionStringBuilder(
        Environment.GetEnvironmentVariable("NFC_PG_ADMIN_CONNECTION") is { Length: > 0 } s ? s
        : "Host=127.0.0.1;Port=35432;Database=postgres;Username=postgres") { Pooling = false }.ConnectionString;

    public static Uri RabbitUri =>
        new(Environment.GetEnvironmentVariable("NFC_RABBIT_URI") is { Length: > 0 } s ? s : "amqp://guest:guest@127.0.0.1:35672/");

    /// <summary>The broker user and password of <see cref="RabbitUri"/>, for its management API.</summary>
    public static (string User, string Password) RabbitCredentials
    {
        get
        {
            var info = Uri.UnescapeDataString(RabbitUri.UserInfo);
            int colon = info.IndexOf(':');
            return colon < 0 ? (info, "") : (info[..colon], info[(colon + 1)..]);
        }
    }

    public static Uri RabbitManagementUri =>
        new(Environment.GetEnvironmentVariable("NFC_RABBIT_MGMT_URI") is { Length: > 0 } s ? s : "http://127.0.0.1:35673/");

    public static string RepoRoot { get; } = FindRepoRoot();

    public static InvalidOperationException Unavailable(string service, string where, Exception inner) =>
        new($"{service} is not reachable at {WithoutPassword(where)}: {inner.Message}. Start it with 'ops/services.sh up' " +
            "(ops/test.sh does this), or point the NFC_* variables from 'ops/services.sh env' at a running server.", inner);

    /// <summary>A server's address as a failure may show it in CI logs: the URI's user info or the connection string's password left out.</summary>
    public static string WithoutPassword(string where)
    {
        if (Uri.TryCreate(where, UriKind.Absolute, out var uri) && uri.Scheme is "amqp" or "amqps" or "http" or "https")
            return new UriBuilder(uri) { UserName = "", Password = "" }.Uri.ToString();
        try { return new Npgsql.NpgsqlConnectionStringBuilder(where) { Password = null }.ConnectionString; }
        catch (ArgumentException) { return "(the configured address)"; }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "NfcPipeline.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cannot find the repository root (NfcPipeline.sln) above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fresh, uniquely named database for one test, dropped afterwards.</summary>
public sealed class TestDatabase : IAsyncDisposable
{
    private TestDatabase(string name, string connectionString) { Name = name; ConnectionString = connectionString; }

    public string Name { get; }
    public string ConnectionString { get; }

    public static async Task<TestDatabase> CreateAsync()
    {
        var name = "nfc_test_" + Guid.NewGuid().ToString("N")[..12];
        try
        {
            await using var admin = new NpgsqlConnection(TestServices.PostgresAdmin);
            await admin.OpenAsync();
            await using var cmd = new NpgsqlCommand($"create database {name}", admin);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw TestServices.Unavailable("PostgreSQL", TestServices.PostgresAdmin, ex);
        }
        var builder = new NpgsqlConnectionStringBuilder(TestServices.PostgresAdmin) { Database = name, Pooling = false };
        return new TestDatabase(name, builder.ConnectionString);
    }

    public async Task<T?> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        var value = await cmd.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }

    public async ValueTask DisposeAsync()
    {
        await using var admin = new NpgsqlConnection(TestServices.PostgresAdmin);
        await admin.OpenAsync();
        await using var cmd = new NpgsqlCommand($"drop database if exists {Name} with (force)", admin);
        await cmd.ExecuteNonQueryAsync();
    }
}
