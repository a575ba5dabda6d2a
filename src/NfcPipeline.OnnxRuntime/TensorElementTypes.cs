namespace NfcPipeline.OnnxRuntime;

/// <summary>Maps CLR element types onto ONNX tensor element types.</summary>
public static class TensorElementTypes
{
    public static TensorElementType Of<T>() where T : unmanaged => Of(typeof(T));

    public static TensorElementType Of(Type type) =>
        TryGet(type, out var elementType)
            ? elementType
            : throw new NotSupportedException($"{type.Name} is not a supported tensor element type.");

    public static bool TryGet(Type type, out TensorElementType elementType)
    {
        elementType = Type.GetTypeCode(type) switch
        {
            TypeCode.Single => TensorElementType.Float,
            TypeCode.Double => TensorElementType.Double,
            TypeCode.Byte => TensorElementType.UInt8,
            TypeCode.SByte => TensorElementType.Int8,
            TypeCode.Int16 => TensorElementType.Int16,
            TypeCode.UInt16 => TensorElementType.UInt16,
            TypeCode.Int32 => TensorElementType.Int32,
            TypeCode.UInt32 => TensorElementType.UInt32,
            TypeCode.Int64 => TensorElementType.Int64,
            TypeCode.UInt64 => TensorElementType.UInt64,
            TypeCode.Boolean => TensorElementType.Bool,
            _ => 0,
        };
        return elementType != 0;
    }

    /// <summary>The CLR type for an element type, or null where there is none here (string, float16, complex).</summary>
    public static Type? ClrType(TensorElementType elementType) => elementType switch
    {
        TensorElementType.Float => typeof(float),
        TensorElementType.Double => typeof(double),
        TensorElementType.UInt8 => typeof(byte),
        TensorElementType.Int8 => typeof(sbyte),
        TensorElementType.Int16 => typeof(short),
        TensorElementType.UInt16 => typeof(ushort),
        TensorElementType.Int32 => typeof(int),
        TensorElementType.UInt32 => typeof(uint),
        TensorElementType.Int64 => typeof(long),
        TensorElementType.UInt64 => typeof(ulong),
        TensorElementType.Bool => typeof(bool),
        TensorElementType.String => typeof(string),
        _ => null,
    };
}
