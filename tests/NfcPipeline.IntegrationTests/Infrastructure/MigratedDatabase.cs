using NfcPipeline.Storage.Migrations;
using Npgsql;

namespace NfcPipeline.IntegrationTests.Infrastructure;

/// <summary>A migrated test database and a data source on it, disposed together.</summary>
public sealed class MigratedDatabase(TestDatabase database, NpgsqlDataSource db) : IAsyncDisposable
{
    public NpgsqlDataSource Db { get; } = db;

    public static async Task<MigratedDatabase> CreateAsync()
    {
        var database = await TestDatabase.CreateAsync();
        await new MigrationRunner(database.ConnectionString).ApplyAsync(MigrationSource.Embedded());
        return new MigratedDatabase(database, NpgsqlDataSource.Create(database.ConnectionString));
    }

    public async ValueTask DisposeAsync()
    {
        await Db.DisposeAsync();
        await database.DisposeAsync();
    }
}
