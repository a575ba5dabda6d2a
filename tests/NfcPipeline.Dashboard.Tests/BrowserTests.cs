using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace NfcPipeline.Dashboard.Tests;

/// <summary>
/// Debian's chromium, headless, through /usr/bin/chromedriver. A missing browser fails the test (never skips):
/// ops/test.sh installs chromium and chromium-driver.
/// </summary>
public sealed class BrowserTests : IDisposable
{
    private const string Chromium = "/usr/bin/chromium", ChromeDriver = "/usr/bin/chromedriver";
    private readonly string _profile = Directory.CreateTempSubdirectory("nfc-chromium-").FullName;

    private ChromeDriver StartBrowser()
    {
        Assert.True(File.Exists(Chromium) && File.Exists(ChromeDriver),
            $"{Chromium} and {ChromeDriver} are required (apt-get install -y chromium chromium-driver; ops/test.sh does this).");
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1400,1000", $"--user-data-dir={_profile}");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task Study_and_patient_pages_render_charts_and_overlays_and_requeue_changes_the_job_in_the_database()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString,
            new Dictionary<string, string?> { ["Dashboard:ShareRoot"] = data.ShareRoot });
        using var driver = StartBrowser();
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        var baseUrl = host.Address.ToString().TrimEnd('/');

        driver.Navigate().GoToUrl($"{baseUrl}/studies/{data.StudyId}");
        Assert.Contains("Study STUDY-A", driver.FindElement(By.TagName("h1")).Text);
        Assert.Equal(2, driver.FindElements(By.CssSelector("a.patient-link")).Count);
        Assert.NotEmpty(driver.FindElements(By.CssSelector("progress.study-progress")));

        driver.FindElement(By.LinkText("P01")).Click();
        wait.Until(d => d.FindElements(By.Id("chart-morphology")).Count > 0);
        foreach (var id in new[] { "chart-morphology", "chart-apical", "chart-density" })
        {
            var svg = driver.FindElement(By.Id(id));
            Assert.Equal("svg", svg.TagName);
            Assert.True(svg.FindElements(By.CssSelector("rect")).Count > 0, $"{id} has no bars");
            Assert.True(svg.Size.Width > 0 && svg.Size.Height > 0);
        }
        var images = driver.FindElements(By.CssSelector("img.overlay"));
        Assert.Equal(2, images.Count);
        foreach (var img in images)
        {
            ((IJavaScriptExecutor)driver).ExecuteScript("arguments[0].scrollIntoView()", img);
            wait.Until(_ => (bool)((IJavaScriptExecutor)driver).ExecuteScript("return arguments[0].complete", img)!);
            var naturalWidth = Convert.ToInt64(((IJavaScriptExecutor)driver).ExecuteScript("return arguments[0].naturalWidth", img));
            Assert.Equal(320, naturalWidth);
        }
        Assert.Contains("non-scleroderma", driver.FindElement(By.Id("pattern")).Text);
        Assert.StartsWith("Research use only.", driver.FindElement(By.Id("research-use")).Text);
        Assert.Equal(("2", "1"), (driver.FindElement(By.Id("um-per-px")).Text, driver.FindElement(By.Id("failed-fields")).Text));
        Assert.Equal(2, driver.FindElements(By.CssSelector("#pattern li.rule")).Count);

        driver.Navigate().GoToUrl($"{baseUrl}/jobs?state=failed");
        var row = driver.FindElement(By.Id($"job-{data.FailedJobId}"));
        row.FindElement(By.CssSelector("button.requeue")).Click();
        wait.Until(d => d.FindElements(By.CssSelector("p.flash")).Count > 0);
        Assert.Contains("Requeued 1 job(s).", driver.FindElement(By.CssSelector("p.flash")).Text);
        Assert.Equal("enqueued", await data.JobStateAsync(data.FailedJobId));
        Assert.Null(await data.Database.ScalarAsync<string>($"select last_error from jobs where id = {data.FailedJobId}"));
        Assert.Empty(driver.FindElements(By.Id($"job-{data.FailedJobId}")));
    }

    [Fact]
    public async Task A_script_named_patient_raises_no_alert_in_the_browser()
    {
        await using var data = await TestData.CreateAsync();
        await using var host = await DashboardHost.StartAsync(data.Database.ConnectionString);
        using var driver = StartBrowser();
        var baseUrl = host.Address.ToString().TrimEnd('/');
        foreach (var path in new[] { $"/studies/{data.StudyId}", $"/patients/{data.ScriptPatientId}" })
        {
            driver.Navigate().GoToUrl(baseUrl + path);
            Assert.Throws<NoAlertPresentException>(() => driver.SwitchTo().Alert());
            Assert.Contains(TestData.ScriptPatient, driver.FindElement(By.TagName("body")).Text);
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
