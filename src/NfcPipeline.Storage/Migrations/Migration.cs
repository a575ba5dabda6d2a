using System.Security.Cryptography;
using System.Text;

namespace NfcPipeline.Storage.Migrations;

/// <summary>One plain-SQL migration, named <c>NNNN_name.sql</c>.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    /// <summary>SHA-256 of the script with line endings normalised, so a checkout with CRLF does not look tampered.</summary>
    public string Checksum => ComputeChecksum(Sql);

    public static string ComputeChecksum(string sql)
    {
        var normalised = sql.Replace("\r\n", "\n");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalised)));
    }

    public override string ToString() => $"{Version:D4}_{Name}";
}
