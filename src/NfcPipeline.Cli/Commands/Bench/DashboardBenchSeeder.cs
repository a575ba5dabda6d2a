using System.Buffers.Binary;
using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace NfcPipeline.Cli.Commands.Bench;

/// <summary>Sizes of the seeded data set.</summary>
internal sealed record DashboardBenchSize(int Studies, int Images, int Capillaries, int FailedJobs)
{
    public const int PatientsPerStudy = 2;
    public int ImagesPerStudy => Math.Max(1, Images / Studies);
    public int CapillariesPerImage => Math.Max(1, Capillaries / Images);
}

/// <summary>
/// Seeds a fresh, migrated database with binary COPY: studies, patients, images, per-image metrics, capillaries,
/// patient aggregations, jobs (succeeded and failed), workers and share scans. Ids are the identity values of a
/// fresh database (1..n in COPY order), so child rows can name their parents without reading them back.
/// </summary>
internal static class DashboardBenchSeeder
{
    public const long ModelId = 1;
    private static readonly string[] Fingers = ["L2", "L3", "L4", "L5", "R2", "R3", "R4", "R5"];
    private static readonly string[] Classes = ["hairpin", "tortuous", "crossing", "ramified", "bushy"];

    public static async Task SeedAsync(string connectionString, DashboardBenchSize size, Action<string> progress, CancellationToken ct)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync(ct);
        // Rows are consistent by construction; skipping per-row FK triggers keeps the 2·10⁶-row COPY short.
        await Exec(c, "set session_replication_role = replica", ct);
        await Exec(c, "insert into models (sha256, name, version, contract) values (sha256('bench-model'::bytea), 'nfc-dense', 'bench', 'dense/v1')", ct);
        var now = DateTime.UtcNow;
        var rng = new Random(7);
        var watch = Stopwatch.StartNew();
        int perStudy = size.ImagesPerStudy, perImage = size.CapillariesPerImage;
        bool Processing(int s) => s > size.Studies * 95 / 100;
        bool Failed(long image) => image % 50 == 7;
        bool Pending(int s, int k) => Processing(s) && k >= perStudy / 2;

        await using (var w = await c.BeginBinaryImportAsync("copy studies (external_id, source_path, um_per_px, state, image_count, created_at, completed_at) from stdin (format binary)", ct))
        {
            for (var s = 1; s <= size.Studies; s++)
            {
                w.StartRow();
                w.Write($"BENCH-{s:D6}", NpgsqlDbType.Text);
                w.Write($"bench/BENCH-{s:D6}", NpgsqlDbType.Text);
                w.Write(2.0, NpgsqlDbType.Double);
                w.Write(Processing(s) ? "processing" : s % 10 == 3 ? "completed_with_errors" : "completed", NpgsqlDbType.Text);
                w.Write(perStudy, NpgsqlDbType.Integer);
                var created = now.AddMinutes(-(size.Studies - s) * 0.5);
                w.Write(created, NpgsqlDbType.TimestampTz);
                if (Processing(s)) w.WriteNull(); else w.Write(created.AddMinutes(20), NpgsqlDbType.TimestampTz);
            }
            await w.CompleteAsync(ct);
        }
        await using (var w = await c.BeginBinaryImportAsync("copy patients (study_id, code, state) from stdin (format binary)", ct))
        {
            for (var s = 1; s <= size.Studies; s++)
                for (var p = 0; p < DashboardBenchSize.PatientsPerStudy; p++)
                {
                    w.StartRow();
                    w.Write((long)s, NpgsqlDbType.Bigint);
                    w.Write($"P{p + 1:D2}", NpgsqlDbType.Text);
                    w.Write(Processing(s) ? "processing" : "completed", NpgsqlDbType.Text);
                }
            await w.CompleteAsync(ct);
        }
        progress($"studies and patients in {watch.Elapsed.TotalSeconds:0.0} s");

        await using (var w = await c.BeginBinaryImportAsync("""
            copy images (study_id, patient_id, finger, field, rel_path, sha256, size_bytes, width, height, format, state, error_code, error, updated_at,
                         result_um_per_px)
            from stdin (format binary)
            """, ct))
        {
            long image = 0;
            for (var s = 1; s <= size.Studies; s++)
                for (var k = 0; k < perStudy; k++)
                {
                    image++;
                    var patient = (long)(s - 1) * DashboardBenchSize.PatientsPerStudy + k % DashboardBenchSize.PatientsPerStudy + 1;
                    var finger = Fingers[k / 2 % Fingers.Length];
                    var state = Pending(s, k) ? "pending" : Failed(image) ? "failed" : "succeeded";
                    w.StartRow();
                    w.Write((long)s, NpgsqlDbType.Bigint);
                    w.Write(patient, NpgsqlDbType.Bigint);
                    w.Write(finger, NpgsqlDbType.Text);
                    w.Write($"f{k}", NpgsqlDbType.Text);
                    w.Write($"P{k % DashboardBenchSize.PatientsPerStudy + 1:D2}/{finger}/f{k}.png", NpgsqlDbType.Text);
                    w.Write(Sha(image), NpgsqlDbType.Bytea);
                    w.Write(350_000L, NpgsqlDbType.Bigint);
                    w.Write(640, NpgsqlDbType.Integer);
                    w.Write(480, NpgsqlDbType.Integer);
                    w.Write("png", NpgsqlDbType.Text);
                    w.Write(state, NpgsqlDbType.Text);
                    if (state == "failed") { w.Write("decode", NpgsqlDbType.Text); w.Write("the file is truncated", NpgsqlDbType.Text); }
                    else { w.WriteNull(); w.WriteNull(); }
                    w.Write(now.AddSeconds(-rng.Next(0, 7200)), NpgsqlDbType.TimestampTz);
                    if (state == "succeeded") w.Write(2.0, NpgsqlDbType.Double);
                    else w.WriteNull();
                }
            await w.CompleteAsync(ct);
        }
        progress($"images in {watch.Elapsed.TotalSeconds:0.0} s");

        await using (var w = await c.BeginBinaryImportAsync("""
            copy image_metrics (image_sha256, model_id, um_per_px, width, height, instance_count, distal_count, density_per_mm, row_length_mm, gradable)
            from stdin (format binary)
            """, ct))
        {
            ForEachSucceeded(size, Pending, Failed, (_, image) =>
            {
                w.StartRow();
                w.Write(Sha(image), NpgsqlDbType.Bytea);
                w.Write(ModelId, NpgsqlDbType.Bigint);
                w.Write(2.0, NpgsqlDbType.Double);
                w.Write(640, NpgsqlDbType.Integer);
                w.Write(480, NpgsqlDbType.Integer);
                w.Write(perImage, NpgsqlDbType.Integer);
                w.Write(perImage / 2, NpgsqlDbType.Integer);
                w.Write(5 + image % 50 / 10.0, NpgsqlDbType.Double);
                w.Write(1.2, NpgsqlDbType.Double);
                w.Write(true, NpgsqlDbType.Boolean);
            });
            await w.CompleteAsync(ct);
        }

        var masks = Enumerable.Range(0, 4).Select(i => EllipseRle(30 + 4 * i, 50 + 6 * i)).ToArray();
        await using (var w = await c.BeginBinaryImportAsync("""
            copy capillaries (image_sha256, model_id, instance_index, class_name, category, score, box, mask_rle, mask_rect, mask_area, keypoints,
                              apical_um, arterial_um, venous_um, dilated, giant, distal, um_per_px)
            from stdin (format binary)
            """, ct))
        {
            var keypoints = new float[24];
            ForEachSucceeded(size, Pending, Failed, (_, image) =>
            {
                var sha = Sha(image);
                for (var i = 0; i < perImage; i++)
                {
                    var m = (i + (int)image) % masks.Length;
                    float x1 = 10 + i * 30 % 580, y1 = 20 + i % 3 * 140;
                    float bw = 30 + 4 * m, bh = 50 + 6 * m;
                    for (var k = 0; k < 8; k++) { keypoints[3 * k] = x1 + bw * (k % 4) / 4f; keypoints[3 * k + 1] = y1 + bh * (k / 4 + 1) / 3f; keypoints[3 * k + 2] = 0.8f; }
                    var cls = Classes[(i * 7 + (int)image) % Classes.Length];
                    var apical = 8 + (i * 13 + image) % 40;
                    w.StartRow();
                    w.Write(sha, NpgsqlDbType.Bytea);
                    w.Write(ModelId, NpgsqlDbType.Bigint);
                    w.Write(i, NpgsqlDbType.Integer);
                    w.Write(cls, NpgsqlDbType.Text);
                    w.Write(cls is "ramified" or "bushy" ? "abnormal" : "normal", NpgsqlDbType.Text);
                    w.Write(0.9f, NpgsqlDbType.Real);
                    w.Write(new[] { x1, y1, x1 + bw, y1 + bh }, NpgsqlDbType.Array | NpgsqlDbType.Real);
                    w.Write(masks[m], NpgsqlDbType.Array | NpgsqlDbType.Integer);
                    w.Write(new[] { (int)x1, (int)y1, (int)bw, (int)bh }, NpgsqlDbType.Array | NpgsqlDbType.Integer);
                    w.Write((int)(bw * bh * 0.78), NpgsqlDbType.Integer);
                    w.Write(keypoints, NpgsqlDbType.Array | NpgsqlDbType.Real);
                    w.Write((double)apical, NpgsqlDbType.Double);
                    w.Write(6.0 + i % 5, NpgsqlDbType.Double);
                    w.Write(9.0 + i % 7, NpgsqlDbType.Double);
                    w.Write(apical is >= 20 and < 50, NpgsqlDbType.Boolean);
                    w.Write(apical >= 50, NpgsqlDbType.Boolean);
                    w.Write(i % 2 == 0, NpgsqlDbType.Boolean);
                    w.Write(2.0, NpgsqlDbType.Double);
                }
            });
            await w.CompleteAsync(ct);
        }
        progress($"image metrics and capillaries in {watch.Elapsed.TotalSeconds:0.0} s");

        await SeedPatientMetricsAndJobsAsync(c, size, ct);
        await Exec(c, "set session_replication_role = origin", ct);
        await Exec(c, "analyze", ct);
        progress($"patient metrics, jobs, workers, scans and analyze in {watch.Elapsed.TotalSeconds:0.0} s");
    }

    private static async Task SeedPatientMetricsAndJobsAsync(NpgsqlConnection c, DashboardBenchSize size, CancellationToken ct)
    {
        // Set-based SQL is fast enough for these (10⁴-row) tables.
        await Exec(c, """
            insert into patient_metrics (patient_id, model_id, gradable_fields, ungradable_fields, density_mean, density_median, density_sd,
                capillary_count, dilated_count, giant_count, abnormal_count, hemorrhage_count, pattern, rule_trace, morphology, diameters, per_finger, settings)
            select p.id, 1, 4, 1, 6.5, 6.4, 1.1, 100, 12, 1, 40, 0, case when p.id % 3 = 0 then 'scleroderma' else 'non-scleroderma' end,
                   '{"pattern":"non-scleroderma","summary":"density ≥ 7/mm, no giants","inputs":{"density_mean":6.5},"trace":[{"rule":"non-scleroderma","holds":true,"text":"density ≥ 7/mm","conditions":["density 6.5 ≥ 7"]}]}',
                   '{"by_category":{"normal":{"count":60,"percent":60},"abnormal":{"count":40,"percent":40}},"by_class":{"hairpin":{"count":20,"percent":20},"tortuous":{"count":20,"percent":20},"crossing":{"count":20,"percent":20},"ramified":{"count":20,"percent":20},"bushy":{"count":20,"percent":20}}}',
                   '{"apical":{"n":100,"mean":27,"sd":11,"median":27,"p10":12,"p90":43,"min":8,"max":47}}',
                   '{"L2":{"density_mean":6.1,"fields":1,"gradable_fields":1},"L3":{"density_mean":7.2,"fields":1,"gradable_fields":1},"R2":{"density_mean":6.4,"fields":1,"gradable_fields":1}}',
                   '{"dilated_um":20,"giant_um":50}'
            from patients p where p.state = 'completed'
            """, ct);
        var lastStudy = Math.Max(1, size.Studies);
        await Exec(c, $"""
            insert into jobs (kind, study_id, payload, state, attempts, worker_id, enqueued_at, started_at, finished_at, updated_at)
            select 'analyze_chunk', s, jsonb_build_object('image_ids', jsonb_build_array((s - 1) * {size.ImagesPerStudy} + 1), 'reanalyze', false),
                   'succeeded', 1, 'bench-host:1:0', now() - interval '2 hours', now() - interval '100 minutes', now() - interval '99 minutes', now() - interval '99 minutes'
            from generate_series(1, {lastStudy}) s;
            insert into jobs (kind, study_id, payload, state, attempts, last_error, worker_id, enqueued_at, started_at, finished_at, updated_at)
            select 'analyze_chunk', 1 + (j * 7919) % {lastStudy},
                   jsonb_build_object('image_ids', jsonb_build_array(((j * 7919) % {lastStudy}) * {size.ImagesPerStudy} + 1), 'reanalyze', false),
                   'failed', 5, 'OnnxRuntimeException: session run failed (bench row ' || j || ')', 'bench-host:1:0',
                   now() - interval '3 hours', now() - make_interval(secs => j), now() - make_interval(secs => j - 1), now() - make_interval(secs => j - 1)
            from generate_series(1, {size.FailedJobs}) j;
            insert into jobs (kind, study_id, payload, state) select 'analyze_chunk', {lastStudy}, jsonb_build_object('image_ids', jsonb_build_array()), 'enqueued' from generate_series(1, 200);
            insert into workers (id, host, pid, device, provider, model_sha256, images_processed, last_batch, heartbeat_at)
            select 'bench-host:' || w || ':0', 'bench-host', w, 'cuda:0', 'CUDAExecutionProvider', sha256('bench-model'::bytea), 1000 * w,
                   jsonb_build_object('size', 8, 'ms', 420), now() - make_interval(secs => w * 20) from generate_series(1, 8) w;
            insert into share_watch (root, interval_seconds, last_scan_at, next_scan_at) values ('/srv/share', 60, now(), now() + interval '1 minute');
            insert into share_scans (root, worker_id, started_at, finished_at, folders_seen, studies_found, error)
            select '/srv/share', 'bench-host:1:0', now() - make_interval(mins => n), now() - make_interval(mins => n) + interval '2 seconds', 40, n % 3,
                   case when n % 50 = 0 then 'permission denied on one folder' end
            from generate_series(1, 500) n;
            """, ct);
    }

    private static void ForEachSucceeded(DashboardBenchSize size, Func<int, int, bool> pending, Func<long, bool> failed, Action<int, long> row)
    {
        long image = 0;
        for (var s = 1; s <= size.Studies; s++)
            for (var k = 0; k < size.ImagesPerStudy; k++)
            {
                image++;
                if (!pending(s, k) && !failed(image)) row(s, image);
            }
    }

    /// <summary>A distinct 32-byte content hash per image.</summary>
    public static byte[] Sha(long image)
    {
        var sha = new byte[32];
        BinaryPrimitives.WriteInt64BigEndian(sha, image);
        BinaryPrimitives.WriteInt64BigEndian(sha.AsSpan(24), image * 2654435761L);
        return sha;
    }

    private static int[] EllipseRle(int w, int h)
    {
        var runs = new List<int>();
        var (current, length) = (false, 0);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                double dx = (x + 0.5 - w / 2.0) / (w / 2.0), dy = (y + 0.5 - h / 2.0) / (h / 2.0);
                var inside = dx * dx + dy * dy <= 1;
                if (inside != current) { runs.Add(length); (current, length) = (inside, 0); }
                length++;
            }
        runs.Add(length);
        return runs.ToArray();
    }

    private static async Task Exec(NpgsqlConnection c, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, c) { CommandTimeout = 0 };
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
