namespace NfcPipeline.Intake;

/// <summary>
/// A share file refused for what it is, not for a moment's trouble: not a regular file (a FIFO, socket, device), or
/// a link swapped in that leads out. An <see cref="IOException"/>, as every caller already handles those.
/// </summary>
public sealed class ShareFileRefusedException(string message) : IOException(message);
