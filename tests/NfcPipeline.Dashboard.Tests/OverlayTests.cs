using System.Net;
using NfcPipeline.Imaging;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>The overlay PNG is the share's image with masks, keypoints and the distal row drawn on it.</summary>
public class OverlayTests
{
    [Fact]
    public async Task The_overlay_draws_tinted_masks_keypoints_and_the_distal_box_on_the_source_image()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = data.ShareRoot });
        using var client = host.Client();
        var response = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        var png = new ImageDecoder().Decode(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal((320, 240), (png.Width, png.Height));

        Assert.Equal(((byte)0, (byte)220, (byte)255), png.GetPixel(60, 65));   // keypoint U of capillary 0
        Assert.Equal(((byte)255, (byte)235, (byte)0), png.GetPixel(40, 90));   // distal box, left edge
        Assert.Equal(((byte)230, (byte)0, (byte)230), png.GetPixel(130, 90));  // capillary 1 is giant: magenta, though distal too
        var (r, g, _) = png.GetPixel(60, 90);                                  // inside the normal (green) mask
        Assert.True(g > r, $"mask fill should be tinted green, got R={r} G={g}");
        var (r0, g0, b0) = png.GetPixel(300, 230);                             // far from every capillary: the source pixel
        Assert.Equal(((byte)(150 + 300 % 60), (byte)(90 + 230 % 50), (byte)80), (r0, g0, b0));

        var thumb = new ImageDecoder().Decode(await client.GetByteArrayAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}&width=160"));
        Assert.Equal((160, 120), (thumb.Width, thumb.Height));
    }

    [Fact]
    public async Task Without_a_model_the_overlay_draws_the_studys_and_a_keypoint_below_the_gate_is_not_drawn()
    {
        // Without ?model= it drew nothing at all, like a field where nothing was found; and it drew every keypoint, also
        // those the measurements left out as below their confidence gate.
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = data.ShareRoot });
        using var client = host.Client();
        var plain = new ImageDecoder().Decode(await client.GetByteArrayAsync($"/images/{data.ImageIds[0]}/overlay.png"));
        Assert.Equal(((byte)0, (byte)220, (byte)255), plain.GetPixel(60, 65));   // keypoint U of capillary 0

        await data.Database.ScalarAsync<int>("update capillaries set keypoints[3] = 0.05 where instance_index = 0 returning 1");
        var gated = new ImageDecoder().Decode(await client.GetByteArrayAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}"));
        Assert.NotEqual(((byte)0, (byte)220, (byte)255), gated.GetPixel(60, 65));

        // Measured under another gate (Analysis:Measurement:MinKeypointConfidence), the overlay draws by that one.
        async Task<(byte, byte, byte)> UnderGate(double gate, int x, int y)
        {
            await data.Database.ScalarAsync<int>($"update image_metrics set settings = '{{\"analysis\":{{\"Measurement\":{{\"MinKeypointConfidence\":{gate}}}}}}}' returning 1");
            var png = new ImageDecoder().Decode(await client.GetByteArrayAsync($"/images/{data.ImageIds[0]}/overlay.png"));
            return png.GetPixel(x, y);
        }
        Assert.Equal(((byte)0, (byte)220, (byte)255), await UnderGate(0.01, 60, 65));      // the 0.05 keypoint was used
        Assert.NotEqual(((byte)0, (byte)220, (byte)255), await UnderGate(0.95, 150, 65));  // capillary 1's U (0.9) was not
        Assert.Equal(((byte)0, (byte)220, (byte)255), await UnderGate(0.9, 150, 65));      // exactly at the gate: used
    }

    [Fact]
    public async Task A_study_submitted_as_a_list_of_images_has_its_overlays_too()
    {
        await using var data = await TestData.CreateAsync();
        // A list submission has no study folder; its image paths are relative to the share.
        await data.Database.ScalarAsync<long>($"""
            with s as (update studies set source_path = null where id = {data.StudyId} returning 1),
                 i as (update images set rel_path = 'studyA/' || rel_path where study_id = {data.StudyId} returning 1)
            select count(*) from i
            """);
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = data.ShareRoot });
        using var client = host.Client();
        var response = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((320, 240), (new ImageDecoder().Decode(await response.Content.ReadAsByteArrayAsync()) is var png ? (png.Width, png.Height) : default));
    }

    [Fact]
    public async Task A_source_replaced_since_its_analysis_gets_no_overlay_of_the_old_results()
    {
        await using var data = await TestData.CreateAsync();
        var source = Path.Combine(data.ShareRoot, "studyA", "P01", "L2", "f1.png");
        var other = await File.ReadAllBytesAsync(Path.Combine(data.ShareRoot, "studyA", "P01", "R3", "f1.png"));
        await File.WriteAllBytesAsync(source, other);   // a decodable image, but not the one analysed
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = data.ShareRoot });
        using var client = host.Client();

        var response = await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}");
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Contains("changed since it was analysed", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/images/{data.ImageIds[1]}/overlay.png?model={data.ModelId}")).StatusCode);
    }

    [Fact]
    public async Task Without_a_share_root_or_for_an_unknown_image_the_overlay_is_not_found()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var client = host.Client();
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png")).StatusCode);
        var unknown = await client.GetAsync("/images/987654/overlay.png");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("There is no image #987654.", await unknown.Content.ReadAsStringAsync());   // not the pages' "no such page"
    }

    [Fact]
    public async Task A_fifo_or_socket_in_place_of_the_source_is_422_at_once()
    {
        await using var data = await TestData.CreateAsync();
        var source = Path.Combine(data.ShareRoot, "studyA", "P01", "L2", "f1.png");
        File.Delete(source);
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", source)) await mkfifo.WaitForExitAsync();
        var other = Path.Combine(data.ShareRoot, "studyA", "P01", "R3", "f1.png");
        File.Delete(other);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream,
            System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(other));   // open(2) refuses a socket: was a 500
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = data.ShareRoot });
        using var client = host.Client();
        client.Timeout = TimeSpan.FromSeconds(30);   // a blocking open would hang here

        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await client.GetAsync($"/images/{data.ImageIds[0]}/overlay.png?model={data.ModelId}")).StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await client.GetAsync($"/images/{data.ImageIds[1]}/overlay.png?model={data.ModelId}")).StatusCode);
    }
}
