namespace NfcPipeline.OnnxRuntime;

/// <summary>
/// One model input or output. For tensors, <see cref="Dimensions"/> holds -1 where a dimension is not fixed, and
/// <see cref="SymbolicDimensions"/> holds its name ("batch", "H") or an empty string.
/// </summary>
public sealed class NodeMetadata
{
    internal NodeMetadata(string name, OnnxValueType onnxValueType, TensorElementType elementDataType, long[] shape, string[] symbolicDimensions)
    {
        Name = name;
        OnnxValueType = onnxValueType;
        ElementDataType = elementDataType;
        Shape = shape;
        // A fixed side past the 32-bit range stays fixed (int.MaxValue), so a check refuses it; -1 meant "dynamic" to them.
        Dimensions = shape.Select(d => d < 0 ? -1 : (int)Math.Min(d, int.MaxValue)).ToArray();
        SymbolicDimensions = symbolicDimensions;
    }

    public string Name { get; }

    public OnnxValueType OnnxValueType { get; }

    public TensorElementType ElementDataType { get; }

    /// <summary>The CLR element type, or null where there is none (non-tensors, float16, complex).</summary>
    public Type? ElementType => IsTensor ? TensorElementTypes.ClrType(ElementDataType) : null;

    public int[] Dimensions { get; }

    /// <summary>The dimensions as 64-bit numbers, as ORT reports them.</summary>
    public long[] Shape { get; }

    public string[] SymbolicDimensions { get; }

    public bool IsTensor => OnnxValueType == OnnxValueType.ONNX_TYPE_TENSOR;

    public bool IsString => IsTensor && ElementDataType == TensorElementType.String;

    public override string ToString() =>
        $"{Name}: {ElementDataType}[{string.Join(", ", Shape.Select((d, i) => d >= 0 ? d.ToString() : SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]";
}
