namespace NfcPipeline.Contracts;

/// <summary>
/// Where the broker is, resolved the same way by every host and tool: the configured value (Messaging:RabbitUri or
/// a --rabbit option), then NFC_RABBIT_URI, then the local default of ops/services.sh.
/// </summary>
public static class RabbitMqAddress
{
    public const string LocalDefault = "amqp://guest:guest@127.0.0.1:35672/";

    /// <exception cref="UriFormatException">Not an amqp:// or amqps:// URI with a host: "localhost:5672" parses as a URI
    /// of scheme "localhost", which MassTransit refused only when the bus started.</exception>
    public static Uri Resolve(string? configured = null)
    {
        var address = new Uri(
            configured is { Length: > 0 } ? configured
            : Environment.GetEnvironmentVariable("NFC_RABBIT_URI") is { Length: > 0 } fromEnvironment ? fromEnvironment
            : LocalDefault);
        if (address.Scheme is not ("amqp" or "amqps") || string.IsNullOrEmpty(address.Host))
            throw new UriFormatException("The RabbitMQ URI must be amqp:// or amqps:// with a host, such as amqp://user:password@127.0.0.1:5672/.");
        return address;
    }
}
