using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using NfcPipeline.Core.Domain;
using NfcPipeline.Intake.Native;

namespace NfcPipeline.Intake;

/// <summary>Path rules for everything read from the share: no escape through '..', absolute paths or symlinks.</summary>
public static class SharePaths
{
    private static readonly string[] TemporarySuffixes = [".tmp", ".temp", ".part", ".partial", ".crdownload", ".swp", "~"];
    private static readonly HashSet<string> IgnoredNames = new(StringComparer.OrdinalIgnoreCase)
    {
        StudyManifest.FileName, "READY", "READY.txt", "Thumbs.db", "desktop.ini",
    };

    /// <summary>Hidden, temporary, marker and manifest files are not images and are passed over silently.</summary>
    public static bool IsIgnored(string fileName) =>
        fileName.StartsWith('.') || fileName.StartsWith('~') || IgnoredNames.Contains(fileName)
        || TemporarySuffixes.Any(s => fileName.EndsWith(s, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// A name that is not valid UTF-8 on disk (a Latin-1 "Müller", say): .NET lists it with U+FFFD in place of the bad
    /// bytes, and the path built from that names no file, so it can be neither opened nor told apart from its look-alikes.
    /// </summary>
    public static bool HasUndecodableName(string name) => name.Contains('\uFFFD');

    /// <summary>
    /// A name as logs and terminals may show it: control characters (a newline would forge a log line, an escape drive
    /// the terminal), line and paragraph separators and bidirectional overrides (which reorder what is shown) as '?'.
    /// </summary>
    public static string Printable(string name) => PrintableText.Printable(name);

    /// <summary>Whether <see cref="Printable"/> would change the name.</summary>
    public static bool HasUnprintable(string name) => PrintableText.HasUnprintable(name);

    /// <summary>
    /// Why a listed image's patient or finger cannot be used, or null. The reports show a listed field as
    /// code/finger/file, so a '/' in one ("P01/L2" with no finger) would show two fields alike, and a review could name neither.
    /// </summary>
    public static string? ListedNameProblem(string patient, string? finger)
    {
        // An empty finger is none, as it always was (the patient's emptiness is refused by the callers).
        foreach (var (what, name) in new[] { ("patient", patient), ("finger", finger == "" ? null : finger) })
        {
            if (name is null) continue;
            if (HasUnprintable(name)) return $"the {what} must be printable";
            if (name.Length == 0 || name != name.Trim()) return $"the {what} may not be empty or begin or end with a space";
            if (name.Contains('/') || name.Contains('\\')) return $"the {what} may not hold '/' or '\\' (reports show code/finger/file)";
            if (name.Length > 128) return $"the {what} must be at most 128 characters";
        }
        return null;
    }

    /// <summary>Why an entry whose name holds a control character is left out (the paths built from it are refused too).</summary>
    public const string ControlCharacterNameReason =
        "its name holds a control character (a tab, a newline, an escape), a line separator, a bidirectional override or an invisible character (a zero-width space); rename it to have it analysed";

    /// <summary>
    /// Why a name holding a backslash is skipped: paths from messages and forms read it as a folder separator
    /// (<see cref="ResolveUnder"/>), so the file registered would not be the one analysed. Archives written on Windows
    /// and unpacked elsewhere leave such names ("P01\L2\f1.jpg").
    /// </summary>
    public const string BackslashNameReason = "its name holds a backslash, read elsewhere as a folder separator (an archive from Windows unpacked as flat names?); rename it to have it analysed";

    /// <summary>
    /// Why an entry is left out of a study for its name alone (not valid UTF-8, unprintable, a backslash), or null: the
    /// one rule of registration and of the share's scan, which counts only what registration would take.
    /// </summary>
    public static string? NameRefusal(string name) =>
        string.IsNullOrWhiteSpace(name) ? BlankNameReason
        : HasUndecodableName(name) ? UndecodableNameReason
        : HasUnprintable(name) ? ControlCharacterNameReason
        : name.Contains('\\') ? BackslashNameReason
        : null;

    /// <summary>Why an entry named by spaces alone is left out: a path made of it reads as empty, and is refused so.</summary>
    public const string BlankNameReason = "its name is only spaces; rename it to have it analysed";

    /// <summary>Why such an entry is left out.</summary>
    public const string UndecodableNameReason = "its name is not valid UTF-8 (written in another encoding?); rename it to have it analysed";

    /// <summary>The limit on links followed while resolving one path, as the kernel's (ELOOP).</summary>
    private const int MaxLinks = 40;

    /// <summary>
    /// The path with every symlink resolved, as realpath(3) does: a link's target is resolved again component by
    /// component, and '..' applies to the resolved folder, so a chain of links cannot end up elsewhere than the kernel
    /// opens. Components that do not exist are taken as they are.
    /// </summary>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? Path.DirectorySeparatorChar.ToString();
        var pending = new Stack<string>(Components(full[root.Length..]).Reverse());
        var current = root;
        int links = 0;
        while (pending.TryPop(out var part))
        {
            if (part == "..") { current = Path.GetDirectoryName(current) ?? root; continue; }
            var next = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
            if (info.LinkTarget is not { } target) { current = next; continue; }
            if (++links > MaxLinks) throw new IOException($"Too many levels of symbolic links under '{current}'.");
            foreach (var component in Components(target).Reverse()) pending.Push(component);
            if (Path.IsPathRooted(target)) current = Path.GetPathRoot(target) ?? root;
        }
        return current;
    }

    private static IEnumerable<string> Components(string path) =>
        path.Split(['/', Path.DirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries).Where(p => p != ".");

    /// <summary><see cref="LinkRefusal"/>'s reason for a link whose target is not there (removed, or on a mount that is away).</summary>
    public const string BrokenLink = "broken link";

    /// <summary>
    /// Null when the link at <paramref name="linkPath"/> leads to something that exists inside
    /// <paramref name="realRoot"/> (resolved as the kernel opens it); otherwise why it is refused.
    /// </summary>
    public static string? LinkRefusal(string linkPath, string realRoot)
    {
        string real;
        try { real = RealPath(linkPath); }
        catch (IOException) { return "link loops (too many levels of links)"; }
        if (!File.Exists(real) && !Directory.Exists(real)) return BrokenLink;
        if (!IsInside(real, realRoot)) return "link leads outside the share; refused";
        // A link to the folder that holds it, or to one above (the share's root): followed, it would take in the whole
        // share, other studies' images among them, as this folder's.
        var holder = RealPath(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(linkPath))!);
        return IsInside(holder, real) ? "link leads back to a folder that holds it (the share's root, or above the link); refused" : null;
    }

    /// <summary>
    /// Opens a file of the share read-only (shared) and checks the open file itself: a path checked inside the share,
    /// then swapped for a link leading out (its real path from /proc/self/fd), or for a FIFO, socket or device, before it
    /// was opened, is refused with an <see cref="IOException"/>. A FIFO is opened without blocking. Every read of a
    /// share file goes through here.
    /// </summary>
    public static FileStream OpenInside(string path, string realRoot)
    {
        var handle = OperatingSystem.IsLinux() ? OpenWithoutBlocking(path) : File.OpenHandle(path, FileMode.Open, FileAccess.Read,
            FileShare.ReadWrite | FileShare.Delete, FileOptions.SequentialScan);
        try
        {
            if (!IsOpenFileInside(handle, realRoot))
                throw new ShareFileRefusedException("it led out of the allowed folder when opened (a link swapped in after the path was checked); refused");
            return new FileStream(handle, FileAccess.Read, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Past the kernel's default lease-break time (/proc/sys/fs/lease-break-time, 45 s).</summary>
    private static readonly TimeSpan LeaseBreakWait = TimeSpan.FromSeconds(50);

    private const string NotRegular = "it is not a regular file (a FIFO, socket, device or folder); refused";

    /// <summary>
    /// The path's type first, so a FIFO, socket or device is never opened (opening some devices does things); then
    /// open(2) with O_NONBLOCK and the descriptor's own type, for one swapped in between: only a regular file is kept.
    /// </summary>
    private static SafeFileHandle OpenWithoutBlocking(string path)
    {
        if (IsRegular(OpenNative.CurrentDirectory, path, 0) == false) throw new ShareFileRefusedException(NotRegular);
        int fd = OpenNative.Open(path, OpenNative.ReadOnly | OpenNative.NonBlocking | OpenNative.CloseOnExec | OpenNative.NoControllingTerminal);
        // EWOULDBLOCK: a regular file under a lease (Samba oplocks, an NFS delegation). The failed open asks its holder to
        // give it up, so the open is tried again, non-blocking still, for as long as the kernel gives a holder (45 s by
        // default): a blocking open would wait as long, but hang for ever on a FIFO swapped in meanwhile.
        var leased = Stopwatch.StartNew();
        for (var wait = 50; fd < 0 && Marshal.GetLastPInvokeError() == OpenNative.WouldBlock && leased.Elapsed < LeaseBreakWait; wait = Math.Min(2 * wait, 1000))
        {
            Thread.Sleep(wait);
            fd = OpenNative.Open(path, OpenNative.ReadOnly | OpenNative.NonBlocking | OpenNative.CloseOnExec | OpenNative.NoControllingTerminal);
        }
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            var reason = Marshal.GetPInvokeErrorMessage(errno);
            // The errors .NET's own open maps, so callers' handling (missing file, no permission) stays as it was.
            throw errno switch
            {
                2 => new FileNotFoundException($"Could not find file: {reason}"),             // ENOENT
                13 or 1 => new UnauthorizedAccessException($"Access to the file is denied: {reason}"),   // EACCES, EPERM
                20 => new DirectoryNotFoundException($"A folder of the path is missing: {reason}"),   // ENOTDIR
                _ => new IOException($"The file cannot be opened: {reason}", errno),
            };
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (IsRegular(fd, "", OpenNative.EmptyPath) == false)
        {
            handle.Dispose();
            throw new ShareFileRefusedException(NotRegular);
        }
        return handle;
    }

    /// <summary>statx(2) of a path, or of a descriptor with AT_EMPTY_PATH: whether it is a regular file; null when unknown.</summary>
    private static unsafe bool? IsRegular(int dirFd, string path, int flags)
    {
        byte* buffer = stackalloc byte[OpenNative.StatxSize];
        if (OpenNative.Statx(dirFd, path, flags, OpenNative.StatxType, buffer) != 0) return null;
        return (*(ushort*)(buffer + OpenNative.StatxModeOffset) & OpenNative.TypeMask) == OpenNative.RegularFile;
    }

    /// <summary>
    /// Whether an open file lies inside <paramref name="realRoot"/>. Where /proc/self/fd is there (Linux), a descriptor
    /// it cannot resolve counts as outside; without it (not Linux, or /proc not mounted) this cannot be told: true.
    /// </summary>
    public static bool IsOpenFileInside(SafeFileHandle handle, string realRoot) =>
        RealPathOfOpen(handle) is { } opened ? IsInside(opened, realRoot) : !ProcFdAvailable;

    private static readonly bool ProcFdAvailable = OperatingSystem.IsLinux() && Directory.Exists("/proc/self/fd");

    /// <summary>Where an open file really is (Linux: /proc/self/fd), or null when that cannot be told.</summary>
    private static string? RealPathOfOpen(SafeFileHandle handle)
    {
        if (!OperatingSystem.IsLinux() || handle.IsInvalid) return null;
        try { return File.ResolveLinkTarget($"/proc/self/fd/{handle.DangerousGetHandle()}", returnFinalTarget: false)?.FullName; }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return null; }
    }

    public static bool IsInside(string realPath, string realRoot)
    {
        var root = realRoot.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        return realPath.StartsWith(root, StringComparison.Ordinal) || IsRoot(realPath, realRoot);
    }

    /// <summary>Whether a real path is the root itself: inside it, but never a study folder or a file of one.</summary>
    public static bool IsRoot(string realPath, string realRoot) => realPath == realRoot.TrimEnd(Path.DirectorySeparatorChar);

    /// <summary>Why a path that leads to the share's root is refused: as a study, it would take in every other study.</summary>
    public const string RootItselfReason =
        "The path leads to the share's root itself (a link to it?); as a study folder it would take in every other study. Refused.";

    /// <summary>
    /// Resolves a path relative to <paramref name="root"/> from an outside source (a message, a form), refusing
    /// absolute paths, '..' segments, control characters, and symlinks whose target leaves the root. Returns the
    /// resolved path, so what is opened afterwards is what was checked, not a link that might change in between.
    /// </summary>
    public static string ResolveUnder(string root, string relativePath)
    {
        if (string.IsNullOrWhiteSpace(relativePath)) throw new StudyLayoutException("The path is empty.");
        // First, as every message below quotes the path: a line break in it forged a log line in the fault's log.
        if (HasUnprintable(relativePath))
            throw new StudyLayoutException("The path contains control characters, line separators, bidirectional overrides or invisible characters.");
        if (Path.IsPathRooted(relativePath))
            throw new StudyLayoutException($"'{relativePath}' is absolute; give a path relative to the share.");
        if (relativePath.StartsWith('~'))
            throw new StudyLayoutException($"'{relativePath}' starts with '~', which a shell reads as a home folder; give a path relative to the share, without it.");
        var segments = relativePath.Split('/', '\\');
        if (segments.Any(s => s is ".." or "."))
            throw new StudyLayoutException($"'{relativePath}' contains '.' or '..'; paths must stay inside the share.");
        var realRoot = RealPath(root);
        var candidate = Path.Combine(realRoot, Path.Combine(segments.Where(s => s.Length > 0).ToArray()));
        if (!File.Exists(candidate) && !Directory.Exists(candidate))
            throw new StudyLayoutException($"'{relativePath}' does not exist in the share.") { Missing = true };
        string real;
        try { real = RealPath(candidate); }
        // Not the system's message: it quotes the resolved path, which names folders below this one (a patient's).
        catch (IOException e) { throw new StudyLayoutException($"'{relativePath}' cannot be resolved (links that loop or nest too deep; {e.GetType().Name})."); }
        if (!IsInside(real, realRoot))
            throw new StudyLayoutException($"'{relativePath}' is a link that leads outside the share; it is refused.");
        if (IsRoot(real, realRoot)) throw new StudyLayoutException(RootItselfReason);
        return real;
    }

    /// <summary>
    /// Whether a study folder (relative to the share's root) is no longer in the share: its parent folder lists, and the
    /// name is not among its entries (a folder renamed or moved). Anything that cannot be listed (a mount away, a
    /// parent that cannot be read, an empty root) is not taken for gone: Directory.Exists is false on such errors too.
    /// </summary>
    public static bool FolderGone(string root, string sourcePath)
    {
        try
        {
            var realRoot = RealPath(root);
            if (!Directory.EnumerateFileSystemEntries(realRoot).Any()) return false;
            var path = Path.Combine(realRoot, sourcePath);
            var parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(path));
            if (parent is null || !IsInside(parent, realRoot)) return false;
            var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
            return !Directory.EnumerateFileSystemEntries(parent).Any(e => Path.GetFileName(e) == name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return false; }
    }

    /// <summary>
    /// The study folder's path as a study records it (<c>studies.source_path</c>): relative to the share, links resolved,
    /// so two spellings of one folder are one study and two folders are never one study id.
    /// </summary>
    public static string StudySourcePath(string root, string folder)
    {
        var source = Path.GetRelativePath(RealPath(root), ResolveUnder(root, folder));
        // A link's target must itself be a path analysis resolves (not "~staging/S1", not a name it refuses): every
        // image would fail as NotInShare otherwise, after the study was registered. Its segments, as they are: read as
        // a path again, "Study\1" would be Study/1, another folder or none.
        if (source.StartsWith('~') || source.Split(Path.DirectorySeparatorChar).Any(segment => NameRefusal(segment) is not null))
            throw new StudyLayoutException($"The study folder is a link to '{Printable(source)}', a path analysis refuses (a name " +
                "that starts with '~' or holds a backslash or a character it cannot print); link to, or move the study to, a folder " +
                "with a usable name.");
        return source;
    }
}
