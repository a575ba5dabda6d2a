using System.Runtime.InteropServices;
using System.Text;

namespace NfcPipeline.OnnxRuntime.Native;

/// <summary>UTF-8 strings to and from native memory, and strings that ORT allocated with its default allocator.</summary>
internal static unsafe class NativeText
{
    public static string? FromUtf8(byte* text) => text == null ? null : Marshal.PtrToStringUTF8((nint)text);

    /// <summary>A null-terminated UTF-8 copy of <paramref name="text"/>; pin it with fixed for the call.</summary>
    public static byte[] ToUtf8(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    /// <summary>A null-terminated UTF-8 copy on the pinned object heap: its address is fixed for its whole life.</summary>
    public static byte[] ToPinnedUtf8(string text)
    {
        var bytes = GC.AllocateUninitializedArray<byte>(Encoding.UTF8.GetByteCount(text) + 1, pinned: true);
        bytes[Encoding.UTF8.GetBytes(text, bytes)] = 0;
        return bytes;
    }

    /// <summary>A null-terminated UTF-8 copy in unmanaged memory; free it with <see cref="Free"/>.</summary>
    public static nint Allocate(string text) => Marshal.StringToCoTaskMemUTF8(text);

    public static void Free(nint text) => Marshal.FreeCoTaskMem(text);

    public static nint DefaultAllocator
    {
        get
        {
            nint allocator;
            NativeStatus.Check(OrtLibrary.Api.GetAllocatorWithDefaultOptions(&allocator));
            return allocator;
        }
    }

    /// <summary>Reads a string that ORT allocated with the default allocator, then frees it there.</summary>
    public static string TakeAllocated(byte* text, nint allocator)
    {
        if (text == null) return string.Empty;
        try
        {
            return Marshal.PtrToStringUTF8((nint)text) ?? string.Empty;
        }
        finally
        {
            NativeStatus.ReleaseQuietly(OrtLibrary.Api.AllocatorFree(allocator, text));
        }
    }
}
