using NfcPipeline.OnnxRuntime.Native;

namespace NfcPipeline.OnnxRuntime;

/// <summary>Options for one or more Run calls (OrtRunOptions). Setting <see cref="Terminate"/> from another thread stops runs using it.</summary>
public sealed unsafe class RunOptions : IDisposable
{
    private readonly NativeHandle _handle;
    private bool _terminate;

    public RunOptions()
    {
        var api = OrtLibrary.Api;
        nint options;
        NativeStatus.Check(api.CreateRunOptions(&options));
        _handle = new NativeHandle(options, api.ReleaseRunOptions);
    }

    internal NativeHandle Handle => _handle;

    /// <summary>The run tag ORT writes into its log lines for these runs.</summary>
    public string LogId
    {
        get
        {
            byte* tag;
            using var options = _handle.Acquire();
            NativeStatus.Check(OrtLibrary.Api.RunOptionsGetRunTag(options.Pointer, &tag));
            return NativeText.FromUtf8(tag) ?? string.Empty;
        }
        set
        {
            using var options = _handle.Acquire();
            fixed (byte* tag = NativeText.ToUtf8(value))
                NativeStatus.Check(OrtLibrary.Api.RunOptionsSetRunTag(options.Pointer, tag));
        }
    }

    public OrtLoggingLevel LogSeverityLevel
    {
        get
        {
            int level;
            using var options = _handle.Acquire();
            NativeStatus.Check(OrtLibrary.Api.RunOptionsGetRunLogSeverityLevel(options.Pointer, &level));
            return (OrtLoggingLevel)level;
        }
        set
        {
            using var options = _handle.Acquire();
            NativeStatus.Check(OrtLibrary.Api.RunOptionsSetRunLogSeverityLevel(options.Pointer, (int)value));
        }
    }

    /// <summary>When true, runs using these options fail at once with "Exiting due to terminate flag".</summary>
    public bool Terminate
    {
        get => _terminate;
        set
        {
            using var options = _handle.Acquire();
            NativeStatus.Check(value
                ? OrtLibrary.Api.RunOptionsSetTerminate(options.Pointer)
                : OrtLibrary.Api.RunOptionsUnsetTerminate(options.Pointer));
            _terminate = value;
        }
    }

    public void Dispose() => _handle.Dispose();
}
