package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.salient.client.FakeData;
import dev.salient.client.FakeServer;
import dev.salient.grpc.ExplainEvent;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code explain --method a,b}: the method list, parameter routing, and the panel. */
class SeveralMethodsTest {
  private static FakeServer server;

  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    server = FakeServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @Test
  void methodListIsCommaSeparatedNamesEachOnce() {
    assertEquals(List.of("vanilla", "signed", "gradcam"),
        SeveralMethods.parse("vanilla, signed,gradcam"));
    assertEquals(List.of("vanilla"), SeveralMethods.parse("vanilla"));
    assertThrows(IllegalArgumentException.class, () -> SeveralMethods.parse("vanilla,,signed"));
    assertThrows(IllegalArgumentException.class, () -> SeveralMethods.parse("signed,signed"));
  }

  @Test
  void aMalformedMethodListIsAUsageError() throws Exception {
    Path image = Files.write(dir.resolve("shoe.png"), new byte[] {1, 2, 3});
    CommandLine cmd = new CommandLine(new SalientCli());
    StringWriter stderr = new StringWriter();
    cmd.setOut(new PrintWriter(new StringWriter(), true));
    cmd.setErr(new PrintWriter(stderr, true));

    int code = cmd.execute("explain", "--server", server.address(), "--image", image.toString(),
        "--method", "vanilla,,signed");

    assertEquals(2, code);
    assertTrue(stderr.toString().contains("--method has an empty name"), stderr.toString());
  }

  @Test
  void prefixedParametersGoToTheirMethodAndOthersToAll() {
    List<String> methods = List.of("smoothgrad", "integrated_gradients");
    Map<String, String> params =
        Map.of("smoothgrad.samples", "20", "output", "probability", "other.key", "1");

    assertEquals(
        Map.of("samples", "20", "output", "probability", "other.key", "1"),
        SeveralMethods.parametersFor("smoothgrad", methods, params));
    assertEquals(
        Map.of("output", "probability", "other.key", "1"),
        SeveralMethods.parametersFor("integrated_gradients", methods, params));
  }

  @Test
  void severalMethodsPrintOneBlockEachAndDrawOnePanel() throws Exception {
    server.explainer.reset();
    server.explainer.events.set(eventsWithRealOverlay());
    Path image = Files.write(dir.resolve("shoe.png"), new byte[] {1, 2, 3});
    Path out = dir.resolve("out");

    StringWriter stdout = new StringWriter();
    StringWriter stderr = new StringWriter();
    CommandLine cmd = new CommandLine(new SalientCli());
    cmd.setOut(new PrintWriter(stdout, true));
    cmd.setErr(new PrintWriter(stderr, true));
    int code = cmd.execute("explain", "--server", server.address(), "--image", image.toString(),
        "--method", "vanilla,signed", "--out", out.toString());

    assertEquals(0, code, stderr.toString());
    assertEquals(2, stdout.toString().split("\nresult ", -1).length - 1, stdout.toString());
    assertTrue(Files.exists(out.resolve("shoe.vanilla.saliency.npy")));
    assertTrue(Files.exists(out.resolve("shoe.signed.saliency.npy")));
    BufferedImage panel = ImageIO.read(out.resolve("shoe.panel.png").toFile());
    assertNotNull(panel, "the panel is a PNG");
    assertTrue(panel.getHeight() >= 2 * 224, "one row per method: " + panel.getHeight());
    assertTrue(stdout.toString().contains("shoe.panel.png"), stdout.toString());
  }

  /** The canned stream with an overlay the panel can decode. */
  private static List<ExplainEvent> eventsWithRealOverlay() throws Exception {
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(new BufferedImage(224, 224, BufferedImage.TYPE_INT_RGB), "png", png);
    List<ExplainEvent> events = new ArrayList<>(FakeData.events());
    ExplainEvent last = events.remove(events.size() - 1);
    var result = last.getResult().toBuilder();
    result.setMaps(0, result.getMaps(0).toBuilder()
        .setOverlayPng(ByteString.copyFrom(png.toByteArray())));
    events.add(last.toBuilder().setResult(result).build());
    return events;
  }
}
