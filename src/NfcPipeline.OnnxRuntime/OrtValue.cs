using System.Buffers;
using NfcPipeline.OnnxRuntime.Native;

namespace NfcPipeline.OnnxRuntime;

/// <summary>
/// An ONNX value (OrtValue). Inputs wrap caller memory with no copy: the memory stays pinned until the native value is
/// released (at Dispose, or after a Run still using it returns), and the caller must not reuse it while the value is in use. Outputs returned by Run own ORT's memory; read
/// them with <see cref="GetTensorDataAsSpan{T}"/> before disposing. One instance is not meant for concurrent Dispose
/// and use; reading a value from several threads at once is fine.
/// </summary>
public sealed unsafe class OrtValue : IDisposable
{
    // PublicationOnly: a first tensor made before the library could be found does not keep that failure for ever.
    private static readonly Lazy<NativeHandle> CpuMemoryInfo = new(CreateCpuMemoryInfo, LazyThreadSafetyMode.PublicationOnly);

    // The pin, where there is one, belongs to the handle: released after the native value (NativeHandle).
    private readonly NativeHandle _handle;
    private OrtTensorTypeAndShapeInfo? _typeAndShape;
    private int _disposed;

    private OrtValue(NativeHandle handle) => _handle = handle;

    internal NativeHandle Handle => _handle;

    /// <summary>Wraps an ORT-owned output value; <paramref name="sharesMemoryOf"/>: the input whose memory it is.</summary>
    internal static OrtValue FromNative(nint value, NativeHandle? sharesMemoryOf = null) =>
        new(new NativeHandle(value, OrtLibrary.Api.ReleaseValue, keepAlive: sharesMemoryOf));

    /// <summary>A tensor over <paramref name="data"/> with no copy; the array is pinned until Dispose.</summary>
    public static OrtValue CreateTensorValueFromMemory<T>(T[] data, long[] shape) where T : unmanaged =>
        CreateTensorValueFromMemory(new Memory<T>(data), shape);

    /// <summary>A tensor over <paramref name="memory"/> with no copy; the memory is pinned until Dispose.</summary>
    public static OrtValue CreateTensorValueFromMemory<T>(Memory<T> memory, long[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(shape);
        long expected = 1;
        foreach (var dim in shape)
        {
            if (dim < 0) throw new ArgumentException($"Shape [{string.Join(", ", shape)}] has a negative dimension.", nameof(shape));
            // Checked: [2^32, 2^32] wrapped to 0 and passed for an empty memory.
            expected = dim == 0 ? 0 : expected > long.MaxValue / dim ? throw new ArgumentException(
                $"Shape [{string.Join(", ", shape)}] holds more elements than a tensor can.", nameof(shape)) : expected * dim;
        }
        if (expected != memory.Length)
            throw new ArgumentException(
                $"Shape [{string.Join(", ", shape)}] holds {expected} elements but the memory holds {memory.Length}.", nameof(shape));

        var elementType = TensorElementTypes.Of<T>();
        var api = OrtLibrary.Api;
        var pin = memory.Pin();
        try
        {
            nint value;
            using (var info = CpuMemoryInfo.Value.Acquire())
            fixed (long* dims = shape)
            {
                NativeStatus.Check(api.CreateTensorWithDataAsOrtValue(info.Pointer, pin.Pointer,
                    (nuint)((long)memory.Length * sizeof(T)), dims, (nuint)shape.Length, (int)elementType, &value));
            }
            var handle = new NativeHandle(value, api.ReleaseValue, pin);
            pin = default;   // the handle's now: released after the native value, never twice
            return new OrtValue(handle);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    public bool IsTensor
    {
        get
        {
            int isTensor;
            using var value = _handle.Acquire();
            NativeStatus.Check(OrtLibrary.Api.IsTensor(value.Pointer, &isTensor));
            return isTensor != 0;
        }
    }

    public OnnxValueType OnnxType
    {
        get
        {
            int type;
            using var value = _handle.Acquire();
            NativeStatus.Check(OrtLibrary.Api.GetValueType(value.Pointer, &type));
            return (OnnxValueType)type;
        }
    }

    /// <summary>The tensor's element type and concrete shape (the caller's own copy).</summary>
    public OrtTensorTypeAndShapeInfo GetTensorTypeAndShape()
    {
        var known = TypeAndShape();
        return known with { Shape = (long[])known.Shape.Clone() };
    }

    /// <summary>Read once and kept private: a span's length comes from it, so a caller's edit of its copy cannot widen
    /// the span past ORT's buffer.</summary>
    private OrtTensorTypeAndShapeInfo TypeAndShape()
    {
        if (_typeAndShape is { } known) return known;
        var api = OrtLibrary.Api;
        nint info;
        using (var value = _handle.Acquire())
            NativeStatus.Check(api.GetTensorTypeAndShape(value.Pointer, &info));
        using var owned = new NativeHandle(info, api.ReleaseTensorTypeAndShapeInfo);
        var (type, shape, _) = OrtTensorTypeAndShapeInfo.Read(info);
        return _typeAndShape = new OrtTensorTypeAndShapeInfo(type, shape);
    }

    /// <summary>The tensor's elements, valid until this value is disposed.</summary>
    public ReadOnlySpan<T> GetTensorDataAsSpan<T>() where T : unmanaged => GetTensorMutableDataAsSpan<T>();

    /// <summary>The tensor's elements, writable, valid until this value is disposed.</summary>
    public Span<T> GetTensorMutableDataAsSpan<T>() where T : unmanaged
    {
        var info = TypeAndShape();
        var requested = TensorElementTypes.Of<T>();
        if (requested != info.ElementDataType)
            throw new InvalidOperationException($"The tensor holds {info.ElementDataType} elements, not {requested}.");
        void* data;
        using (var value = _handle.Acquire())
            NativeStatus.Check(OrtLibrary.Api.GetTensorMutableData(value.Pointer, &data));
        return new Span<T>(data, SpanLength(info.ElementCount));
    }

    internal static int SpanLength(long elementCount) =>
        elementCount > int.MaxValue ? throw new TensorTooLargeException(elementCount) : checked((int)elementCount);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _handle.Dispose();
    }

    private static NativeHandle CreateCpuMemoryInfo()
    {
        var api = OrtLibrary.Api;
        nint info;
        // OrtDeviceAllocator (0), OrtMemTypeDefault (0): plain CPU memory that the caller owns.
        NativeStatus.Check(api.CreateCpuMemoryInfo(0, 0, &info));
        return new NativeHandle(info, api.ReleaseMemoryInfo);
    }
}
