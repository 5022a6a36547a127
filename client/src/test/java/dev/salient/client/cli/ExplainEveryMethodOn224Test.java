package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.client.SalientClient;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.MethodInfo;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Every method the server lists for a 3x224x224 model completes from {@code salient explain}, a
 * real server on loopback serving the colour-224 fixture: results the size of a real colour
 * model's, trajectories with their snapshots over gRPC's usual 4 MiB.
 */
class ExplainEveryMethodOn224Test {
  static final Path COLOUR_224 = Path.of("../server/src/test/resources/models/colour-224");

  /** Few steps, so that all methods run in seconds on 2 cores; the sizes of results stay. */
  static final Map<String, List<String>> SMALL_RUNS = Map.of(
      "smoothgrad", List.of("samples=4", "batch=4"),
      "integrated_gradients", List.of("steps=4", "batch=4"),
      "geosal", List.of("max_iterations=3"),
      "fgsm", List.of("grid=4", "refine=2"),
      "bim", List.of("max_iterations=5"),
      "nonlinear", List.of("steps_per_level=1"),
      "blur_salient", List.of("steps_per_level=1"),
      "occlusion", List.of("patch=112"),
      "lime", List.of("samples=16", "batch=16"));

  static ActorSystem<Void> serverSystem;
  static SalientServer server;
  static String address;
  static Path image;

  @TempDir static Path dir;

  @BeforeAll
  static void start() throws IOException {
    Config config = ConfigFactory.parseString("salient.port = 0").withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "server", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        new ModelCatalog(List.of(ModelPackage.read(COLOUR_224))), MethodRegistry.standard());
    address = "127.0.0.1:" + server.address().getPort();
    image = colourPhoto(dir.resolve("photo.png"));
  }

  @AfterAll
  static void stop() {
    server.close();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  @TestFactory
  Stream<DynamicTest> everyListedMethodCompletesAndWritesItsMaps() {
    List<MethodInfo> methods = listedMethods();
    assertTrue(methods.size() >= 13, "methods listed for colour-224: " + methods);
    return methods.stream().map(m -> DynamicTest.dynamicTest(m.getName(), () -> {
      Path out = Files.createDirectories(dir.resolve(m.getName()));

      Cli run = explain(m.getName(), out);

      assertEquals(0, run.code(), run.err());
      assertTrue(run.out().contains("result "), run.out());
      assertTrue(written(out, "photo." + m.getName() + ".").stream()
          .anyMatch(f -> f.endsWith(".npy")), "a map's .npy in " + written(out, ""));
      if (m.getFamily() == MethodInfo.Family.NONLINEAR) {
        // The figure is drawn only from the result's snapshots: they came through.
        assertTrue(Files.isRegularFile(out.resolve("photo." + m.getName() + ".snapshots.png")),
            "snapshot strip in " + written(out, ""));
      }
    }));
  }

  @Test
  void nonlinearResultWithSnapshotsIsOverGrpcsUsualFourMib() throws IOException {
    Path out = Files.createDirectories(dir.resolve("over-four-mib"));

    Cli run = explain("nonlinear", out, "--max-message-mib", "4");

    assertEquals(1, run.code(), run.out());
    assertTrue(run.err().contains("RESOURCE_EXHAUSTED"), run.err());
  }

  private static List<MethodInfo> listedMethods() {
    try (SalientClient client = SalientClient.connect("127.0.0.1", server.address().getPort())) {
      return client.describeModel(DescribeModelRequest.newBuilder().setModel("colour-224").build())
          .toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join()
          .getModel().getMethodsList();
    }
  }

  private static Cli explain(String method, Path out, String... extra) {
    List<String> args = new ArrayList<>(List.of("explain", "--server", address, "--model",
        "colour-224", "--image", image.toString(), "--method", method, "--out", out.toString()));
    for (String param : SMALL_RUNS.getOrDefault(method, List.of())) {
      args.add("--param");
      args.add(param);
    }
    args.addAll(List.of(extra));
    CommandLine cmd = new CommandLine(new SalientCli());
    StringWriter stdout = new StringWriter();
    StringWriter stderr = new StringWriter();
    cmd.setOut(new PrintWriter(stdout, true));
    cmd.setErr(new PrintWriter(stderr, true));
    int code = cmd.execute(args.toArray(String[]::new));
    return new Cli(code, stdout.toString(), stderr.toString());
  }

  private record Cli(int code, String out, String err) {}

  private static List<String> written(Path out, String prefix) throws IOException {
    try (Stream<Path> files = Files.list(out)) {
      return files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith(prefix))
          .sorted().toList();
    }
  }

  /** A 300x200 colour picture (resized to 224x224 by the server) with smooth gradients. */
  private static Path colourPhoto(Path file) throws IOException {
    BufferedImage picture = new BufferedImage(300, 200, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 200; y++) {
      for (int x = 0; x < 300; x++) {
        int r = x * 255 / 299;
        int g = y * 255 / 199;
        int b = (int) (127.5 + 127.5 * Math.sin((x + y) / 20.0));
        picture.setRGB(x, y, (r << 16) | (g << 8) | b);
      }
    }
    ImageIO.write(picture, "png", file.toFile());
    return file;
  }
}
