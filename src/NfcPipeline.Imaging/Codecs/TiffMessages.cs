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
    [ThreadStatic] private static HashSet<string>? seen;
    [ThreadStatic] private static string? truncation, corruption, lastDropped;

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

    /// <summary>The first errors, and the last where more came: a read error after many others is the failure to name.</summary>
    public static IReadOnlyList<string> Errors => lastDropped is null ? errors ??= [] : [.. errors ?? [], lastDropped];

    public static IReadOnlyList<string> Warnings => warnings ??= [];

    /// <summary>
    /// The first message (warning or error) of this decode telling of a strip that ends early, else of a damaged one, with
    /// its reason (<see cref="TiffCodec.StripDamage"/>): the end is the finding, as a strip cut short also loses lines.
    /// </summary>
    public static (string Message, ImageDecodeError Reason)? Damage =>
        truncation is { } t ? (t, ImageDecodeError.Truncated) : corruption is { } c ? (c, ImageDecodeError.Corrupt) : null;

    /// <summary>Installs the handlers on first use and empties this thread's lists before a decode.</summary>
    public static void Reset()
    {
        if (!Volatile.Read(ref installed)) Install();
        (errors ??= []).Clear();
        (warnings ??= []).Clear();
        (seen ??= []).Clear();
        truncation = corruption = lastDropped = null;
    }

    /// <summary>
    /// Distinct warnings, and errors, kept per decode: some come once per strip, tag or line (a fax strip of a million
    /// lines warns a million times, each naming its line), and a file of thousands would otherwise carry as many notes
    /// into its stored result, and hold them in memory. Damage is recorded apart, so the cap never hides it.
    /// </summary>
    internal const int MaxWarnings = 64;

    [UnmanagedCallersOnly]
    private static void OnError(byte* module, byte* format, nint args)
    {
        string text = Format(module, format, args);
        NoteDamage(text);
        var list = errors ??= [];
        if (list.Count < MaxWarnings) list.Add(text);
        else lastDropped = text;
    }

    [UnmanagedCallersOnly]
    private static void OnWarning(byte* module, byte* format, nint args)
    {
        string text = Format(module, format, args);
        NoteDamage(text);
        var list = warnings ??= [];
        if (list.Count < MaxWarnings && (seen ??= []).Add(text)) list.Add(text);
    }

    private static void NoteDamage(string text)
    {
        if (truncation is not null) return;
        switch (TiffCodec.StripDamage(text))
        {
            case ImageDecodeError.Truncated: truncation = text; break;
            case ImageDecodeError.Corrupt: corruption ??= text; break;
        }
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
