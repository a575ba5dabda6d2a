using NfcPipeline.OnnxRuntime.Native;

namespace NfcPipeline.OnnxRuntime;

/// <summary>A tensor's element type and shape. In model metadata, unknown dimensions are -1.</summary>
public sealed record OrtTensorTypeAndShapeInfo(TensorElementType ElementDataType, long[] Shape)
{
    /// <summary>Product of the dimensions; -1 when any is unknown. Checked: a product past long's range is an error, not a wrapped count.</summary>
    public long ElementCount => Shape.Any(d => d < 0) ? -1 : Shape.Aggregate(1L, (n, d) => checked(n * d));

    public int DimensionsCount => Shape.Length;

    /// <summary>The highest rank read; ONNX's own operators stop well below it.</summary>
    public const int MaxRank = 64;

    /// <summary>Reads and releases nothing: <paramref name="info"/> stays owned by the caller.</summary>
    internal static unsafe (TensorElementType Type, long[] Shape, string[] SymbolicDimensions) Read(nint info)
    {
        var api = OrtLibrary.Api;
        int elementType;
        nuint rank;
        NativeStatus.Check(api.GetTensorElementType(info, &elementType));
        NativeStatus.Check(api.GetDimensionsCount(info, &rank));
        // The rank comes from the model file: a crafted one of 200,000 dimensions overflowed the stack below (no
        // exception, the process ended) instead of failing the load.
        if (rank > MaxRank)
            throw new OnnxRuntimeException(OrtErrorCode.InvalidGraph, $"A tensor of rank {rank} is not supported (at most {MaxRank}).");
        var shape = new long[(int)rank];
        var symbolic = new string[(int)rank];
        if (rank > 0)
        {
            var names = stackalloc byte*[(int)rank];   // at most MaxRank pointers
            fixed (long* dims = shape) NativeStatus.Check(api.GetDimensions(info, dims, rank));
            NativeStatus.Check(api.GetSymbolicDimensions(info, names, rank));
            for (int i = 0; i < (int)rank; i++) symbolic[i] = NativeText.FromUtf8(names[i]) ?? string.Empty;
        }
        return ((TensorElementType)elementType, shape, symbolic);
    }
}
