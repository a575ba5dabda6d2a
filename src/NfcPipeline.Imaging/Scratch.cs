using System.Buffers;

namespace NfcPipeline.Imaging;

/// <summary>
/// Scratch buffers for decoding and inference: pooled up to <see cref="PooledLimitBytes"/>, allocated above it.
/// ArrayPool.Shared keeps arrays of up to 1 GiB per thread after use, rounded up to a power of two, so one huge
/// image's buffers would stay in every thread's cache, up to twice their size and beside the memory limits' count,
/// until the GC trims the pool.
/// </summary>
public static class Scratch
{
    public const long PooledLimitBytes = 16 << 20;

    public static T[] Rent<T>(int length) where T : unmanaged =>
        IsPooled<T>(length) ? ArrayPool<T>.Shared.Rent(length) : GC.AllocateUninitializedArray<T>(length);

    public static void Return<T>(T[] array) where T : unmanaged
    {
        if (IsPooled<T>(array.Length)) ArrayPool<T>.Shared.Return(array);
    }

    /// <summary>Whether a buffer of <paramref name="length"/> comes from the shared pool (else allocated at its size).</summary>
    public static bool IsPooled<T>(int length) where T : unmanaged =>
        (long)length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() <= PooledLimitBytes;
}
