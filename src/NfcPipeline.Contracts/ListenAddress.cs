using System.Net;

namespace NfcPipeline.Contracts;

/// <summary>
/// Where a host listens, judged the same way by every host: the dashboard refuses a non-loopback binding without
/// authentication, the worker any non-loopback health URL.
/// </summary>
public static class ListenAddress
{
    /// <summary>Whether a listening URL (Kestrel's form: http://host:port, [v6], *, +) names only loopback.</summary>
    public static bool IsLoopbackUrl(string url)
    {
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        var rest = schemeEnd < 0 ? url : url[(schemeEnd + 3)..];
        var slash = rest.IndexOf('/');
        var hostPort = slash < 0 ? rest : rest[..slash];
        string host;
        if (hostPort.StartsWith('['))
            host = hostPort[1..Math.Max(1, hostPort.IndexOf(']'))];
        else
        {
            var colon = hostPort.LastIndexOf(':');
            host = colon < 0 ? hostPort : hostPort[..colon];
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return true;
        return IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip);
    }
}
