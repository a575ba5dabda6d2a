using Dapper;
using NfcPipeline.IntegrationTests.Infrastructure;
using NfcPipeline.Storage.Migrations;

namespace NfcPipeline.IntegrationTests;

public class MigrationTests
{
    private static IReadOnlyList<Migration> RepoMigrations() =>
        MigrationSource.FromDirectory(Path.Combine(TestServices.RepoRoot, "migrations"));

    [Fact]
    public async Task Apply_on_empty_database_creates_the_schema_and_records_each_migration()
    {
        await using var db = await TestDatabase.CreateAsync();
        var migrations = RepoMigrations();

        var result = await new MigrationRunner(db.ConnectionString).ApplyAsync(migrations);

        Assert.Equal(migrations.Select(m => m.Version), result.Applied.Select(m => m.Version));
        Assert.Equal(0, result.AlreadyApplied);
        Assert.Equal(migrations.Count, await db.ScalarAsync<long>("select count(*) from schema_migrations"));
        string[] tables = ["studies", "patients", "images", "models", "image_metrics", "capillaries", "patient_metrics", "jobs", "workers"];
        foreach (var table in tables)
            Assert.True(await db.ScalarAsync<bool>($"select to_regclass('public.{table}') is not null"), $"table {table} missing");
        // Which study a share folder is registered as, asked at every registration and submission, is found by index.
        await db.ScalarAsync<object>("insert into studies (external_id, source_path, state, image_count) select 'S' || g, 'folder' || g, 'completed', 0 from generate_series(1, 5000) g");
        await db.ScalarAsync<object>("analyze studies");
        await using var c = new Npgsql.NpgsqlConnection(db.ConnectionString);
        await c.OpenAsync();
        Assert.Contains("studies_source_path", await PlanAsync(c, Storage.Pipeline.StudyIdentity.OtherStudyOfFolderSql
            .Replace("@SourcePath", "'folder7'").Replace("@ExternalId", "'x'")));

        // Whether a chunk owns images it did not load, asked at every chunk commit: by index, not by reading every open
        // image of every study (a large backlog slowed each commit in turn).
        await db.ScalarAsync<object>("""
            insert into patients (study_id, code) select id, 'P' from studies where external_id = 'S1';
            insert into images (study_id, patient_id, field, rel_path, sha256, size_bytes, state, chunk_job_id)
            select p.study_id, p.id, 'f' || g, 'P/f' || g || '.jpg', sha256(g::text::bytea), 1, 'queued', g / 8
            from patients p, generate_series(1, 20000) g;
            analyze images
            """);
        Assert.Contains("images_open_chunk_idx", await PlanAsync(c, "select " + Storage.Pipeline.ResultStore.OwnsUnloadedImagesSql
            .Replace("@JobId", "7").Replace("@Loaded", "'{56,57}'::bigint[]")));
    }

    /// <summary>The plan PostgreSQL makes for <paramref name="sql"/>, every line of EXPLAIN's.</summary>
    private static async Task<string> PlanAsync(Npgsql.NpgsqlConnection c, string sql)
    {
        await using var explain = new Npgsql.NpgsqlCommand("explain " + sql, c);
        var plan = new System.Text.StringBuilder();
        await using var rows = await explain.ExecuteReaderAsync();
        while (await rows.ReadAsync()) plan.AppendLine(rows.GetString(0));
        return plan.ToString();
    }

    [Fact]
    public async Task Applying_again_is_a_no_op()
    {
        await using var db = await TestDatabase.CreateAsync();
        var runner = new MigrationRunner(db.ConnectionString);
        await runner.ApplyAsync(RepoMigrations());
        var firstAppliedAt = await db.ScalarAsync<DateTime>("select max(applied_at) from schema_migrations");

        var second = await runner.ApplyAsync(RepoMigrations());

        Assert.True(second.NothingToApply);
        Assert.Equal(RepoMigrations().Count, second.AlreadyApplied);
        Assert.Equal(firstAppliedAt, await db.ScalarAsync<DateTime>("select max(applied_at) from schema_migrations"));
    }

    [Fact]
    public async Task A_migration_waiting_on_a_lock_held_elsewhere_gives_up_saying_why_and_applies_once_it_is_free()
    {
        // An ALTER TABLE queued behind an open transaction waited for ever, and every statement on that table queued
        // behind it: the workers' heartbeats and chunk writes stopped with the start-up.
        await using var db = await TestDatabase.CreateAsync();
        var runner = new MigrationRunner(db.ConnectionString) { LockTimeout = TimeSpan.FromMilliseconds(200), LockAttempts = 2 };
        var all = RepoMigrations();
        await runner.ApplyAsync(all.Where(m => m.Version < 36).ToList());
        await using var holder = new Npgsql.NpgsqlConnection(db.ConnectionString);
        await holder.OpenAsync();
        await using (var open = await holder.BeginTransactionAsync())
        {
            await new Npgsql.NpgsqlCommand("select count(*) from workers", holder, open).ExecuteScalarAsync();   // holds a share lock

            var error = await Assert.ThrowsAsync<MigrationException>(() => runner.ApplyAsync(all));

            Assert.Contains("0036_worker_alive_within waited 2 times 0.2 s for a lock", error.Message);
            Assert.False(await db.ScalarAsync<bool>("select exists (select 1 from schema_migrations where version = 36)"));
        }
        Assert.Equal(36, (await runner.ApplyAsync(all)).Applied.Min(m => m.Version));   // 0036 and any after it
    }

    [Fact]
    public async Task Every_index_on_images_and_jobs_adds_a_column_order_no_other_index_leads_with()
    {
        // An index whose columns lead another's serves no query the wider one does not, and costs every write.
        await using var db = await TestDatabase.CreateAsync();
        await new MigrationRunner(db.ConnectionString).ApplyAsync(RepoMigrations());
        await using var connection = new Npgsql.NpgsqlConnection(db.ConnectionString);
        var keys = (await connection.QueryAsync<(string Table, string Name, string Columns)>("""
            select c.relname, i.relname, pg_get_indexdef(x.indexrelid)
            from pg_index x join pg_class i on i.oid = x.indexrelid join pg_class c on c.oid = x.indrelid
            where c.relname in ('images', 'jobs') and x.indpred is null
            """)).Select(k => (k.Table, k.Name, Cols: k.Columns[(k.Columns.IndexOf(" USING btree (", StringComparison.Ordinal) + 14)..^1]
                .Split(", ").ToArray())).ToList();
        Assert.Contains(keys, k => k.Name == "images_patient_state_idx");
        var covered = keys.Where(narrow => keys.Any(wide => wide.Table == narrow.Table && wide.Name != narrow.Name
            && wide.Cols.Length > narrow.Cols.Length && wide.Cols.Take(narrow.Cols.Length).SequenceEqual(narrow.Cols)
            && !narrow.Name.EndsWith("_pkey", StringComparison.Ordinal) && !narrow.Name.EndsWith("_key", StringComparison.Ordinal)))
            .Select(k => k.Name);
        Assert.Empty(covered);
    }

    [Fact]
    public async Task A_migration_whose_connection_is_killed_fails_saying_so_not_with_the_unlocks_error()
    {
        // The unlock in finally ran on the broken connection and its "connection is broken" replaced the real error.
        await using var db = await TestDatabase.CreateAsync();
        var runner = new MigrationRunner(db.ConnectionString);
        var apply = runner.ApplyAsync([new Migration(1, "slow", "select pg_sleep(60)")]);
        await using var killer = new Npgsql.NpgsqlConnection(db.ConnectionString);
        await killer.OpenAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await killer.ExecuteScalarAsync<int>("""
            select count(pg_terminate_backend(pid))::int from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid() and query like 'select pg_sleep(60)%'
            """) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the migration never started");
            await Task.Delay(50);
        }

        var error = await Assert.ThrowsAsync<MigrationException>(() => apply);
        Assert.Contains("Migration 0001_slow failed and was rolled back", error.Message);
        Assert.Contains("SQLSTATE 57P01", error.Message);
        Assert.Single((await runner.ApplyAsync([new Migration(1, "slow", "select 1")])).Applied);   // the lock went with the session
    }

    [Fact]
    public async Task A_tampered_migration_is_refused_and_nothing_new_is_applied()
    {
        await using var db = await TestDatabase.CreateAsync();
        var runner = new MigrationRunner(db.ConnectionString);
        var original = RepoMigrations();
        await runner.ApplyAsync(original);

        var tampered = original
            .Select(m => m.Version == 2 ? m with { Sql = m.Sql + "\n-- edited after release\n" } : m)
            .Append(new Migration(9999, "would_be_new", "create table should_not_exist (id int)"))
            .ToList();
        var error = await Assert.ThrowsAsync<MigrationException>(() => runner.ApplyAsync(tampered));

        Assert.Contains("0002_models_and_results", error.Message);
        Assert.Contains("changed since they were applied", error.Message);
        Assert.False(await db.ScalarAsync<bool>("select to_regclass('public.should_not_exist') is not null"));
    }

    [Fact]
    public async Task A_new_migration_numbered_below_an_applied_one_is_refused_and_nothing_is_applied()
    {
        await using var db = await TestDatabase.CreateAsync();
        var runner = new MigrationRunner(db.ConnectionString);
        var original = RepoMigrations();
        await runner.ApplyAsync(original);

        // 0006 is a free number below the applied ones; 9999 would be fine on its own.
        var late = original.Append(new Migration(6, "added_late", "create table should_not_exist (id int)"))
            .Append(new Migration(9999, "would_be_new", "create table should_not_exist_either (id int)")).ToList();
        var error = await Assert.ThrowsAsync<MigrationException>(() => runner.ApplyAsync(late));

        Assert.Contains("0006_added_late", error.Message);
        Assert.Contains($"below {original.Max(m => m.Version):D4}", error.Message);
        Assert.False(await db.ScalarAsync<bool>("select to_regclass('public.should_not_exist') is not null"));
        Assert.False(await db.ScalarAsync<bool>("select to_regclass('public.should_not_exist_either') is not null"));
    }

    [Fact]
    public async Task Concurrent_runners_both_succeed_and_apply_each_migration_once()
    {
        await using var db = await TestDatabase.CreateAsync();
        var migrations = RepoMigrations();

        var results = await Task.WhenAll(
            Task.Run(() => new MigrationRunner(db.ConnectionString).ApplyAsync(migrations)),
            Task.Run(() => new MigrationRunner(db.ConnectionString).ApplyAsync(migrations)));

        Assert.Equal(migrations.Count, results.Sum(r => r.Applied.Count));
        Assert.Contains(results, r => r.NothingToApply);
        Assert.Equal(migrations.Count, await db.ScalarAsync<long>("select count(*) from schema_migrations"));
    }

    [Fact]
    public async Task A_runner_waits_out_another_holding_the_lock_longer_than_the_command_timeout()
    {
        await using var db = await TestDatabase.CreateAsync();
        // Npgsql's default timeout is 30 s; at 1 s here, a migration or index build that holds the lock longer than
        // the connection's command timeout must not fail the runner that waits for it.
        var shortTimeout = new Npgsql.NpgsqlConnectionStringBuilder(db.ConnectionString) { CommandTimeout = 1 }.ConnectionString;
        await using var holder = new Npgsql.NpgsqlConnection(db.ConnectionString);
        await holder.OpenAsync();
        await using (var take = new Npgsql.NpgsqlCommand($"select pg_advisory_lock({MigrationRunner.AdvisoryLockKey})", holder))
            await take.ExecuteNonQueryAsync();

        // One small migration: every statement of the repository's ~36 would get 1 s too, on a database server busy
        // with the other tests.
        List<Migration> one = [new(1, "one", "create table waited_for (id int)")];
        var waiting = Task.Run(() => new MigrationRunner(shortTimeout).ApplyAsync(one));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(waiting.IsCompleted);
        await using (var release = new Npgsql.NpgsqlCommand($"select pg_advisory_unlock({MigrationRunner.AdvisoryLockKey})", holder))
            await release.ExecuteNonQueryAsync();

        var result = await waiting.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Single(result.Applied);
    }

    [Fact]
    public async Task A_failing_migration_is_rolled_back_and_reported()
    {
        await using var db = await TestDatabase.CreateAsync();
        Migration[] migrations =
        [
            new(1, "good", "create table first_table (id int)"),
            new(2, "bad", "create table half_done (id int); select * from no_such_table"),
        ];

        var error = await Assert.ThrowsAsync<MigrationException>(() => new MigrationRunner(db.ConnectionString).ApplyAsync(migrations));

        Assert.Contains("0002_bad", error.Message);
        Assert.Contains("no_such_table", error.Message);
        Assert.True(await db.ScalarAsync<bool>("select to_regclass('public.first_table') is not null"));
        Assert.False(await db.ScalarAsync<bool>("select to_regclass('public.half_done') is not null"));
        Assert.Equal(1L, await db.ScalarAsync<long>("select count(*) from schema_migrations"));
    }

    [Fact]
    public void Embedded_migrations_are_exactly_the_repository_folder()
    {
        var embedded = MigrationSource.Embedded();
        var folder = RepoMigrations();
        Assert.Equal(folder.Select(m => (m.Version, m.Name, m.Checksum)), embedded.Select(m => (m.Version, m.Name, m.Checksum)));
    }

    [Fact]
    public void Badly_named_or_duplicate_migration_files_are_rejected()
    {
        var dir = Directory.CreateTempSubdirectory("nfc-migrations-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "0001_a.sql"), "select 1");
            File.WriteAllText(Path.Combine(dir.FullName, "0001_b.sql"), "select 1");
            Assert.Contains("share version 0001", Assert.Throws<MigrationException>(() => MigrationSource.FromDirectory(dir.FullName)).Message);

            File.Delete(Path.Combine(dir.FullName, "0001_b.sql"));
            File.WriteAllText(Path.Combine(dir.FullName, "2_Bad Name.sql"), "select 1");
            Assert.Contains("not named NNNN_", Assert.Throws<MigrationException>(() => MigrationSource.FromDirectory(dir.FullName)).Message);
        }
        finally { dir.Delete(recursive: true); }
    }
}
