package dev.salient.server.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.interactions.Actions;
import org.openqa.selenium.support.ui.Select;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web viewer in a real headless Chromium (Debian's chromium and chromium-driver, driven by
 * Selenium) against a real server on loopback; skipped, saying why, where no Chromium is
 * installed. Each view's screenshot goes to docs/images/viewer-*.png.
 */
class ViewerBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final Path SCREENSHOTS = Path.of("..", "docs", "images");
  static ActorSystem<Void> serverSystem;
  static SalientServer server;
  static String viewer;
  static ChromeDriver browser;

  @BeforeAll
  static void start() {
    assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "no headless Chromium here: install Debian's chromium and chromium-driver "
            + "(apt-get install chromium chromium-driver) to run the viewer's browser tests");
    Config config = ConfigFactory.parseString("salient.port = 0\n"
        + "salient.scheduler.measure-best-batch = false").withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "viewer", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    viewer = "http://127.0.0.1:" + server.httpAddress().orElseThrow().getPort() + "/viewer/";
    openBrowser();
  }

  @AfterAll
  static void stop() {
    if (browser != null) {
      browser.quit();
    }
    if (server != null) {
      server.close();
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
          .join();
    }
  }

  /** One browser for the class (it takes seconds to start); each test loads the page afresh. */
  static void openBrowser() {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1280,800",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream");
    ChromeDriverService service = new ChromeDriverService.Builder()
        .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
    browser = new ChromeDriver(service, options);
  }

  @BeforeEach
  void loadPage() {
    browser.manage().window().setSize(new Dimension(1280, 800));
    browser.get(viewer);
    until(Duration.ofSeconds(30), "the page loaded the models and samples",
        "return window.salientViewer.loaded === true");
  }

  private static Object js(String script) {
    return ((JavascriptExecutor) browser).executeScript(script);
  }

  private static void until(Duration limit, String what, String condition) {
    new WebDriverWait(browser, limit).withMessage(() -> what + "; page error: "
        + browser.findElement(By.id("error")).getText())
        .until(d -> Boolean.TRUE.equals(js(condition)));
  }

  private long counter(String name) {
    return ((Number) js("return window.salientViewer." + name)).longValue();
  }

  private void screenshot(String name) throws Exception {
    Files.createDirectories(SCREENSHOTS);
    // The whole page: the window as tall as the document, scrolled to the top.
    Dimension window = browser.manage().window().getSize();
    long height = ((Number) js("window.scrollTo(0, 0); "
        + "return document.documentElement.scrollHeight")).longValue();
    browser.manage().window().setSize(new Dimension(window.getWidth(),
        (int) Math.min(2400, height + window.getHeight() - viewportHeight())));
    Path shot = browser.getScreenshotAs(OutputType.FILE).toPath();
    browser.manage().window().setSize(window);
    Files.copy(shot, SCREENSHOTS.resolve("viewer-" + name + ".png"),
        StandardCopyOption.REPLACE_EXISTING);
  }

  private long viewportHeight() {
    return ((Number) js("return window.innerHeight")).longValue();
  }

  private void chooseMethod(String method) {
    new Select(browser.findElement(By.id("method"))).selectByValue(method);
  }

  private void setParameter(String name, String value) {
    WebElement field = browser.findElement(By.cssSelector("[data-param='" + name + "']"));
    if (field.getTagName().equals("select")) {
      new Select(field).selectByValue(value);
    } else {
      field.clear();
      field.sendKeys(value);
    }
  }

  @Test
  void theNonlinearMethodOnASampleDrawsEveryFrameLiveAndTheFinalMaps() throws Exception {
    new Select(browser.findElement(By.id("sample"))).selectByVisibleText("Shirt");
    chooseMethod("nonlinear");
    setParameter("mode", "both");
    setParameter("steps_per_level", "2");
    browser.findElement(By.id("run")).click();

    until(Duration.ofSeconds(60), "the result was shown",
        "return window.salientViewer.resultShown === true");
    long frames = counter("framesDrawn");
    long points = counter("curvePoints");
    List<WebElement> maps = browser.findElements(By.cssSelector("#result-maps .map-card"));
    List<WebElement> trajectories = browser.findElements(By.cssSelector("#trajectories polyline"));
    screenshot("nonlinear");

    assertTrue(frames >= 8, "frames drawn live: " + frames);
    assertEquals(frames, points, "a curve point per frame");
    assertEquals(frames, browser.findElements(By.cssSelector("#curve circle.point")).size());
    assertTrue(maps.size() >= 3, "the original and the final maps: " + maps.size());
    assertEquals(2, trajectories.size(), "linear and nonlinear trajectories together");
    assertTrue(browser.findElements(By.cssSelector("#result-maps .colour-bar")).size() >= 2);
    assertTrue(browser.findElement(By.id("result-values")).getText().contains("best_probability"));
  }

  @Test
  void eachFinalMapOffersTheServersFigureAsAPngDownload() {
    new Select(browser.findElement(By.id("sample"))).selectByVisibleText("Shirt");
    chooseMethod("signed");
    browser.findElement(By.id("run")).click();

    until(Duration.ofSeconds(60), "the result was shown",
        "return window.salientViewer.resultShown === true");
    List<WebElement> links = browser.findElements(By.cssSelector("#result-maps a.figure-link"));

    assertTrue(links.size() >= 1, "a figure link per final map: " + links.size());
    for (WebElement link : links) {
      // "iVBORw0KGgo" is the PNG signature in base64.
      assertTrue(link.getAttribute("href").startsWith("data:image/png;base64,iVBORw0KGgo"));
      assertTrue(link.getAttribute("download").startsWith("signed."),
          link.getAttribute("download"));
    }
  }

  @Test
  void threeMethodsSideBySideShareOneScale() throws Exception {
    browser.findElement(By.cssSelector(".tab[data-view='compare']")).click();
    for (WebElement box : browser.findElements(By.cssSelector("#compare-list input"))) {
      boolean wanted = List.of("vanilla", "integrated_gradients", "occlusion")
          .contains(box.getAttribute("value"));
      if (box.isSelected() != wanted) {
        box.click();
      }
    }
    browser.findElement(By.id("run")).click();

    until(Duration.ofSeconds(60), "three maps were compared",
        "return window.salientViewer.compareShown === 3");
    screenshot("compare");

    assertEquals(4, browser.findElements(By.cssSelector("#compare-maps .map-card")).size(),
        "the original and three maps");
    assertEquals(1, browser.findElements(By.cssSelector("#compare-bar .colour-bar")).size(),
        "one colour bar for all of them");
  }

  @Test
  void anAdversarialMethodShowsTheAdversarialDifferenceAndImportance() throws Exception {
    chooseMethod("fgsm");
    browser.findElement(By.id("run")).click();

    until(Duration.ofSeconds(60), "the result was shown",
        "return window.salientViewer.resultShown === true");
    String titles = browser.findElement(By.id("result-maps")).getText();
    screenshot("adversarial");

    for (String map : List.of("original", "adversarial", "difference", "importance")) {
      assertTrue(titles.contains(map), map + " in " + titles);
    }
  }

  @Test
  void anUnknownParameterValueShowsTheServersMessage() throws Exception {
    chooseMethod("nonlinear");
    setParameter("steps_per_level", "many");
    browser.findElement(By.id("run")).click();

    until(Duration.ofSeconds(30), "an error was shown",
        "return window.salientViewer.errors > 0");
    WebElement error = browser.findElement(By.id("error"));
    screenshot("error");

    assertTrue(error.isDisplayed());
    assertTrue(error.getText().startsWith("INVALID_ARGUMENT: "), error.getText());
    assertTrue(error.getText().contains("steps_per_level"), error.getText());
    assertEquals("alert", error.getAttribute("role"));
  }

  @Test
  void theWebcamIsExplainedLiveWithItsLatency() throws Exception {
    browser.findElement(By.cssSelector(".tab[data-view='video']")).click();
    chooseMethod("vanilla");
    browser.findElement(By.id("video-start")).click();

    until(Duration.ofSeconds(90), "20 webcam frames were explained",
        "return window.salientViewer.videoFramesExplained >= 20");
    screenshot("video");
    browser.findElement(By.id("video-stop")).click();

    assertTrue(counter("lastLatencyMs") > 0);
    assertTrue(browser.findElement(By.id("video-status")).getText().contains("latency"));
  }

  @Test
  void everyControlIsReachableByKeyboardAtPhoneWidth() throws Exception {
    browser.manage().window().setSize(new Dimension(390, 844));
    Actions keyboard = new Actions(browser);
    keyboard.sendKeys(Keys.TAB).perform();
    int reached = 0;
    boolean runReached = false;
    for (int i = 0; i < 60 && !runReached; i++) {
      WebElement focused = browser.switchTo().activeElement();
      runReached = "run".equals(focused.getAttribute("id"));
      reached++;
      // To the page, not the element: Tab sent to a file input would be taken as a file name.
      keyboard.sendKeys(Keys.TAB).perform();
    }
    long overflow = ((Number) js("return document.documentElement.scrollWidth "
        + "- document.documentElement.clientWidth")).longValue();
    screenshot("phone");

    assertTrue(runReached, "the Explain button is reachable with Tab (" + reached + " stops)");
    assertTrue(overflow <= 0, "no sideways scrolling at phone width: " + overflow + " px");
  }
}
