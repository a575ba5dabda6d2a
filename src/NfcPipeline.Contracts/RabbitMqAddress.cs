namespace NfcPipeline.Contracts;

/// <summary>
/// Where the broker is, resolved the same way by every host and tool: the configured value (Messaging:RabbitUri or
/// a --rabbit option), then NFC_RABBIT_URI, then the local default of ops/services.sh.
/// </summary>
public static class RabbitMqAddress
{
    public const string LocalDefault = "amqp://guest:guest@127.0.0.1:35672/";

    public static Uri Resolve(string? configured = null) => new(
        configured is { Length: > 0 } ? configured
        : Environment.GetEnvironmentVariable("NFC_RABBIT_URI") is { Length: > 0 } fromEnvironment ? fromEnvironment
        : LocalDefault);
}
