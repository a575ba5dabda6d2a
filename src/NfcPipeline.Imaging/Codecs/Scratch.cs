using System.Buffers;

namespace NfcPipeline.Imaging.Codecs;

/// <summary>
/// Decode scratch buffers: pooled up to <see cref="PooledLimitBytes"/>, allocated above it. ArrayPool.Shared keeps
/// arrays of up to 1 GiB per thread after use, so one huge image's buffers would stay in every decoding thread's cache,
/// beside the pixel limit's count, until the GC trims the pool.
/// </summary>
internal static class Scratch
{
    public const long PooledLimitBytes = 16 << 20;

    public static T[] Rent<T>(int length) where T : unmanaged =>
        (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() <= PooledLimitBytes
            ? ArrayPool<T>.Shared.Rent(length)
            : GC.AllocateUninitializedArray<T>(length);

    public static void Return<T>(T[] array) where T : unmanaged
    {
        if ((long)array.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() <= PooledLimitBytes)
            ArrayPool<T>.Shared.Return(array);
    }
}
