using NfcPipeline.Core.Domain;
using NfcPipeline.Core.Measurements;
using NfcPipeline.Core.Options;
using NfcPipeline.Core.Tests.Support;

namespace NfcPipeline.Core.Tests.Measurements;

public class ClassCategoryMapTests
{
    [Theory]
    [InlineData("normal", ClinicalCategory.Normal)]
    [InlineData("Hairpin", ClinicalCategory.Normal)]
    [InlineData("tortuous", ClinicalCategory.Normal)]
    [InlineData("crossing", ClinicalCategory.Normal)]
    [InlineData("abnormal", ClinicalCategory.Abnormal)]
    [InlineData("ramified", ClinicalCategory.Abnormal)]
    [InlineData("bushy", ClinicalCategory.Abnormal)]
    [InlineData("bizarre", ClinicalCategory.Abnormal)]
    [InlineData("hemo", ClinicalCategory.Hemorrhage)]
    [InlineData("hemorrhage", ClinicalCategory.Hemorrhage)]
    [InlineData("blur", ClinicalCategory.Ungradable)]
    [InlineData(" ungradable ", ClinicalCategory.Ungradable)]
    public void Default_mapping_follows_the_model_contract(string name, ClinicalCategory expected) =>
        Assert.Equal(expected, ClassCategoryMap.Default.Get(name));

    [Fact]
    public void Validation_lists_every_unknown_class_name()
    {
        var error = Assert.Throws<UnknownClassNameException>(() => ClassCategoryMap.Default.Validate(["normal", "megacapillary", "blur", "dot"]));
        Assert.Equal(["megacapillary", "dot"], error.UnknownNames);
        Assert.Contains("'megacapillary'", error.Message);
    }

    [Fact]
    public void Measuring_an_unknown_class_fails_instead_of_counting_it()
    {
        var map = ClassCategoryMap.Parse(["hairpin=normal", "tortuous=normal"]);
        var measurer = new CapillaryMeasurer(new MeasurementOptions { Categories = map });
        Assert.Throws<UnknownClassNameException>(() => measurer.Measure(Loops.Loop(new(100, 100), className: "ramified"), new Calibration(2)));
    }

    [Fact]
    public void Parse_and_override_the_mapping()
    {
        var map = ClassCategoryMap.Default.With([new("giant", ClinicalCategory.Abnormal), new("blur", ClinicalCategory.Normal)]);
        Assert.Equal(ClinicalCategory.Abnormal, map.Get("GIANT"));
        Assert.Equal(ClinicalCategory.Normal, map.Get("blur"));
        Assert.Throws<FormatException>(() => ClassCategoryMap.Parse(["hairpin=weird"]));
        Assert.Throws<FormatException>(() => ClassCategoryMap.Parse(["=normal"]));
        // Names only: a number, or a comma list that ORs to another category.
        Assert.Throws<FormatException>(() => ClassCategoryMap.Parse(["bushy=abnormal,hemorrhage"]));
        Assert.Throws<FormatException>(() => ClassCategoryMap.Parse(["hairpin=1"]));
        Assert.Equal(ClinicalCategory.Abnormal, ClassCategoryMap.Parse(["hairpin= Abnormal "]).Get("hairpin"));
    }
}
