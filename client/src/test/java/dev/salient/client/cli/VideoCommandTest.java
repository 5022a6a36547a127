package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.salient.client.FakeServer;
import dev.salient.client.video.TestVideos;
import dev.salient.grpc.DropPolicy;
import dev.salient.grpc.Target;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import io.grpc.Status;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class VideoCommandTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  private static FakeServer server;

  @TempDir Path dir;
  private Path frames;

  @BeforeAll
  static void start() throws Exception {
    server = FakeServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @BeforeEach
  void setUp() throws Exception {
    server.explainer.reset();
    frames = Files.createDirectory(dir.resolve("frames"));
    for (int i = 0; i < 12; i++) {
      Path file = frames.resolve(String.format("f%02d.png", i));
      ImageIO.write(TestVideos.frame(i, 40, 20), "png", file.toFile());
    }
  }

  record CliRun(int code, String out, String err) {
    List<JsonNode> json() {
      return out.lines().map(VideoCommandTest::parse).collect(Collectors.toList());
    }
  }

  private static JsonNode parse(String line) {
    try {
      return JSON.readTree(line);
    } catch (IOException e) {
      throw new AssertionError("not JSON: " + line, e);
    }
  }

  private CliRun video(String... extra) {
    List<String> args = new ArrayList<>(List.of("video", "--server", server.address()));
    args.addAll(Arrays.asList(extra));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = new CommandLine(new SalientCli());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int code = cmd.execute(args.toArray(String[]::new));
    return new CliRun(code, out.toString(), err.toString());
  }

  @Test
  void jsonHasOneLinePerFrameInSequenceOrderAndASummaryThatAddsUp() {
    // setup: the server drops every third frame
    server.explainer.dropEvery.set(3);

    // run
    CliRun run = video("--input", frames.toString(), "--as-fast-as-possible", "--json");

    // verify
    assertEquals(0, run.code(), run.err());
    List<JsonNode> lines = run.json();
    assertEquals(13, lines.size(), run.out());
    for (int i = 0; i < 12; i++) {
      JsonNode line = lines.get(i);
      assertEquals(i, line.get("sequence").asLong(), line.toString());
      boolean dropped = (i + 1) % 3 == 0;
      assertEquals(dropped ? "dropped" : "frame", line.get("event").asText(), line.toString());
      assertTrue(line.get("latency_ms").asDouble() >= 0, line.toString());
      assertEquals(Math.round(i * 1e6 / 30), line.get("capture_time_us").asLong());
      if (dropped) {
        assertEquals("superseded", line.get("reason").asText());
      } else {
        assertEquals("Sneaker", line.get("predicted").asText());
        assertEquals(0.98, line.get("probability").asDouble(), 1e-6);
        assertEquals("Sneaker", line.get("target").asText());
      }
    }
    JsonNode summary = lines.get(12);
    assertEquals("summary", summary.get("event").asText());
    assertEquals(12, summary.get("frames_in").asLong());
    assertEquals(8, summary.get("frames_out").asLong());
    assertEquals(4, summary.get("dropped").asLong());
    assertTrue(summary.get("p50_ms").asDouble() <= summary.get("p99_ms").asDouble());
    assertTrue(summary.get("fps").asDouble() > 0, summary.toString());
  }

  @Test
  void sendsTheSessionThenModelSizedTensors() {
    CliRun run =
        video(
            "--input", frames.toString(),
            "--as-fast-as-possible",
            "--max-frames", "5",
            "--method", "gradcam",
            "--model", "fashion-mnist",
            "--target", "top:2",
            "--param", "output=logit",
            "--max-in-flight", "3",
            "--drop-policy", "never",
            "--smoothing", "0.5");

    assertEquals(0, run.code(), run.err());
    assertEquals(
        VideoSession.newBuilder()
            .setModel("fashion-mnist")
            .setMethod("gradcam")
            .putParams("output", "logit")
            .setTarget(Target.newBuilder().setRank(2))
            .setMaxInFlight(3)
            .setDropPolicy(DropPolicy.NEVER_DROP)
            .setSmoothing(0.5f)
            .build(),
        server.explainer.lastSession.get());
    List<VideoFrame> sent = server.explainer.videoFrames;
    assertEquals(5, sent.size());
    for (int i = 0; i < 5; i++) {
      assertEquals(i, sent.get(i).getSequence());
      assertEquals(List.of(1L, 28L, 28L), sent.get(i).getImage().getTensor().getShapeList());
      assertEquals(28 * 28 * 4, sent.get(i).getImage().getTensor().getData().size());
    }
    assertTrue(run.out().contains("frames     5 in, 5 explained, 0 dropped"), run.out());
  }

  @Test
  void writesAnAnnotatedGifWithOneFramePerFrameInAndDroppedFramesMarked() throws Exception {
    // setup: an MP4 in; every second frame dropped
    Path mp4 = TestVideos.movingSquareMp4(dir.resolve("in.mp4"), 20, 25, 64, 32);
    Path gif = dir.resolve("out.gif");
    server.explainer.dropEvery.set(2);

    // run
    CliRun run =
        video(
            "--input", mp4.toString(), "--max-frames", "10", "--as-fast-as-possible",
            "--out", gif.toString());

    // verify
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("frames     10 in, 5 explained, 5 dropped"), run.out());
    assertTrue(run.out().contains("wrote      " + gif), run.out());
    ImageReader reader = ImageIO.getImageReadersByFormatName("gif").next();
    try (ImageInputStream in = ImageIO.createImageInputStream(gif.toFile())) {
      reader.setInput(in);
      assertEquals(10, reader.getNumImages(true));
      assertFalse(isAmber(reader.read(0).getRGB(1, 16)), "explained frame 0 has no border");
      assertTrue(isAmber(reader.read(1).getRGB(1, 16)), "dropped frame 1 has the amber border");
    } finally {
      reader.dispose();
    }
  }

  @Test
  void pacedAtFpsTakesItsTimeAndAsFastAsPossibleDoesNot() {
    CliRun paced = video("--input", frames.toString(), "--fps", "20", "--json");
    CliRun fast =
        video("--input", frames.toString(), "--fps", "2", "--as-fast-as-possible", "--json");

    assertEquals(0, paced.code(), paced.err());
    assertEquals(0, fast.code(), fast.err());
    // 12 frames at 20/s: the last goes 11/20 s after the first.
    double pacedSeconds = paced.json().get(12).get("seconds").asDouble();
    assertTrue(pacedSeconds >= 0.5 && pacedSeconds < 5, "paced: " + pacedSeconds);
    // At 2/s that would be 5.5 s.
    double fastSeconds = fast.json().get(12).get("seconds").asDouble();
    assertTrue(fastSeconds < 2.5, "as fast as possible: " + fastSeconds);
  }

  @Test
  void video_errorStatusGivesExitOneAndTheStatus() {
    server.explainer.videoFailure.set(
        Status.INVALID_ARGUMENT.withDescription("method blur is not offered for video"));

    CliRun run = video("--input", frames.toString(), "--as-fast-as-possible", "--method", "blur");

    assertEquals(1, run.code());
    assertEquals(
        "error: INVALID_ARGUMENT: method blur is not offered for video", run.err().strip());
  }

  @Test
  void video_errorOnAMissingInputOrABadOption() {
    CliRun missing = video("--input", dir.resolve("nope.mp4").toString());
    CliRun badPolicy = video("--input", frames.toString(), "--drop-policy", "sometimes");

    assertEquals(1, missing.code());
    assertTrue(missing.err().startsWith("error: cannot read "), missing.err());
    assertEquals(2, badPolicy.code());
    assertTrue(badPolicy.err().contains("--drop-policy must be latest or never"), badPolicy.err());
  }

  private static boolean isAmber(int rgb) {
    int r = rgb >> 16 & 0xff;
    int g = rgb >> 8 & 0xff;
    int b = rgb & 0xff;
    return r > 200 && g > 120 && g < 220 && b < 80;
  }

}
