using Dapper;
using Npgsql;

namespace NfcPipeline.Storage.Pipeline;

/// <summary>Models by content hash: the identity every result is traced to.</summary>
public sealed class ModelStore(NpgsqlDataSource db)
{
    public async Task<long> EnsureAsync(byte[] sha256, string name, string version, string contract, string metadataJson, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("""
            insert into models (sha256, name, version, contract, metadata) values (@Sha, @Name, @Version, @Contract, @Metadata::jsonb)
            on conflict (sha256) do update set name = excluded.name
            returning id
            """, new { Sha = sha256, Name = name, Version = version, Contract = contract, Metadata = metadataJson }, cancellationToken: ct));
    }
}
