using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using NfcPipeline.OnnxRuntime.Native;

namespace NfcPipeline.OnnxRuntime;

public sealed unsafe partial class InferenceSession
{
    /// <summary>Runs the model and returns every output, in <see cref="OutputNames"/> order.</summary>
    public IDisposableReadOnlyCollection<OrtValue> Run(RunOptions? runOptions, IReadOnlyCollection<string> inputNames,
        IReadOnlyCollection<OrtValue> inputValues) =>
        Run(runOptions, inputNames, inputValues, (IReadOnlyCollection<string>)OutputNames);

    public IDisposableReadOnlyCollection<OrtValue> Run(RunOptions? runOptions, IReadOnlyDictionary<string, OrtValue> inputs,
        IReadOnlyCollection<string> outputNames) =>
        Run(runOptions, inputs.Keys.ToArray(), inputs.Values.ToArray(), outputNames);

    /// <summary>
    /// Runs the model on the given inputs and returns the requested outputs, in the order asked for. The caller
    /// disposes the result (which disposes each output). A node's output is ORT's own copy, but a graph input listed as
    /// an output is the caller's buffer: that output holds its input's pin until it is released (docs/onnxruntime-binding.md).
    /// </summary>
    public IDisposableReadOnlyCollection<OrtValue> Run(RunOptions? runOptions, IReadOnlyCollection<string> inputNames,
        IReadOnlyCollection<OrtValue> inputValues, IReadOnlyCollection<string> outputNames)
    {
        ArgumentNullException.ThrowIfNull(inputNames);
        ArgumentNullException.ThrowIfNull(inputValues);
        ArgumentNullException.ThrowIfNull(outputNames);
        if (inputNames.Count != inputValues.Count)
            throw new ArgumentException($"{inputNames.Count} input names but {inputValues.Count} input values.", nameof(inputValues));

        int inputCount = inputNames.Count, outputCount = outputNames.Count;
        var inputNamePointers = new nint[inputCount];
        var outputNamePointers = new nint[outputCount];
        var inputPointers = new nint[inputCount];
        var outputPointers = new nint[outputCount];
        var leases = new NativeHandle.Lease[inputCount];
        var inputHandles = new NativeHandle[inputCount];
        List<OrtValue>? outputs = null;
        var temporaryNames = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        int leased = 0;
        try
        {
            int i = 0;
            foreach (var name in inputNames) inputNamePointers[i++] = NamePointer(name, temporaryNames);
            i = 0;
            foreach (var name in outputNames) outputNamePointers[i++] = NamePointer(name, temporaryNames);
            foreach (var value in inputValues)
            {
                ArgumentNullException.ThrowIfNull(value, nameof(inputValues));
                leases[leased] = value.Handle.Acquire();
                inputHandles[leased] = value.Handle;
                inputPointers[leased] = leases[leased].Pointer;
                leased++;
            }

            using var session = _session.Acquire();
            using var options = runOptions?.Handle.Acquire();
            fixed (nint* inNames = inputNamePointers)
            fixed (nint* outNames = outputNamePointers)
            fixed (nint* inValues = inputPointers)
            fixed (nint* outValues = outputPointers)
            {
                NativeStatus.Check(OrtLibrary.Api.Run(session.Pointer, options?.Pointer ?? 0, inNames, inValues,
                    (nuint)inputCount, outNames, (nuint)outputCount, outValues));
            }

            outputs = new List<OrtValue>(outputCount);
            for (int k = 0; k < outputCount; k++)
            {
                // A graph input listed as an output (one name, so one UTF-8 pointer, cached or this run's) is the caller's array: its
                // input's pin is held while the output lives. Told by name: no native call on the run's hot path.
                int aliased = Array.IndexOf(inputNamePointers, outputNamePointers[k]);
                outputs.Add(OrtValue.FromNative(outputPointers[k], aliased >= 0 ? inputHandles[aliased] : null));
                outputPointers[k] = 0;   // owned by its OrtValue now: the catch below must not release it again
            }
            return new DisposableList<OrtValue>(outputs);
        }
        catch
        {
            // Those already wrapped go now, not at finalisation (an aliased one holds its input's pinned array).
            foreach (var wrapped in outputs ?? []) wrapped.Dispose();
            // ORT leaves outputs null on failure; release any it did create (and no wrapper owns) all the same.
            foreach (var output in outputPointers)
                if (output != 0) OrtLibrary.Api.ReleaseValue(output);
            throw;
        }
        finally
        {
            for (int j = 0; j < leased; j++) leases[j].Dispose();
            GC.KeepAlive(temporaryNames);
            // The inputs' OrtValues pin the memory ORT reads: none may be finalised while the run uses it.
            GC.KeepAlive(inputValues);
            // Nor this session, whose cached UTF-8 names ORT reads: after the lease nothing else uses `this`.
            GC.KeepAlive(this);
        }
    }

    /// <summary>
    /// The cached UTF-8 copy of a model name; other names (unknown ones, so ORT can name them in its error, and
    /// overridable initializers, which the input list leaves out) get one copy for the run, whichever list they are in.
    /// </summary>
    private nint NamePointer(string name, Dictionary<string, byte[]> temporaryNames)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!_utf8Names.TryGetValue(name, out var utf8) && !temporaryNames.TryGetValue(name, out utf8))
        {
            utf8 = NativeText.ToPinnedUtf8(name);
            temporaryNames.Add(name, utf8);
        }
        return (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(utf8));
    }
}
