using NfcPipeline.Core.Domain;

namespace NfcPipeline.Core.Options;

/// <summary>Raised when a model's class names cannot all be mapped to clinical categories.</summary>
public sealed class UnknownClassNameException(IReadOnlyList<string> unknownNames)
    : Exception($"No clinical category is configured for model class name(s): {string.Join(", ", unknownNames.Select(n => $"'{n}'"))}. " +
                "Add them to the class-to-category mapping.")
{
    public IReadOnlyList<string> UnknownNames { get; } = unknownNames;
}

/// <summary>
/// Maps model class names (case-insensitive, trimmed) onto clinical categories. A model is checked against the
/// map once, when it is configured, so an unknown name fails loudly instead of being counted as normal.
/// </summary>
public sealed class ClassCategoryMap
{
    private readonly Dictionary<string, ClinicalCategory> _map;

    public ClassCategoryMap(IEnumerable<KeyValuePair<string, ClinicalCategory>> entries)
    {
        _map = new Dictionary<string, ClinicalCategory>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, category) in entries)
        {
            string key = name.Trim();
            if (key.Length == 0) throw new ArgumentException("A class name in the category map is empty.", nameof(entries));
            if (!Enum.IsDefined(category)) throw new ArgumentOutOfRangeException(nameof(entries), category, $"Unknown category for '{key}'.");
            _map[key] = category;
        }
    }

    /// <summary>The documented default mapping (docs/model-contract.md).</summary>
    public static ClassCategoryMap Default { get; } = new(new Dictionary<string, ClinicalCategory>
    {
        ["normal"] = ClinicalCategory.Normal, ["hairpin"] = ClinicalCategory.Normal,
        ["tortuous"] = ClinicalCategory.Normal, ["crossing"] = ClinicalCategory.Normal,
        ["abnormal"] = ClinicalCategory.Abnormal, ["ramified"] = ClinicalCategory.Abnormal,
        ["bushy"] = ClinicalCategory.Abnormal, ["bizarre"] = ClinicalCategory.Abnormal,
        ["hemo"] = ClinicalCategory.Hemorrhage, ["hemorrhage"] = ClinicalCategory.Hemorrhage,
        ["blur"] = ClinicalCategory.Ungradable, ["ungradable"] = ClinicalCategory.Ungradable,
    });

    public IReadOnlyDictionary<string, ClinicalCategory> Entries => _map;

    /// <summary>This map with some names added or re-pointed.</summary>
    public ClassCategoryMap With(IEnumerable<KeyValuePair<string, ClinicalCategory>> overrides) =>
        new(_map.Concat(overrides.Select(o => new KeyValuePair<string, ClinicalCategory>(o.Key.Trim(), o.Value)))
            .GroupBy(e => e.Key, StringComparer.OrdinalIgnoreCase).Select(g => g.Last()));

    /// <summary>Parses "name=category" pairs, e.g. "hairpin=normal", the configuration's text form.</summary>
    public static ClassCategoryMap Parse(IEnumerable<string> pairs)
    {
        var entries = new List<KeyValuePair<string, ClinicalCategory>>();
        foreach (string pair in pairs)
        {
            int eq = pair.IndexOf('=');
            if (eq <= 0 || !EnumNames.TryParse(pair[(eq + 1)..], out ClinicalCategory category))
                throw new FormatException($"Expected 'class=category' with category one of {string.Join(", ", Enum.GetNames<ClinicalCategory>())}, got '{pair}'.");
            entries.Add(new(pair[..eq].Trim(), category));
        }
        return new ClassCategoryMap(entries);
    }

    public bool TryGet(string className, out ClinicalCategory category) => _map.TryGetValue(className.Trim(), out category);

    public ClinicalCategory Get(string className) =>
        TryGet(className, out var category) ? category : throw new UnknownClassNameException([className]);

    /// <summary>Throws <see cref="UnknownClassNameException"/> listing every class name the map lacks.</summary>
    public void Validate(IEnumerable<string> modelClassNames)
    {
        var unknown = modelClassNames.Where(n => !TryGet(n, out _)).Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        if (unknown.Length > 0) throw new UnknownClassNameException(unknown);
    }
}
