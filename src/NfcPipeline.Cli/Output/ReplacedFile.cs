using System.Text;

namespace NfcPipeline.Cli.Output;

/// <summary>
/// Writes a file whole or not at all: into a temporary file beside it, moved over the target once complete, so a write
/// cut short (a full disk, Ctrl-C) leaves the earlier file, not a truncated one that looks whole. UTF-8, no BOM.
/// </summary>
public static class ReplacedFile
{
    public static async Task WriteAsync(string path, Func<TextWriter, Task> write, CancellationToken ct)
    {
        var target = Path.GetFullPath(path);
        var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var writer = new StreamWriter(temporary, false, new UTF8Encoding(false)))
                await write(writer);
            ct.ThrowIfCancellationRequested();
            File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
            throw;
        }
    }
}
