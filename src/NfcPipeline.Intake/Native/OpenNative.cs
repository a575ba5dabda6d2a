using System.Runtime.InteropServices;

namespace NfcPipeline.Intake.Native;

/// <summary>
/// glibc open(2) with O_NONBLOCK and statx(2) on the open descriptor: .NET's own open blocks on a FIFO until a writer
/// comes, and a FIFO can be swapped in after a path's type was checked.
/// </summary>
internal static unsafe partial class OpenNative
{
    private const string Library = "libc.so.6";

    public const int ReadOnly = 0x0;             // O_RDONLY
    public const int NonBlocking = 0x800;        // O_NONBLOCK (x86-64 and AArch64)
    public const int CloseOnExec = 0x80000;      // O_CLOEXEC
    public const int NoControllingTerminal = 0x100;   // O_NOCTTY (x86-64 and AArch64): a tty swapped in never becomes the worker's
    public const int WouldBlock = 11;            // EAGAIN / EWOULDBLOCK
    public const int CurrentDirectory = -100;    // AT_FDCWD: a path as open(2) takes it
    public const int EmptyPath = 0x1000;         // AT_EMPTY_PATH: statx of the descriptor itself
    public const uint StatxType = 0x1;           // STATX_TYPE
    public const int StatxSize = 256;            // sizeof(struct statx)
    public const int StatxModeOffset = 28;       // offsetof(struct statx, stx_mode), a __u16
    public const int TypeMask = 0xF000, RegularFile = 0x8000;   // S_IFMT, S_IFREG
    public const uint StatxStamp = 0x1 | 0x100 | 0x200 | 0x80 | 0x40;   // STATX_TYPE | STATX_INO | STATX_SIZE | STATX_CTIME | STATX_MTIME
    // Offsets in struct statx (the same on every architecture): __u32 stx_mask; __u64 stx_ino, stx_size; struct
    // statx_timestamp { __s64 tv_sec; __u32 tv_nsec; } stx_ctime, stx_mtime.
    public const int StatxMaskOffset = 0, StatxInoOffset = 32, StatxSizeOffset = 40, StatxCtimeOffset = 96, StatxMtimeOffset = 112;

    [LibraryImport(Library, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Statx(int fd, string path, int flags, uint mask, byte* buffer);
}
