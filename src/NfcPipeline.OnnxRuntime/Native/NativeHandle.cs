using System.Buffers;
using System.Runtime.InteropServices;

namespace NfcPipeline.OnnxRuntime.Native;

/// <summary>
/// Owns one native ONNX Runtime object and frees it with its matching Release function exactly once, even when the
/// owner is never disposed (the finalizer of SafeHandle runs it).
/// </summary>
internal sealed unsafe class NativeHandle : SafeHandle
{
    private readonly delegate* unmanaged<nint, void> _release;
    private MemoryHandle _pin;
    private readonly SafeHandle? _keepAlive;

    /// <param name="pin">Memory the native object points into (a tensor over caller memory): unpinned only after the
    /// object is released, so a Run holding a lease on it never reads memory the GC has moved.</param>
    /// <param name="keepAlive">A handle whose memory this object shares (an output that is a graph input, over the
    /// caller's pinned array): held until this object is released, so the input's pin outlives it.</param>
    public NativeHandle(nint pointer, delegate* unmanaged<nint, void> release, MemoryHandle pin = default, SafeHandle? keepAlive = null)
        : base(0, ownsHandle: true)
    {
        _release = release;
        _pin = pin;
        // Before the handle is set: should it throw (the input disposed meanwhile), this object releases nothing.
        if (keepAlive is not null)
        {
            bool added = false;
            keepAlive.DangerousAddRef(ref added);
            _keepAlive = keepAlive;
        }
        SetHandle(pointer);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        _release(handle);
        _pin.Dispose();
        _keepAlive?.DangerousRelease();
        return true;
    }

    /// <summary>Keeps the object alive for the duration of a native call, even if another thread disposes it.</summary>
    public Lease Acquire() => new(this);

    public readonly struct Lease : IDisposable
    {
        private readonly NativeHandle _owner;

        public Lease(NativeHandle owner)
        {
            bool added = false;
            owner.DangerousAddRef(ref added);
            _owner = owner;
            Pointer = owner.DangerousGetHandle();
        }

        public nint Pointer { get; }

        public void Dispose() => _owner.DangerousRelease();
    }
}
