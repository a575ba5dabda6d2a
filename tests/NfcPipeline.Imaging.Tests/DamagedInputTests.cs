namespace NfcPipeline.Imaging.Tests;

/// <summary>
/// Every valid corpus image, cut short and with bytes overwritten at seeded random places: the decoder must either
/// decode a consistent image or throw ImageDecodeException. A native crash would take the test host down.
/// </summary>
public class DamagedInputTests
{
    private const int Rounds = 60;

    public static TheoryData<string> ValidImages => new()
    {
        "gray.jpg", "cmyk.jpg", "exif_orientation_6.jpg", "gradient.jpg", "palette.png", "rgb16.png", "rgba.png",
        "multipage.tif", "tiff_named.jpg", "bottom_up_24.bmp", "top_down_24.bmp", "bottom_up_32.bmp", "palette_8.bmp",
    };

    [Theory]
    [MemberData(nameof(ValidImages))]
    public void Cut_and_overwritten_copies_fail_only_with_reason_codes(string name)
    {
        byte[] original = Fixtures.Bytes(name);
        var random = new Random(name.Sum(c => c)); // string hash codes differ per process; this seed does not
        var decoder = new ImageDecoder(new ImageDecodeOptions { MinWidth = 1, MinHeight = 1 });
        var outcomes = new Dictionary<string, int>();

        for (int round = 0; round < Rounds; round++)
        {
            byte[] damaged;
            if (round % 3 == 0)
                damaged = original[..random.Next(1, original.Length)];
            else
            {
                damaged = (byte[])original.Clone();
                int flips = random.Next(1, 9);
                for (int f = 0; f < flips; f++)
                    damaged[random.Next(damaged.Length)] = (byte)random.Next(256);
            }

            string outcome;
            try
            {
                var image = decoder.Decode(damaged);
                Assert.Equal(image.Width * image.Height * 3, image.Pixels.Length);
                outcome = "decoded";
            }
            catch (ImageDecodeException e)
            {
                outcome = e.Reason.ToString();
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        Assert.Equal(Rounds, outcomes.Values.Sum());
        Assert.True(outcomes.Keys.Any(k => k != "decoded"), $"no damaged copy of {name} was refused: {string.Join(", ", outcomes)}");
    }
}
