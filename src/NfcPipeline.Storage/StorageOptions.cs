namespace NfcPipeline.Storage;

/// <summary>Where the database is and what to do at start-up. Bound from the "Storage" configuration section.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>The default matches ops/services.sh, so a developer machine needs no configuration.</summary>
    public const string LocalDefault = "Host=127.0.0.1;Port=35432;Database=nfc;Username=postgres";

    /// <summary>Npgsql connection string. Falls back to NFC_PG_CONNECTION, then to <see cref="LocalDefault"/>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Apply pending migrations when a host starts.</summary>
    public bool MigrateOnStartup { get; set; }

    public string ResolveConnectionString() =>
        !string.IsNullOrWhiteSpace(ConnectionString) ? ConnectionString
        : Environment.GetEnvironmentVariable("NFC_PG_CONNECTION") is { Length: > 0 } fromEnv ? fromEnv
        : LocalDefault;
}
