using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NfcPipeline.Imaging.Native;

namespace NfcPipeline.Imaging.Codecs;

/// <summary>
/// libtiff's error and warning handlers are process-wide and print to stderr by default. These replace them
/// once, and collect each message on the thread that triggered it: libtiff calls its handlers synchronously,
/// so a thread-static list keeps concurrent decodes apart.
/// </summary>
internal static unsafe class TiffMessages
{
    [ThreadStatic] private static List<string>? errors;
    [ThreadStatic] private static List<string>? warnings;

    private static readonly Lock InstallLock = new();
    private static bool installed;

    // Installed on first use rather than in a type initializer: without libtiff the DllNotFoundException then reaches
    // the caller as itself (as for libjpeg and libpng), not wrapped in a TypeInitializationException for ever after.
    private static void Install()
    {
        lock (InstallLock)
        {
            if (installed) return;
            LibTiffNative.SetErrorHandler(&OnError);
            LibTiffNative.SetWarningHandler(&OnWarning);
            Volatile.Write(ref installed, true);
        }
    }

    public static IReadOnlyList<string> Errors => errors ??= [];

    public static IReadOnlyList<string> Warnings => warnings ??= [];

    /// <summary>Installs the handlers on first use and empties this thread's lists before a decode.</summary>
    public static void Reset()
    {
        if (!Volatile.Read(ref installed)) Install();
        (errors ??= []).Clear();
        (warnings ??= []).Clear();
    }

    [UnmanagedCallersOnly]
    private static void OnError(byte* module, byte* format, nint args) =>
        (errors ??= []).Add(Format(module, format, args));

    /// <summary>Distinct warnings kept per decode: some come once per strip or tag, and a file of thousands would
    /// otherwise carry as many notes into its stored result.</summary>
    internal const int MaxWarnings = 64;

    [UnmanagedCallersOnly]
    private static void OnWarning(byte* module, byte* format, nint args)
    {
        var list = warnings ??= [];
        string text = Format(module, format, args);
        // A strip's damage is kept past the cap: the codec refuses the image on it.
        if ((list.Count < MaxWarnings || TiffCodec.StripDamage(text) is not null) && !list.Contains(text)) list.Add(text);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static string Format(byte* module, byte* format, nint args)
    {
        const int size = 512;
        byte* buffer = stackalloc byte[size];
        int written = LibCNative.VsnPrintf(buffer, size, format, args);
        string text = written < 0 ? Marshal.PtrToStringUTF8((nint)format) ?? "" : Marshal.PtrToStringUTF8((nint)buffer) ?? "";
        string? where = module is null ? null : Marshal.PtrToStringUTF8((nint)module);
        return string.IsNullOrEmpty(where) ? text : $"{where}: {text}";
    }
}
