namespace NfcPipeline.OnnxRuntime;

/// <summary>The model's own description, including its custom metadata_props map.</summary>
public sealed class ModelMetadata
{
    internal ModelMetadata(string producerName, string graphName, string graphDescription, string domain,
        string description, long version, IReadOnlyDictionary<string, string> customMetadataMap)
    {
        ProducerName = producerName;
        GraphName = graphName;
        GraphDescription = graphDescription;
        Domain = domain;
        Description = description;
        Version = version;
        CustomMetadataMap = customMetadataMap;
    }

    public string ProducerName { get; }

    public string GraphName { get; }

    public string GraphDescription { get; }

    public string Domain { get; }

    public string Description { get; }

    /// <summary>The model_version field of the ONNX model.</summary>
    public long Version { get; }

    public IReadOnlyDictionary<string, string> CustomMetadataMap { get; }
}
