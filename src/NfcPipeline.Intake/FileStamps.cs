using System.Globalization;
using Microsoft.Win32.SafeHandles;
using NfcPipeline.Intake.Native;

namespace NfcPipeline.Intake;

/// <summary>
/// What says an open file is the one read before, without reading it: its inode, size, modification and change times
/// (statx(2) of the descriptor), read at the same path. The change time cannot be set by a user: a file replaced with
/// its time kept (cp -a, rsync -t) or renamed into place changes it, or the inode. Not the device number, which a
/// network share gets anew at each mount, on each host. Null where it cannot be told (not Linux, statx refused).
/// </summary>
public static class FileStamps
{
    /// <summary>
    /// A change closer than this to the read may share its time with a later one (a share's coarse clock): not trusted.
    /// Compared in whole seconds, so 2 to 4 s in effect; the file server's clock is taken to agree with this host's.
    /// </summary>
    public static readonly TimeSpan RacyWindow = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The stamp of the open file, or null: unknown, or changed within <see cref="RacyWindow"/> of <paramref name="now"/>
    /// (a second write in the same tick of a coarse clock would leave it unchanged).
    /// </summary>
    public static unsafe string? Of(SafeFileHandle handle, DateTimeOffset now)
    {
        if (!OperatingSystem.IsLinux()) return null;
        byte* buffer = stackalloc byte[OpenNative.StatxSize];
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            if (OpenNative.Statx((int)handle.DangerousGetHandle(), "", OpenNative.EmptyPath, OpenNative.StatxStamp, buffer) != 0) return null;
        }
        finally { if (added) handle.DangerousRelease(); }
        // A file system that cannot give all of them (some network shares) gives no stamp.
        if ((*(uint*)(buffer + OpenNative.StatxMaskOffset) & OpenNative.StatxStamp) != OpenNative.StatxStamp) return null;
        var (ctimeSeconds, ctimeNanos) = (*(long*)(buffer + OpenNative.StatxCtimeOffset), *(uint*)(buffer + OpenNative.StatxCtimeOffset + 8));
        var (mtimeSeconds, mtimeNanos) = (*(long*)(buffer + OpenNative.StatxMtimeOffset), *(uint*)(buffer + OpenNative.StatxMtimeOffset + 8));
        long newest = Math.Max(ctimeSeconds, mtimeSeconds);
        if (now.ToUnixTimeSeconds() - newest < (long)Math.Ceiling(RacyWindow.TotalSeconds) + 1) return null;
        return string.Create(CultureInfo.InvariantCulture,
            $"{*(ulong*)(buffer + OpenNative.StatxInoOffset)}:{*(ulong*)(buffer + OpenNative.StatxSizeOffset)}:" +
            $"{mtimeSeconds}.{mtimeNanos:D9}:{ctimeSeconds}.{ctimeNanos:D9}");
    }
}
