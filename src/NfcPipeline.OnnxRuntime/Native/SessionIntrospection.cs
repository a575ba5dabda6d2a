namespace NfcPipeline.OnnxRuntime.Native;

/// <summary>Reads a session's inputs, outputs and model metadata.</summary>
internal static unsafe class SessionIntrospection
{
    public static List<NodeMetadata> ReadNodes(nint session, bool inputs)
    {
        var api = OrtLibrary.Api;
        var allocator = NativeText.DefaultAllocator;
        nuint count;
        NativeStatus.Check(inputs ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count));
        var nodes = new List<NodeMetadata>((int)count);
        for (nuint i = 0; i < count; i++)
        {
            byte* rawName;
            NativeStatus.Check(inputs
                ? api.SessionGetInputName(session, i, allocator, &rawName)
                : api.SessionGetOutputName(session, i, allocator, &rawName));
            var name = NativeText.TakeAllocated(rawName, allocator);

            nint typeInfo;
            NativeStatus.Check(inputs
                ? api.SessionGetInputTypeInfo(session, i, &typeInfo)
                : api.SessionGetOutputTypeInfo(session, i, &typeInfo));
            using var ownedTypeInfo = new NativeHandle(typeInfo, api.ReleaseTypeInfo);
            nodes.Add(ReadNode(name, typeInfo));
        }
        return nodes;
    }

    private static NodeMetadata ReadNode(string name, nint typeInfo)
    {
        var api = OrtLibrary.Api;
        int onnxType;
        NativeStatus.Check(api.GetOnnxTypeFromTypeInfo(typeInfo, &onnxType));
        if ((OnnxValueType)onnxType != OnnxValueType.ONNX_TYPE_TENSOR)
            return new NodeMetadata(name, (OnnxValueType)onnxType, 0, [], []);

        // The tensor info belongs to typeInfo and is freed with it.
        nint tensorInfo;
        NativeStatus.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        var (elementType, shape, symbolic) = OrtTensorTypeAndShapeInfo.Read(tensorInfo);
        return new NodeMetadata(name, OnnxValueType.ONNX_TYPE_TENSOR, elementType, shape, symbolic);
    }

    public static ModelMetadata ReadModelMetadata(nint session)
    {
        var api = OrtLibrary.Api;
        var allocator = NativeText.DefaultAllocator;
        nint created;
        NativeStatus.Check(api.SessionGetModelMetadata(session, &created));
        using var owned = new NativeHandle(created, api.ReleaseModelMetadata);
        var raw = created;

        string Text(delegate* unmanaged<nint, nint, byte**, nint> getter)
        {
            byte* value;
            NativeStatus.Check(getter(raw, allocator, &value));
            return NativeText.TakeAllocated(value, allocator);
        }

        long version;
        NativeStatus.Check(api.ModelMetadataGetVersion(raw, &version));
        return new ModelMetadata(
            producerName: Text(api.ModelMetadataGetProducerName),
            graphName: Text(api.ModelMetadataGetGraphName),
            graphDescription: Text(api.ModelMetadataGetGraphDescription),
            domain: Text(api.ModelMetadataGetDomain),
            description: Text(api.ModelMetadataGetDescription),
            version: version,
            customMetadataMap: ReadCustomMetadata(raw, allocator));
    }

    private static Dictionary<string, string> ReadCustomMetadata(nint metadata, nint allocator)
    {
        var api = OrtLibrary.Api;
        byte** keys;
        long count;
        NativeStatus.Check(api.ModelMetadataGetCustomMetadataMapKeys(metadata, allocator, &keys, &count));
        var map = new Dictionary<string, string>((int)count, StringComparer.Ordinal);
        if (keys == null) return map;
        try
        {
            // Take every key first, so that all of them are freed even if a lookup fails.
            var names = new string[count];
            for (long i = 0; i < count; i++) names[i] = NativeText.TakeAllocated(keys[i], allocator);
            foreach (var name in names)
            {
                byte* value;
                fixed (byte* key = NativeText.ToUtf8(name))
                    NativeStatus.Check(api.ModelMetadataLookupCustomMetadataMap(metadata, allocator, key, &value));
                map[name] = NativeText.TakeAllocated(value, allocator);
            }
            return map;
        }
        finally
        {
            NativeStatus.ReleaseQuietly(api.AllocatorFree(allocator, keys));
        }
    }
}
