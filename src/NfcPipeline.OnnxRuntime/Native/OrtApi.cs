namespace NfcPipeline.OnnxRuntime.Native;

/// <summary>
/// The entries of ONNX Runtime's C function table (struct OrtApi in onnxruntime_c_api.h) that this binding uses.
/// The table only grows at its end, so the indices below, counted against the header of API version 13, stay valid
/// in every later library. Tests call each entry and check its effect, which catches a miscounted index.
/// </summary>
internal sealed unsafe partial class OrtApi
{
    /// <summary>The table version requested from OrtGetApiBase; 13 (ORT 1.13) has everything used here.</summary>
    public const uint Version = 13;

    // OrtStatus
    public readonly delegate* unmanaged<int, byte*, nint> CreateStatus;
    public readonly delegate* unmanaged<nint, int> GetErrorCode;
    public readonly delegate* unmanaged<nint, byte*> GetErrorMessage;
    public readonly delegate* unmanaged<nint, void> ReleaseStatus;

    // OrtEnv
    public readonly delegate* unmanaged<int, byte*, nint*, nint> CreateEnv;
    public readonly delegate* unmanaged<nint, void> ReleaseEnv;
    public readonly delegate* unmanaged<byte***, int*, nint> GetAvailableProviders;
    public readonly delegate* unmanaged<byte**, int, nint> ReleaseAvailableProviders;

    // OrtSessionOptions
    public readonly delegate* unmanaged<nint*, nint> CreateSessionOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseSessionOptions;
    public readonly delegate* unmanaged<nint, int, nint> SetSessionExecutionMode;
    public readonly delegate* unmanaged<nint, byte*, nint> EnableProfiling;
    public readonly delegate* unmanaged<nint, nint> EnableMemPattern;
    public readonly delegate* unmanaged<nint, nint> DisableMemPattern;
    public readonly delegate* unmanaged<nint, nint> EnableCpuMemArena;
    public readonly delegate* unmanaged<nint, nint> DisableCpuMemArena;
    public readonly delegate* unmanaged<nint, int, nint> SetSessionLogSeverityLevel;
    public readonly delegate* unmanaged<nint, int, nint> SetSessionGraphOptimizationLevel;
    public readonly delegate* unmanaged<nint, int, nint> SetIntraOpNumThreads;
    public readonly delegate* unmanaged<nint, int, nint> SetInterOpNumThreads;
    public readonly delegate* unmanaged<nint, byte*, long, nint> AddFreeDimensionOverrideByName;
    public readonly delegate* unmanaged<nint, byte*, byte*, nint> AddSessionConfigEntry;

    // CUDA execution provider (opaque OrtCUDAProviderOptionsV2)
    public readonly delegate* unmanaged<nint, nint, nint> SessionOptionsAppendExecutionProvider_CUDA_V2;
    public readonly delegate* unmanaged<nint*, nint> CreateCUDAProviderOptions;
    public readonly delegate* unmanaged<nint, byte**, byte**, nuint, nint> UpdateCUDAProviderOptions;
    public readonly delegate* unmanaged<nint, nint, byte**, nint> GetCUDAProviderOptionsAsString;
    public readonly delegate* unmanaged<nint, void> ReleaseCUDAProviderOptions;

    // OrtSession
    public readonly delegate* unmanaged<nint, byte*, nint, nint*, nint> CreateSession;
    public readonly delegate* unmanaged<nint, void> ReleaseSession;
    public readonly delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint> Run;
    public readonly delegate* unmanaged<nint, nint, byte**, nint> SessionEndProfiling;
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetInputCount;
    public readonly delegate* unmanaged<nint, nuint*, nint> SessionGetOutputCount;
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetInputTypeInfo;
    public readonly delegate* unmanaged<nint, nuint, nint*, nint> SessionGetOutputTypeInfo;
    public readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetInputName;
    public readonly delegate* unmanaged<nint, nuint, nint, byte**, nint> SessionGetOutputName;

    // OrtRunOptions
    public readonly delegate* unmanaged<nint*, nint> CreateRunOptions;
    public readonly delegate* unmanaged<nint, void> ReleaseRunOptions;
    public readonly delegate* unmanaged<nint, int, nint> RunOptionsSetRunLogSeverityLevel;
    public readonly delegate* unmanaged<nint, byte*, nint> RunOptionsSetRunTag;
    public readonly delegate* unmanaged<nint, int*, nint> RunOptionsGetRunLogSeverityLevel;
    public readonly delegate* unmanaged<nint, byte**, nint> RunOptionsGetRunTag;
    public readonly delegate* unmanaged<nint, nint> RunOptionsSetTerminate;
    public readonly delegate* unmanaged<nint, nint> RunOptionsUnsetTerminate;

    public OrtApi(nint table)
    {
        var t = (nint*)table;
        CreateStatus = (delegate* unmanaged<int, byte*, nint>)t[0];
        GetErrorCode = (delegate* unmanaged<nint, int>)t[1];
        GetErrorMessage = (delegate* unmanaged<nint, byte*>)t[2];
        CreateEnv = (delegate* unmanaged<int, byte*, nint*, nint>)t[3];
        CreateSession = (delegate* unmanaged<nint, byte*, nint, nint*, nint>)t[7];
        Run = (delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)t[9];
        CreateSessionOptions = (delegate* unmanaged<nint*, nint>)t[10];
        SetSessionExecutionMode = (delegate* unmanaged<nint, int, nint>)t[13];
        EnableProfiling = (delegate* unmanaged<nint, byte*, nint>)t[14];
        EnableMemPattern = (delegate* unmanaged<nint, nint>)t[16];
        DisableMemPattern = (delegate* unmanaged<nint, nint>)t[17];
        EnableCpuMemArena = (delegate* unmanaged<nint, nint>)t[18];
        DisableCpuMemArena = (delegate* unmanaged<nint, nint>)t[19];
        SetSessionLogSeverityLevel = (delegate* unmanaged<nint, int, nint>)t[22];
        SetSessionGraphOptimizationLevel = (delegate* unmanaged<nint, int, nint>)t[23];
        SetIntraOpNumThreads = (delegate* unmanaged<nint, int, nint>)t[24];
        SetInterOpNumThreads = (delegate* unmanaged<nint, int, nint>)t[25];
        SessionGetInputCount = (delegate* unmanaged<nint, nuint*, nint>)t[30];
        SessionGetOutputCount = (delegate* unmanaged<nint, nuint*, nint>)t[31];
        SessionGetInputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)t[33];
        SessionGetOutputTypeInfo = (delegate* unmanaged<nint, nuint, nint*, nint>)t[34];
        SessionGetInputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)t[36];
        SessionGetOutputName = (delegate* unmanaged<nint, nuint, nint, byte**, nint>)t[37];
        CreateRunOptions = (delegate* unmanaged<nint*, nint>)t[39];
        RunOptionsSetRunLogSeverityLevel = (delegate* unmanaged<nint, int, nint>)t[41];
        RunOptionsSetRunTag = (delegate* unmanaged<nint, byte*, nint>)t[42];
        RunOptionsGetRunLogSeverityLevel = (delegate* unmanaged<nint, int*, nint>)t[44];
        RunOptionsGetRunTag = (delegate* unmanaged<nint, byte**, nint>)t[45];
        RunOptionsSetTerminate = (delegate* unmanaged<nint, nint>)t[46];
        RunOptionsUnsetTerminate = (delegate* unmanaged<nint, nint>)t[47];
        ReleaseEnv = (delegate* unmanaged<nint, void>)t[92];
        ReleaseStatus = (delegate* unmanaged<nint, void>)t[93];
        ReleaseSession = (delegate* unmanaged<nint, void>)t[95];
        ReleaseRunOptions = (delegate* unmanaged<nint, void>)t[97];
        ReleaseSessionOptions = (delegate* unmanaged<nint, void>)t[100];
        SessionEndProfiling = (delegate* unmanaged<nint, nint, byte**, nint>)t[110];
        AddFreeDimensionOverrideByName = (delegate* unmanaged<nint, byte*, long, nint>)t[124];
        GetAvailableProviders = (delegate* unmanaged<byte***, int*, nint>)t[125];
        ReleaseAvailableProviders = (delegate* unmanaged<byte**, int, nint>)t[126];
        AddSessionConfigEntry = (delegate* unmanaged<nint, byte*, byte*, nint>)t[130];
        SessionOptionsAppendExecutionProvider_CUDA_V2 = (delegate* unmanaged<nint, nint, nint>)t[204];
        CreateCUDAProviderOptions = (delegate* unmanaged<nint*, nint>)t[205];
        UpdateCUDAProviderOptions = (delegate* unmanaged<nint, byte**, byte**, nuint, nint>)t[206];
        GetCUDAProviderOptionsAsString = (delegate* unmanaged<nint, nint, byte**, nint>)t[207];
        ReleaseCUDAProviderOptions = (delegate* unmanaged<nint, void>)t[208];
        // Values, type information, memory and model metadata (fields in OrtApi.Values.cs).
        CreateTensorWithDataAsOrtValue = (delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)t[49];
        IsTensor = (delegate* unmanaged<nint, int*, nint>)t[50];
        GetTensorMutableData = (delegate* unmanaged<nint, void**, nint>)t[51];
        CastTypeInfoToTensorInfo = (delegate* unmanaged<nint, nint*, nint>)t[55];
        GetOnnxTypeFromTypeInfo = (delegate* unmanaged<nint, int*, nint>)t[56];
        GetTensorElementType = (delegate* unmanaged<nint, int*, nint>)t[60];
        GetDimensionsCount = (delegate* unmanaged<nint, nuint*, nint>)t[61];
        GetDimensions = (delegate* unmanaged<nint, long*, nuint, nint>)t[62];
        GetSymbolicDimensions = (delegate* unmanaged<nint, byte**, nuint, nint>)t[63];
        GetTensorShapeElementCount = (delegate* unmanaged<nint, nuint*, nint>)t[64];
        GetTensorTypeAndShape = (delegate* unmanaged<nint, nint*, nint>)t[65];
        GetValueType = (delegate* unmanaged<nint, int*, nint>)t[67];
        CreateCpuMemoryInfo = (delegate* unmanaged<int, int, nint*, nint>)t[69];
        AllocatorFree = (delegate* unmanaged<nint, void*, nint>)t[76];
        GetAllocatorWithDefaultOptions = (delegate* unmanaged<nint*, nint>)t[78];
        ReleaseMemoryInfo = (delegate* unmanaged<nint, void>)t[94];
        ReleaseValue = (delegate* unmanaged<nint, void>)t[96];
        ReleaseTypeInfo = (delegate* unmanaged<nint, void>)t[98];
        ReleaseTensorTypeAndShapeInfo = (delegate* unmanaged<nint, void>)t[99];
        SessionGetModelMetadata = (delegate* unmanaged<nint, nint*, nint>)t[111];
        ModelMetadataGetProducerName = (delegate* unmanaged<nint, nint, byte**, nint>)t[112];
        ModelMetadataGetGraphName = (delegate* unmanaged<nint, nint, byte**, nint>)t[113];
        ModelMetadataGetDomain = (delegate* unmanaged<nint, nint, byte**, nint>)t[114];
        ModelMetadataGetDescription = (delegate* unmanaged<nint, nint, byte**, nint>)t[115];
        ModelMetadataLookupCustomMetadataMap = (delegate* unmanaged<nint, nint, byte*, byte**, nint>)t[116];
        ModelMetadataGetVersion = (delegate* unmanaged<nint, long*, nint>)t[117];
        ReleaseModelMetadata = (delegate* unmanaged<nint, void>)t[118];
        ModelMetadataGetCustomMetadataMapKeys = (delegate* unmanaged<nint, nint, byte***, long*, nint>)t[123];
        ModelMetadataGetGraphDescription = (delegate* unmanaged<nint, nint, byte**, nint>)t[158];
    }
}
