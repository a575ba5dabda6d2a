using System.Text;

namespace NfcPipeline.Cli.Output;

/// <summary>
/// Writes a file whole or not at all: into a temporary file beside it, moved over the target once complete, so a write
/// cut short (a full disk, Ctrl-C) leaves the earlier file, not a truncated one that looks whole. UTF-8, no BOM. A link
/// is written through (its target replaced, the link kept), and a file replaced keeps its permissions (a report kept
/// 0600 does not become readable by all). A FIFO or a device (/dev/stdout, a shell's &gt;(gzip &gt; r.gz)) is written
/// into as it is: a rename would put a file in its place (and, for root, /dev/null with it).
/// </summary>
public static class ReplacedFile
{
    public static async Task WriteAsync(string path, Func<TextWriter, Task> write, CancellationToken ct)
    {
        var target = Path.GetFullPath(path);
        if (!NfcPipeline.Imaging.FileTypes.IsRegularFileOrUnknown(target))
        {
            await using var into = new StreamWriter(new FileStream(target, FileMode.Open, FileAccess.Write), new UTF8Encoding(false));
            await write(into);
            return;
        }
        // Followed as the kernel follows it (.NET's ResolveLinkTarget takes a relative target from the path as written,
        // wrong under a linked folder); a link to nothing yet is written through, as the shell's > would.
        if (new FileInfo(target).LinkTarget is not null)
            target = NfcPipeline.Intake.SharePaths.RealPath(target);
        // A file its owner made read-only is one to keep (a rename would replace it all the same).
        if (!OperatingSystem.IsWindows() && File.Exists(target) && (File.GetUnixFileMode(target) & UnixFileMode.UserWrite) == 0)
            throw new IOException($"{target} is read-only; remove it or write another file.");
        var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
        StreamWriter created;
        // Created with the replaced file's mode, not widened to it after the writing: a 0600 report was readable by all
        // (umask 022) while written, and a reader that opened it then kept reading.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows() && File.Exists(target)) options.UnixCreateMode = File.GetUnixFileMode(target);
        // The error names the file asked for, not the hidden temporary one.
        try { created = new StreamWriter(temporary, new UTF8Encoding(false), options); }
        catch (UnauthorizedAccessException ex) { throw new UnauthorizedAccessException($"{target} cannot be written: its folder is not writable.", ex); }
        catch (DirectoryNotFoundException ex) { throw new IOException($"{target} cannot be written: folder {Path.GetDirectoryName(target)} does not exist.", ex); }
        try
        {
            await using (var writer = created)
            {
                await write(writer);
                // On disk before the rename: a power loss must leave the earlier file or the whole new one, not an empty one.
                await writer.FlushAsync(ct);
                ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
            }
            ct.ThrowIfCancellationRequested();
            // Again, exactly: the umask may have narrowed the mode it was created with.
            if (!OperatingSystem.IsWindows() && File.Exists(target)) File.SetUnixFileMode(temporary, File.GetUnixFileMode(target));
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
