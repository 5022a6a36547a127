package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.salient.client.FakeData;
import dev.salient.client.FakeServer;
import dev.salient.client.Npy;
import dev.salient.client.Threads;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.Image;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Target;
import dev.salient.grpc.Tensor;
import io.grpc.Status;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class SalientCliTest {

  private static final byte[] IMAGE = {(byte) 0x89, 'P', 'N', 'G', 0, 1, 2, 3};
  private static final ObjectMapper JSON = new ObjectMapper();

  private static FakeServer server;

  @TempDir Path dir;
  private Path image;

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
    image = Files.write(dir.resolve("shoe.png"), IMAGE);
  }

  /** One CLI run's exit code and output. */
  record CliRun(int code, String out, String err) {
    List<String> outLines() {
      return out.lines().collect(Collectors.toList());
    }
  }

  private static CliRun cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = new CommandLine(new SalientCli());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int code = cmd.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  private String[] explainArgs(String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of("explain", "--server", server.address(), "--image", image.toString()));
    args.addAll(Arrays.asList(extra));
    return args.toArray(String[]::new);
  }

  @Test
  void statsPrintsTheServersCountersAsJson() throws Exception {
    CliRun run = cli("stats", "--server", server.address(), "--json");

    assertEquals(0, run.code(), run.err());
    assertEquals(1, JSON.readTree(run.out()).get("admitted").asLong());
  }

  @Test
  void statsPrintsEachModelsQueueWaitAndShareOfEngineTime() throws Exception {
    CliRun run = cli("stats", "--server", server.address(), "--json");

    var model = JSON.readTree(run.out()).get("models").get(0);
    assertEquals("fashion-mnist", model.get("model").asText());
    assertEquals(2.5, model.get("queue_wait_p99_ms").asDouble());
    assertEquals(1.0, model.get("engine_share").asDouble());
  }

  @Test
  void explainSendsTheRequestTheOptionsDescribe() {
    CliRun run =
        cli(
            explainArgs(
                "--method",
                "blur",
                "--model",
                "fashion-mnist",
                "--target",
                "top:2",
                "--param",
                "sigma=2",
                "--param",
                "steps=10",
                "--top-k",
                "3",
                "--frame-stride",
                "4",
                "--priority",
                "-1"));

    assertEquals(0, run.code(), run.err());
    assertEquals(
        ExplainRequest.newBuilder()
            .setModel("fashion-mnist")
            .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(IMAGE)))
            .setMethod("blur")
            .setTarget(Target.newBuilder().setRank(2))
            .putParams("sigma", "2")
            .putParams("steps", "10")
            .setTopK(3)
            .setFrameStride(4)
            .setPriority(-1)
            .setOmitSnapshots(true)
            .build(),
        server.explainer.lastExplain.get());
  }

  @Test
  void explainPrintsSummaryOnStdoutAndProgressOnStderr() {
    CliRun run = cli(explainArgs());

    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("predicted  #7 Sneaker  p=0.9800  logit=7.5"), run.out());
    assertTrue(run.out().contains("target     #7 Sneaker"), run.out());
    assertTrue(run.out().contains("result     2 steps, 4 passes, 12 ms"), run.out());
    assertTrue(run.out().contains("values     best_probability=0.97"), run.out());
    assertTrue(
        run.out().contains("map        saliency [2, 3] diverging  min -1.5  max 1"), run.out());
    assertFalse(run.out().contains("step 1"), run.out());
    assertTrue(
        run.err().contains("step 1  [coarse]  p(target)=0.5  passes=2  blurred_fraction=0.05"),
        run.err());
    assertTrue(run.err().contains("step 2"), run.err());
  }

  @Test
  void explainJsonPrintsOneObjectPerEvent() throws Exception {
    CliRun run = cli(explainArgs("--json"));

    assertEquals(0, run.code(), run.err());
    List<String> lines = run.outLines();
    assertEquals(4, lines.size(), run.out());
    List<JsonNode> events = new ArrayList<>();
    for (String line : lines) {
      events.add(JSON.readTree(line));
    }
    assertEquals(
        List.of("started", "frame", "frame", "result"),
        events.stream().map(e -> e.get("event").asText()).collect(Collectors.toList()));
    assertEquals(7, events.get(0).get("predicted").get("index").asInt());
    assertEquals(0.1, events.get(2).get("blurred_fraction").asDouble());
    assertEquals(0.97, events.get(3).get("best_probability").asDouble());
    assertTrue(events.get(3).get("maps").get(0).get("file").isNull());
    assertEquals("", run.err());
  }

  @Test
  void explainOutWritesPngAndNpyPerMap() throws Exception {
    Path out = dir.resolve("maps");

    CliRun run = cli(explainArgs("--json", "--out", out.toString()));

    assertEquals(0, run.code(), run.err());
    assertTrue(server.explainer.lastExplain.get().getRenderPng());
    Path png = out.resolve("shoe.vanilla.saliency.png");
    Path npy = out.resolve("shoe.vanilla.saliency.npy");
    assertArrayEquals(FakeData.OVERLAY, Files.readAllBytes(png));
    byte[] npyBytes = Files.readAllBytes(npy);
    byte[] header = Npy.header(new long[] {2, 3});
    assertArrayEquals(header, Arrays.copyOf(npyBytes, header.length));
    assertEquals(FakeData.mapTensor(), Npy.read(npy));
    JsonNode result = JSON.readTree(run.outLines().get(3));
    assertEquals(png.toString(), result.get("maps").get(0).get("file").asText());
    assertEquals(npy.toString(), result.get("maps").get(0).get("npy").asText());
  }

  @Test
  void explainOutWritesTheServersFigureBesideTheOverlay() throws Exception {
    Path out = dir.resolve("figures");

    CliRun run = cli(explainArgs("--out", out.toString()));

    assertEquals(0, run.code(), run.err());
    Path figure = out.resolve("shoe.vanilla.saliency.figure.png");
    assertArrayEquals(FakeData.FIGURE, Files.readAllBytes(figure));
    assertArrayEquals(FakeData.OVERLAY,
        Files.readAllBytes(out.resolve("shoe.vanilla.saliency.png")));
    assertTrue(run.outLines().contains("wrote      " + figure), run.out());
  }

  @Test
  void explainJsonNamesTheFigureFile() throws Exception {
    Path out = dir.resolve("figures");

    CliRun run = cli(explainArgs("--json", "--out", out.toString()));

    JsonNode result = JSON.readTree(run.outLines().get(3));
    assertEquals(out.resolve("shoe.vanilla.saliency.figure.png").toString(),
        result.get("maps").get(0).get("figure").asText());
  }

  @Test
  void explainServerError_error() {
    server.explainer.failure.set(
        Status.INVALID_ARGUMENT.withDescription("image bytes are not a PNG or JPEG"));

    CliRun run = cli(explainArgs());

    assertEquals(1, run.code());
    assertEquals("error: INVALID_ARGUMENT: image bytes are not a PNG or JPEG\n", run.err());
    assertEquals("", run.out());
  }

  @Test
  void explainConnectionRefused_error() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }

    CliRun run = cli("explain", "--server", "127.0.0.1:" + port, "--image", image.toString());

    assertEquals(1, run.code());
    assertTrue(
        run.err().startsWith("error: cannot connect to a Salient server at 127.0.0.1:" + port),
        run.err());
    assertTrue(run.err().contains("./salient serve"), run.err());
    assertFalse(run.err().contains("\tat "), run.err());
  }

  @Test
  void explainBadTarget_error() {
    CliRun run = cli(explainArgs("--target", "top:0"));

    assertEquals(2, run.code());
    assertTrue(run.err().startsWith("Invalid value for option '--target'"), run.err());
    assertNull(server.explainer.lastExplain.get());
  }

  @Test
  void explainMissingImage_error() {
    CliRun run =
        cli("explain", "--server", server.address(), "--image", dir.resolve("nope.png").toString());

    assertEquals(1, run.code());
    assertTrue(run.err().startsWith("error: cannot read image"), run.err());
  }

  @Test
  void classifyJson() throws Exception {
    CliRun run =
        cli(
            "classify",
            "--server",
            server.address(),
            "--image",
            image.toString(),
            "--top-k",
            "2",
            "--json");

    assertEquals(0, run.code(), run.err());
    assertEquals(
        JSON.readTree(
            "{\"model\":\"fashion-mnist\",\"top\":["
                + "{\"index\":7,\"label\":\"Sneaker\",\"probability\":0.98,\"logit\":7.5},"
                + "{\"index\":5,\"label\":\"Sandal\",\"probability\":0.015,\"logit\":3.25}]}"),
        JSON.readTree(run.out()));
    assertEquals(2, server.explainer.lastClassify.get().getTopK());
  }

  @Test
  void classifyTensorSendsTheNpyAsATensor() throws Exception {
    Path npy = dir.resolve("pixels.npy");
    Npy.write(npy, FakeData.mapTensor());

    CliRun run =
        cli("classify", "--server", server.address(), "--image", npy.toString(), "--tensor");

    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("#7    Sneaker"), run.out());
    ClassifyRequest sent = server.explainer.lastClassify.get();
    assertEquals(FakeData.mapTensor(), sent.getImage().getTensor());
  }

  @Test
  void modelsDescribesTheGivenModel() throws Exception {
    CliRun run = cli("models", "--server", server.address(), "--model", "fashion-mnist", "--json");

    assertEquals(0, run.code(), run.err());
    List<String> lines = run.outLines();
    assertEquals(2, lines.size(), run.out());
    assertEquals(
        "fashion-mnist", JSON.readTree(lines.get(0)).get("models").get(0).get("name").asText());
    JsonNode model = JSON.readTree(lines.get(1)).get("model");
    assertEquals("Sneaker", model.get("labels").get(7).asText());
    JsonNode vanilla = model.get("methods").get(0);
    assertEquals("gradient", vanilla.get("family").asText());
    assertTrue(vanilla.get("live_video").asBoolean());
    JsonNode abs = vanilla.get("parameters").get(0);
    assertEquals("abs", abs.get("name").asText());
    assertEquals("choice", abs.get("kind").asText());
    assertEquals("[\"true\",\"false\"]", abs.get("choices").toString());
    JsonNode iterations = model.get("methods").get(1).get("parameters").get(0);
    assertEquals("an integer in [1, 10000]", iterations.get("accepted").asText());
    assertEquals(10000, iterations.get("max").asInt());
  }

  @Test
  void modelsSaysWhatEachParameterAcceptsAndWhichMethodsExplainVideo() {
    CliRun run = cli("models", "--server", server.address(), "--model", "fashion-mnist");

    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("vanilla  (live video)  Gradient"), run.out());
    assertTrue(run.out().contains("geosal  The closest"), run.out());
    assertTrue(run.out().contains("--param abs=true  (default; one of [true, false])"), run.out());
  }

  @Test
  void explainOutAsksForFrameTensorsWhenTheMethodsFamilyIsDrawnFromThem() {
    Path out = dir.resolve("figures");

    CliRun run = cli(explainArgs("--method", "geosal", "--out", out.toString()));

    assertEquals(0, run.code(), run.err());
    assertEquals("", server.explainer.lastDescribe.get().getModel());
    assertTrue(server.explainer.lastExplain.get().getFrameTensors());
  }

  @Test
  void explainOutOfAGradientMethodAsksForNoFrameTensorsNorSnapshots() {
    CliRun run = cli(explainArgs("--out", dir.resolve("maps").toString()));

    assertEquals(0, run.code(), run.err());
    assertFalse(server.explainer.lastExplain.get().getFrameTensors());
    assertTrue(server.explainer.lastExplain.get().getOmitSnapshots());
  }

  @Test
  void explainOutAsksForSnapshotsWhenTheFiguresAreDrawnFromThem() {
    CliRun run = cli(explainArgs("--method", "nonlinear", "--out", dir.resolve("t").toString()));

    assertEquals(0, run.code(), run.err());
    assertFalse(server.explainer.lastExplain.get().getOmitSnapshots());
  }

  @Test
  void explainTakesAResultLargerThanGrpcsDefaultFourMebibytes() {
    server.explainer.events.set(withResultMapOfBytes(12 << 20));

    CliRun run = cli(explainArgs());

    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().contains("map        big"), run.out());
  }

  @Test
  void maxMessageMibRefusesALargerResult() {
    server.explainer.events.set(withResultMapOfBytes(12 << 20));

    CliRun run = cli(explainArgs("--max-message-mib", "4"));

    assertEquals(1, run.code());
    assertTrue(run.err().contains("error: RESOURCE_EXHAUSTED: "), run.err());
    assertTrue(run.err().endsWith("(raise --max-message-mib)\n"), run.err());
  }

  /** The canned events with one more result map of about {@code bytes} bytes. */
  private static List<ExplainEvent> withResultMapOfBytes(int bytes) {
    List<ExplainEvent> events = new ArrayList<>(FakeData.events());
    Result result = events.get(events.size() - 1).getResult();
    Tensor big = Tensor.newBuilder().addShape(bytes / 4)
        .setData(ByteString.copyFrom(new byte[bytes])).build();
    events.set(events.size() - 1, ExplainEvent.newBuilder().setResult(result.toBuilder()
        .addMaps(SaliencyMap.newBuilder().setName("big").setTensor(big))).build());
    return events;
  }

  @Test
  void modelsUnknownModel_error() {
    CliRun run = cli("models", "--server", server.address(), "--model", "nope");

    assertEquals(1, run.code());
    assertTrue(run.err().endsWith("error: NOT_FOUND: unknown model nope\n"), run.err());
  }

  @Test
  void noCliThreadOutlivesTheCommand() throws Exception {
    CliRun run = cli("models", "--server", server.address());
    assertEquals(0, run.code(), run.err());

    assertEquals(List.of(), Threads.lingering("salient-cli-"));
  }

  @Test
  void noSubcommand_error() {
    CliRun run = cli();

    assertEquals(2, run.code());
    assertTrue(run.err().startsWith("Missing required subcommand"), run.err());
  }
}
