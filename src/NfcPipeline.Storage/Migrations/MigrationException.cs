namespace NfcPipeline.Storage.Migrations;

/// <summary>A migration problem that needs a person: a bad file name, a tampered script, a failed statement.</summary>
public sealed class MigrationException(string message, Exception? inner = null) : Exception(message, inner);
