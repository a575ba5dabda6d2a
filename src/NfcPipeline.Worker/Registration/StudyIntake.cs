using System.Security.Cryptography;
using System.Text;
using NfcPipeline.Contracts;
using NfcPipeline.Imaging;
using NfcPipeline.Intake;
using NfcPipeline.Intake.Share;
using NfcPipeline.Storage.Pipeline;
using NfcPipeline.Core.Domain;

namespace NfcPipeline.Worker.Registration;

/// <summary>
/// Turns a SubmitStudy into a registration: resolves the folder (or image list) under the share, refusing escapes,
/// and reads each file once for its sha256, size and header. The user's files are only ever read.
/// </summary>
public sealed class StudyIntake(WorkerOptions options)
{
    /// <summary>
    /// What one registration reads the share through: its real path, resolved once per registration (a root reached
    /// through a link that was re-pointed, or whose mount was away when the worker started, would otherwise put every
    /// file "outside the share" until a restart), and a header reader confined to it.
    /// </summary>
    private sealed class ShareFiles(string root, TimeProvider clock)
    {
        public string RealRoot { get; } = SharePaths.RealPath(root);
        public TimeProvider Clock => clock;
        public ImageDecoder Headers => field ??= new ImageDecoder(null, path => SharePaths.OpenInside(path, RealRoot));
    }

    /// <summary>
    /// <see cref="Read"/>, between two takes of the submitted folder's fingerprint (as the share watcher computes it:
    /// paths, sizes and times of its images and study.json): a difference is a copy still running while the files were
    /// hashed, and throws <see cref="StudyFolderChangingException"/>. A list of images is read once. A folder the
    /// fingerprint cannot walk while the read succeeded counts as changing too (two failed walks compare nothing).
    /// </summary>
    /// <param name="progress">Advanced as folders are listed and files read, for a stall guard (a hung mount).</param>
    /// <param name="known">The files the study was last registered from (<see cref="Read"/>).</param>
    public StudyRegistration ReadUnchanged(SubmitStudy message, CancellationToken ct = default, ShareScanProgress? progress = null,
        KnownFiles? known = null)
    {
        var before = FolderFingerprint(message, ct, progress);
        BeforeRead?.Invoke();
        var registration = Read(message, ct, progress, known);   // refuses a folder it cannot read with its reason
        AfterRead?.Invoke();
        if (before is { Length: 0 } || before != FolderFingerprint(message, ct, progress)) throw new StudyFolderChangingException();
        return registration;
    }

    /// <summary>Run after the first fingerprint and after the read: let a test change the folder there.</summary>
    internal Action? BeforeRead { get; init; }

    /// <inheritdoc cref="BeforeRead"/>
    internal Action? AfterRead { get; init; }

    /// <summary>The time a file's stamp is judged racy against (FileStamps.RacyWindow); a test's may run ahead.</summary>
    internal TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>The most entries a submitted folder's walk lists, and images a list names (<see cref="StudyLayout.MaxEntries"/>; lowered by tests).</summary>
    internal int MaxStudyEntries { get; init; } = StudyLayout.MaxEntries;

    /// <summary>The folder's fingerprint; null for a list of images, "" for a folder that cannot be walked.</summary>
    private string? FolderFingerprint(SubmitStudy message, CancellationToken ct, ShareScanProgress? progress)
    {
        if (message.FolderPath is not { Length: > 0 } folder || options.ShareRoot is not { Length: > 0 } root) return null;
        try { return StudyFingerprint.Compute(SharePaths.ResolveUnder(root, folder), SharePaths.RealPath(root), ct, progress, MaxStudyEntries).Fingerprint; }
        // Too large: the read refuses it with the reason (a retry would walk it again, and fault as a failure).
        catch (Exception ex) when (ex is StudyUnreadableException or StudyTooLargeException or StudyLayoutException or IOException
                                       or UnauthorizedAccessException) { return ""; }
    }

    /// <summary>
    /// The study's images, each hashed and its header read. <paramref name="ct"/> is looked at between files: a worker
    /// that stops gives up a long registration (tens of thousands of files) rather than run it past its stop deadline.
    /// </summary>
    /// <param name="known">
    /// The files the study was last registered from: one at the same path under the same folder whose stamp is unchanged
    /// (<see cref="FileStamps"/>: device, inode, size, modification and change times of the open file; a replaced file,
    /// its time kept or not, changes the change time) keeps its hash and header unread. Null: every file is read.
    /// </param>
    public StudyRegistration Read(SubmitStudy message, CancellationToken ct = default, ShareScanProgress? progress = null, KnownFiles? known = null)
    {
        known ??= KnownFiles.None;
        var root = CheckMessage(message);
        if (message.FolderPath is { Length: > 0 } folder)
        {
            var full = SharePaths.ResolveUnder(root, folder);
            // Said without the path, which is logged with the fault: a file's path names the folders above it (a patient's).
            if (File.Exists(full)) throw new StudyLayoutException("The FolderPath names a file, not a study folder.");
            var inventory = StudyLayout.Discover(full, root, message.StudyId, maxEntries: MaxStudyEntries, progress: progress);   // the id it is submitted under, checked above
            if (StudyLayout.RegistrationProblem(inventory) is { } folderProblem) throw new StudyLayoutException(folderProblem);
            var files = new ShareFiles(root, Clock);
            var source = SharePaths.StudySourcePath(root, folder);
            var images = inventory.Images.Select(i => Describe(files, i.FullPath, i.RelativePath, i.Patient ?? StudyLayout.UnassignedPatient, i.Finger, i.Field,
                known.Of(source, i.RelativePath), ct, progress)).ToList();
            return new StudyRegistration(message.StudyId, source,
                message.MicrometresPerPixel ?? inventory.Manifest?.MicrometresPerPixel, message.Device ?? inventory.Manifest?.Device,
                inventory.Manifest?.Raw ?? "{}", images, inventory.Skipped.Count, UmPerPxGiven: message.MicrometresPerPixel is not null);
        }
        if (message.Images is { Count: > 0 } list)
        {
            if (list.Any(i => i is null || string.IsNullOrWhiteSpace(i.Path) || string.IsNullOrWhiteSpace(i.Patient)))
                throw new StudyLayoutException("Every listed image needs a path and a patient.");
            // The names as the API checks them (a message may come from elsewhere); said without the name (a patient's).
            if (list.Select(i => SharePaths.ListedNameProblem(i.Patient, i.Finger)).OfType<string>().FirstOrDefault() is { } nameProblem)
                throw new StudyLayoutException($"A listed image's names cannot be used: {nameProblem}.");
            // By the file each path leads to: "S/P1//L2/f1.jpg", a backslash spelling or a link to it name one field.
            var resolved = list.Select((i, n) => ResolveListed(root, i.Path, n)).ToList();
            if (resolved.GroupBy(p => p, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
                throw new StudyLayoutException($"An image is listed {twice.Count()} times (one path written twice, or two paths to one file); list each image once.");
            var files = new ShareFiles(root, Clock);
            var images = list.Select((i, n) => Describe(files, resolved[n], i.Path.Replace('\\', '/'),
                i.Patient, i.Finger is null ? null : FingerNames.Normalise(i.Finger) ?? i.Finger,
                Path.GetFileNameWithoutExtension(i.Path.Replace('\\', '/')),   // "P\L2\f1.jpg" is field f1, not the whole path
                known.Of(null, i.Path.Replace('\\', '/')), ct, progress)).ToList();
            return new StudyRegistration(message.StudyId, null, message.MicrometresPerPixel, message.Device, "{}", images,
                UmPerPxGiven: message.MicrometresPerPixel is not null);
        }
        throw new StudyLayoutException("SubmitStudy needs a FolderPath or a list of Images.");
    }

    /// <summary>
    /// The share root, after the message's own checks, which need no look at the share: a message refused by them is
    /// refused at once, even while the share is away (its consumer asks the share only after them).
    /// </summary>
    public string CheckMessage(SubmitStudy message)
    {
        var root = options.ShareRoot is { Length: > 0 } r ? r : throw new StudyLayoutException("Worker:ShareRoot is not configured, so no path can be resolved.");
        if (string.IsNullOrWhiteSpace(message.StudyId)) throw new StudyLayoutException("SubmitStudy needs a StudyId.");
        if (StudyIds.Problem(message.StudyId) is { } problem) throw new StudyLayoutException(problem);
        if (message.MicrometresPerPixel is { } um && !Calibration.IsPlausible(um))
            throw new StudyLayoutException($"MicrometresPerPixel must be {Calibration.PlausibleRange}.");   // NaN and infinity passed
        if (message.Device?.Contains('\0') ?? false) throw new StudyLayoutException("Device cannot contain a NUL character.");
        // A key of the share's notes, stored and shown: a NUL failed its insert after the registration had committed.
        if (message.ShareRootKey is { } key && !SubmitStudyConsumer.ShareRootKeyIsUsable(key))
            throw new StudyLayoutException("ShareRootKey must be a path of at most 4096 characters without control characters.");
        // One of the two, as the dashboard's API asks: the list would otherwise be dropped without a word.
        if (message.FolderPath is { Length: > 0 } && message.Images is { Count: > 0 })
            throw new StudyLayoutException("SubmitStudy takes a FolderPath or a list of Images, not both.");
        if (message.Images is { Count: > 0 } list && list.Count > MaxStudyEntries)
            throw new StudyLayoutException($"At most {MaxStudyEntries:N0} images may be listed in one SubmitStudy ({list.Count:N0} were); split the study.");
        return root;
    }

    /// <summary>
    /// A listed image's path, resolved in the share; a refusal names the image by its place in the list, not its path:
    /// the refusal is logged (MassTransit logs the fault), and listed paths carry patient folder names.
    /// </summary>
    private static string ResolveListed(string root, string path, int index)
    {
        try { return SharePaths.ResolveUnder(root, path); }
        catch (StudyLayoutException ex)
        {
            throw new StudyLayoutException($"Image {index + 1} of the list: " + ex.Message.Replace($"'{path}'", "its path", StringComparison.Ordinal));
        }
    }

    internal static long StatSize(string path)
    {
        // A link's target's size, which registration read through it (a link's own length is its target's path's), found as
        // the kernel opens it (SharePaths.RealPath; not ResolveLinkTarget, which takes a relative target from the path as written).
        try
        {
            var file = new FileInfo(path);
            return (file.LinkTarget is null ? file : new FileInfo(SharePaths.RealPath(path))).Length;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return -1; }
    }

    /// <param name="progress">Advanced for the file and every block of it hashed: a 500 MB file on a slow share moves on.</param>
    /// <param name="known">The file as the last registration read it at this path, or null.</param>
    private static ImageRegistration Describe(ShareFiles files, string fullPath, string relativePath, string patient, string? finger, string field,
        KnownFile? known, CancellationToken ct, ShareScanProgress? progress)
    {
        ct.ThrowIfCancellationRequested();
        progress?.Advance();
        byte[] sha;
        long size;
        string? stamp;
        int? width = null, height = null;
        string? format = null;
        // A FIFO, socket or device named like an image is refused unopened by OpenInside (reading it would block, or
        // never end): it is registered under a stand-in hash of its path below, and fails alone as NotAFile when analysed.
        try
        {
            // Checked on the open file: a link swapped in since the walk must not put an outside file's hash on record.
            using var stream = SharePaths.OpenInside(fullPath, files.RealRoot);
            size = stream.Length;
            // Past the decoder's file limit it could never be analysed: not hashed (a 1 TB sparse file held the
            // registration for hours), registered as a stand-in that fails alone as TooLarge.
            if (size > files.Headers.Options.MaxFileBytes) return StandIn(unread: false, size);
            var before = FileStamps.Of(stream.SafeFileHandle, files.Clock.GetUtcNow());
            if (before is not null && known is { } k && k.Stamp == before && k.SizeBytes == size)
                return new ImageRegistration(patient, finger, field, relativePath, k.Sha256, size, k.Width, k.Height, k.Format,
                    FileStamp: before, HashKept: true);
            sha = HashInBlocks(stream, progress, ct);
            // Changed while hashed: no stamp kept, so the next registration reads it again.
            stamp = before is not null && FileStamps.Of(stream.SafeFileHandle, files.Clock.GetUtcNow()) == before ? before : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Unreadable now (permissions, a socket or device file): registered under a stand-in hash of its path, which
            // no content has, so it is analysed, fails alone with the decoder's reason, and is read again when the
            // study is submitted again; the rest of the study goes on. Where the cause may pass, a path registered
            // before keeps its row (StudyRegistrationStore).
            return StandIn(unread: ex is not ShareFileRefusedException);
        }
        try
        {
            var info = files.Headers.ReadHeaderFile(fullPath);
            (width, height, format) = (info.Width, info.Height, info.Format.ToString());
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
        {
            // Not an image we can read (or a header parser fault): registered anyway, and it fails with its reason
            // when analysed; one file never stops a study's registration.
        }
        return new ImageRegistration(patient, finger, field, relativePath, sha, size, width, height, format, FileStamp: stamp);

        // Its size as stat(2) gives it, which needs no read permission (-1 where even that fails): a registered row is
        // kept only for a file of its registered size or of unknown size, not for new content that could not be read.
        ImageRegistration StandIn(bool unread, long? knownSize = null) => new(patient, finger, field, relativePath,
            StandInSha256(relativePath), knownSize ?? (unread ? StatSize(fullPath) : 0), null, null, null, unread);
    }

    private const int HashBlockBytes = 4 << 20;

    private static byte[] HashInBlocks(Stream stream, ShareScanProgress? progress, CancellationToken ct)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var block = System.Buffers.ArrayPool<byte>.Shared.Rent(HashBlockBytes);
        try
        {
            for (int read; (read = stream.Read(block, 0, HashBlockBytes)) > 0; progress?.Advance())
            {
                ct.ThrowIfCancellationRequested();
                hash.AppendData(block, 0, read);
            }
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(block); }
        return hash.GetHashAndReset();
    }

    /// <summary>The hash a file unread at registration is registered under: of its path, which no content has.</summary>
    public static byte[] StandInSha256(string relativePath) => SHA256.HashData(Encoding.UTF8.GetBytes("nfc:unreadable:" + relativePath));
}

/// <summary>The study folder changed while it was read (a copy still running): retried, as a transient failure is.</summary>
public sealed class StudyFolderChangingException() : Exception("The study folder changed while it was read (a copy still running?).");
