using System.Security.Cryptography;
using NfcPipeline.Imaging;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Migrations;
using Npgsql;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>
/// A migrated test database with one study seeded row by row as the pipeline would leave it: two patients (one
/// named like a script tag), analysed images with capillaries, a failed job, a worker and a watched share; and a
/// share folder with the study's real PNG files.
/// </summary>
public sealed class TestData : IAsyncDisposable
{
    public const string StudyExternalId = "STUDY-A";
    public const string ScriptPatient = "<script>alert(1)</script>";

    private TestData(TestDatabase db, string shareRoot) { Database = db; ShareRoot = shareRoot; }

    public TestDatabase Database { get; }
    public string ShareRoot { get; }
    public long StudyId { get; private set; }
    public long PatientId { get; private set; }
    public long ScriptPatientId { get; private set; }
    public long FailedJobId { get; private set; }
    /// <summary>A study folder in the share that no study is registered from.</summary>
    public const string FreeFolder = "studyN";
    public long ModelId { get; private set; }
    public List<long> ImageIds { get; } = [];

    public static async Task<TestData> CreateAsync()
    {
        await WorkerQueues.EnsureAsync();   // as if a worker had started on the broker: publishes are mandatory
        var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(MigrationSource.Embedded());
        var share = Directory.CreateTempSubdirectory("nfc-dash-share-").FullName;
        var data = new TestData(db, share);
        await data.SeedAsync();
        return data;
    }

    private static long _created;

    private async Task SeedAsync()
    {
        await using var c = new NpgsqlConnection(Database.ConnectionString);
        await c.OpenAsync();
        // Ids of this database's own, a million apart from every other TestData's: tests running side by side publish
        // on one broker, and their listeners tell their own messages by a job's, patient's or study's id (every
        // database numbered them from 1 alike, so a listener could take another test's message for its own).
        await Exec(c, "select setval(s.oid::regclass, @offset) from pg_class s where s.relkind = 'S'",
            ("offset", Interlocked.Increment(ref _created) * 1_000_000L));
        ModelId = await Scalar<long>(c, "insert into models (sha256, name, version, contract) values (@sha, 'nfc-dense', '1.0', 'dense/v1') returning id",
            ("sha", SHA256.HashData("model"u8.ToArray())));
        StudyId = await Scalar<long>(c, "insert into studies (external_id, source_path, um_per_px, state, image_count, model_id) values (@id, 'studyA', 2.0, 'processing', 3, @m) returning id",
            ("id", StudyExternalId), ("m", ModelId));
        PatientId = await Scalar<long>(c, "insert into patients (study_id, code, state) values (@s, 'P01', 'completed') returning id", ("s", StudyId));
        ScriptPatientId = await Scalar<long>(c, "insert into patients (study_id, code, state) values (@s, @code, 'completed_with_errors') returning id",
            ("s", StudyId), ("code", ScriptPatient));

        // A folder no study is registered from: submissions under new ids (a folder is one study).
        var free = Path.Combine(ShareRoot, FreeFolder, "P01", "L2", "f1.png");
        Directory.CreateDirectory(Path.GetDirectoryName(free)!);
        await File.WriteAllBytesAsync(free, PngEncoder.EncodeRgb(Gradient(320, 240, 0), 320, 240));

        var fields = new (long Patient, string Finger, string RelPath, bool Ok)[]
        {
            (PatientId, "L2", "P01/L2/f1.png", true), (PatientId, "R3", "P01/R3/f1.png", true), (ScriptPatientId, "L2", "xss/L2/f1.png", false),   // its folder mapped to the script code
        };
        foreach (var (index, (patient, finger, relPath, ok)) in fields.Index())
        {
            var png = PngEncoder.EncodeRgb(Gradient(320, 240, 40 * index), 320, 240);
            var file = Path.Combine(ShareRoot, "studyA", relPath);
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            await File.WriteAllBytesAsync(file, png);
            var sha = SHA256.HashData(png);
            var imageId = await Scalar<long>(c, """
                insert into images (study_id, patient_id, finger, field, rel_path, sha256, size_bytes, width, height, format, state, error_code, error, result_um_per_px)
                values (@s, @p, @finger, 'f1', @rel, @sha, @size, 320, 240, 'png', @state, @code, @error, case when @state = 'succeeded' then 2.0 end) returning id
                """, ("s", StudyId), ("p", patient), ("finger", finger), ("rel", relPath), ("sha", sha), ("size", (long)png.Length),
                ("state", ok ? "succeeded" : "failed"), ("code", ok ? DBNull.Value : "decode"), ("error", ok ? DBNull.Value : "the file is truncated"));
            ImageIds.Add(imageId);
            if (!ok) continue;
            await Exec(c, """
                insert into image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, distal_count, density_per_mm, row_length_mm, gradable, notes)
                values (@sha, @m, 2.0, 320, 240, 3, 2, 7.5, 0.64, true, array['EXIF orientation 6 applied', 'Sparse distal row: 2 capillaries, fewer than 3.'])
                """, ("sha", sha), ("m", ModelId));
            for (var k = 0; k < 3; k++)
            {
                var x1 = 40f + k * 90; const float y1 = 60f;
                await Exec(c, """
                    insert into capillaries (image_sha256, model_id, instance_index, class_name, category, score, box, mask_rle, mask_rect, mask_area, keypoints,
                                             apical_um, arterial_um, venous_um, distal, um_per_px, giant)
                    values (@sha, @m, @k, @cls, @cat, 0.9, @box, @rle, @rect, 900, @kp, @apical, @art, @ven, @distal, 2.0, @k = 1)
                    """, ("sha", sha), ("m", ModelId), ("k", k), ("cls", k == 2 ? "bushy" : "hairpin"), ("cat", k == 2 ? "abnormal" : "normal"),
                    ("box", new[] { x1, y1, x1 + 40, y1 + 60 }), ("rle", EllipseRle(40, 60)), ("rect", new[] { (int)x1, (int)y1, 40, 60 }), ("kp", Keypoints(x1, y1)),
                    ("apical", 10.0 + 6 * k), ("art", 6.0 + k), ("ven", 8.0 + k), ("distal", k < 2));
            }
        }
        await Exec(c, """
            insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, density_mean, density_median, density_sd,
                capillary_count, dilated_count, giant_count, abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters, per_finger, settings,
                um_per_px, failed_fields)
            values (@p, @m, 2, 0, 7.5, 7.5, 0.0, 6, 0, 0, 2, 0, 'non-scleroderma', @trace::jsonb, @morph::jsonb, @diam::jsonb, @fingers::jsonb, @settings::jsonb,
                2.0, 1)
            """, ("p", PatientId), ("m", ModelId),
            ("trace", """{"pattern":"non-scleroderma","sub_pattern":"","summary":"density 7.5/mm ≥ 7, no giants","inputs":{"density_mean":7.5,"giant_count":0},"trace":[{"rule":"non-scleroderma","holds":true,"text":"density ≥ 7/mm and no giants","conditions":["density 7.5 ≥ 7","giants 0 = 0"]},{"rule":"scleroderma","holds":false,"text":"giants present","conditions":["giants 0 > 0"]}]}"""),
            ("morph", """{"by_category":{"normal":{"count":4,"percent":66.7},"abnormal":{"count":2,"percent":33.3}},"by_category_percent":{"normal":66.7,"abnormal":33.3},"by_class":{"hairpin":{"count":4,"percent":66.7},"bushy":{"count":2,"percent":33.3}}}"""),
            ("diam", """{"apical":{"n":6,"mean":16,"sd":5,"median":16,"p10":10,"p90":22,"min":10,"max":22},"arterial":{"n":6,"mean":7,"sd":1,"median":7,"p10":6,"p90":8,"min":6,"max":8}}"""),
            ("fingers", """{"L2":{"density_mean":7.0,"fields":1,"gradable_fields":1},"R3":{"density_mean":8.0,"fields":1,"gradable_fields":1}}"""),
            ("settings", """{"dilated_um":20,"giant_um":50}"""));
        FailedJobId = await Scalar<long>(c, """
            insert into jobs (kind, study_id, payload, state, attempts, last_error, worker_id, started_at, finished_at)
            values ('analyze_chunk', @s, @payload::jsonb, 'failed', 5, 'ImageDecodeException: the file is truncated', 'host:1:0', now() - interval '2 minutes', now() - interval '1 minute')
            returning id
            """, ("s", StudyId), ("payload", $$"""{"image_ids":[{{ImageIds[2]}}],"reanalyze":false}"""));
        await Exec(c, "insert into jobs (kind, study_id, payload, state, attempts) values ('analyze_chunk', @s, '{\"image_ids\":[]}', 'succeeded', 1)", ("s", StudyId));
        await Exec(c, "insert into workers (id, host, pid, device, provider, model_sha256, images_processed) values ('host:1:0', 'host', 1, 'cpu', 'CPUExecutionProvider', @sha, 42)",
            ("sha", SHA256.HashData("model"u8.ToArray())));
        await Exec(c, "insert into share_watch (root, interval_seconds, last_scan_at, next_scan_at) values ('/share', 60, now(), now() + interval '1 minute')");
    }

    /// <summary>Another study, completed and empty, registered from <paramref name="sourcePath"/>.</summary>
    public async Task AddStudyAsync(string externalId, string sourcePath)
    {
        await using var c = new NpgsqlConnection(Database.ConnectionString);
        await c.OpenAsync();
        await Exec(c, "insert into studies (external_id, source_path, um_per_px, state, image_count, model_id) values (@id, @path, 2.0, 'completed', 0, @m)",
            ("id", externalId), ("path", sourcePath), ("m", ModelId));
    }

    public async Task<string?> JobStateAsync(long jobId) => await Database.ScalarAsync<string>($"select state from jobs where id = {jobId}");

    private static byte[] Gradient(int w, int h, int seed)
    {
        var rgb = new byte[w * h * 3];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var o = (y * w + x) * 3;
                rgb[o] = (byte)(150 + x % 60); rgb[o + 1] = (byte)(90 + y % 50); rgb[o + 2] = (byte)(80 + seed);
            }
        return rgb;
    }

    /// <summary>Row-major runs over a w×h box, starting with background, of an ellipse filling the box.</summary>
    public static int[] EllipseRle(int w, int h)
    {
        var runs = new List<int>();
        var current = false; var length = 0;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                double dx = (x + 0.5 - w / 2.0) / (w / 2.0), dy = (y + 0.5 - h / 2.0) / (h / 2.0);
                var inside = dx * dx + dy * dy <= 1;
                if (inside != current) { runs.Add(length); length = 0; current = inside; }
                length++;
            }
        runs.Add(length);
        return runs.ToArray();
    }

    private static float[] Keypoints(float x1, float y1) =>
    [
        x1 + 20, y1 + 5, 0.9f, x1 + 20, y1 + 15, 0.9f, x1 + 5, y1 + 40, 0.8f, x1 + 12, y1 + 40, 0.8f,
        x1 + 28, y1 + 40, 0.8f, x1 + 35, y1 + 40, 0.8f, x1 + 8, y1 + 58, 0.7f, x1 + 32, y1 + 58, 0.7f,
    ];

    private static async Task<T> Scalar<T>(NpgsqlConnection c, string sql, params (string Name, object Value)[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task Exec(NpgsqlConnection c, string sql, params (string Name, object Value)[] args)
    {
        await using var cmd = new NpgsqlCommand(sql, c);
        foreach (var (n, v) in args) cmd.Parameters.AddWithValue(n, v);
        await cmd.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        try { Directory.Delete(ShareRoot, recursive: true); } catch (IOException) { }
    }
}
