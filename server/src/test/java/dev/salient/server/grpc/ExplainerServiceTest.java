package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.MethodInfo;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.ParameterInfo;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Target;
import dev.salient.grpc.Tensor;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.Preprocessing;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.method.Parameter;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthClient;
import java.io.ByteArrayInputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The Explainer service end to end: a real server on loopback and the generated client. */
class ExplainerServiceTest {
  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static ExplainerClient client;
  static HealthClient health;

  @BeforeAll
  static void start() {
    // One client (this test, from 127.0.0.1) sends a hundred requests at once: no per-client quota.
    Config config = ConfigFactory.parseString("salient.port = 0\n"
        + "salient.scheduler.max-in-flight-per-client = 256").withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "server", config);
    ModelCatalog catalog = new ModelCatalog(List.of(
        ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE),
        ModelPackage.read(Path.of("src/test/resources/models/tiny-torchscript"))));
    server = SalientServer.start(serverSystem, SalientSettings.create(config), catalog,
        MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "client", config);
    GrpcClientSettings settings = GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false);
    client = ExplainerClient.create(settings, clientSystem);
    health = HealthClient.create(settings, clientSystem);
  }

  @AfterAll
  static void stop() {
    client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    health.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
    clientSystem.terminate();
    server.close();
    serverSystem.terminate();
    serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }

  static ExplainRequest.Builder vanillaRequest() {
    return ExplainRequest.newBuilder()
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(0))))
        .setMethod("vanilla");
  }

  static List<ExplainEvent> explain(ExplainRequest request) {
    return await(client.explain(request).runWith(Sink.seq(), clientSystem));
  }

  static dev.salient.grpc.Result result(ExplainRequest request) {
    List<ExplainEvent> events = explain(request);
    return events.get(events.size() - 1).getResult();
  }

  static <T> T await(CompletionStage<T> stage) {
    return stage.toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }

  @Test
  void omitSnapshotsLeavesATrajectorysSnapshotsOutOfTheResultButNotItsCurves() {
    ExplainRequest.Builder nonlinear = vanillaRequest().setMethod("nonlinear")
        .putParams("steps_per_level", "2");

    dev.salient.grpc.Result full = result(nonlinear.build());
    dev.salient.grpc.Result lean = result(nonlinear.setOmitSnapshots(true).build());

    assertTrue(full.getSnapshotsCount() > 0);
    assertEquals(0, lean.getSnapshotsCount());
    assertEquals(full.getCurvesList(), lean.getCurvesList());
    assertEquals(full.getMapsCount(), lean.getMapsCount());
  }

  @Test
  void aResultCarriesItsProvenance() {
    ExplainRequest request = vanillaRequest().setMethod("smoothgrad").putParams("samples", "4")
        .setTarget(Target.newBuilder().setRank(2)).build();
    ModelInfo model = await(client.describeModel(DescribeModelRequest.getDefaultInstance()))
        .getModel();

    List<ExplainEvent> events = explain(request);
    dev.salient.grpc.Provenance provenance =
        events.get(events.size() - 1).getResult().getProvenance();

    assertTrue(model.getContentSha256().matches("[0-9a-f]{64}"), model.getContentSha256());
    assertEquals(model.getContentSha256(), provenance.getModelSha256());
    assertEquals(model.getName(), provenance.getModel());
    assertEquals("smoothgrad", provenance.getMethod());
    assertEquals(events.get(0).getStarted().getParamsMap(), provenance.getParamsMap());
    assertEquals("4", provenance.getParamsMap().get("samples"));
    assertEquals("0", provenance.getParamsMap().get("seed"), "the default seed, filled in");
    assertEquals(events.get(0).getStarted().getTarget().getIndex(), provenance.getTargetClass());
    assertTrue(provenance.getServerVersion().matches("\\d+\\.\\d+\\.\\d+.*"),
        provenance.getServerVersion());
    assertFalse(provenance.getDeterministic());
  }

  @Test
  void aDeterministicRequestSaysSoAndRepeatsBitForBit() {
    ExplainRequest request = vanillaRequest().setMethod("integrated_gradients")
        .putParams("steps", "8").setDeterministic(true).build();

    dev.salient.grpc.Result first = result(request);
    dev.salient.grpc.Result second = result(request);

    assertTrue(first.getProvenance().getDeterministic());
    assertEquals(first.getMapsList(), second.getMapsList());
    assertEquals(first.getValuesMap(), second.getValuesMap());
  }

  @Test
  void explainStreamsStartedThenFramesThenOneResult() {
    List<ExplainEvent> events = explain(vanillaRequest().build());

    assertTrue(events.get(0).hasStarted(), "first event is started");
    assertTrue(events.get(events.size() - 1).hasResult(), "last event is result");
    assertTrue(events.size() >= 3, "at least one frame between started and result");
    for (ExplainEvent e : events.subList(1, events.size() - 1)) {
      assertTrue(e.hasFrame(), "only frames between started and result");
    }
  }

  @Test
  void startedNamesThePredictionAndTheTarget() {
    var started = explain(vanillaRequest().build()).get(0).getStarted();

    assertEquals("fashion-mnist", started.getModel());
    assertEquals(started.getTop(0), started.getPredicted());
    assertEquals(started.getPredicted().getIndex(), started.getTarget().getIndex());
    assertEquals(List.of(1L, 28L, 28L), started.getInputShapeList());
    assertEquals("max_abs", started.getParamsMap().get("reduction"));
  }

  @Test
  void resultCarriesTheSaliencyMapAndTheGradientAsTensors() {
    var result = result(vanillaRequest().build());

    SaliencyMap saliency = map(result.getMapsList(), "saliency");
    SaliencyMap gradient = map(result.getMapsList(), "gradient");
    assertEquals(List.of(28L, 28L), saliency.getTensor().getShapeList());
    assertEquals(List.of(1L, 28L, 28L), gradient.getTensor().getShapeList());
    float[] s = floats(saliency.getTensor());
    float[] g = floats(gradient.getTensor());
    for (int i = 0; i < s.length; i++) {
      assertEquals(Math.abs(g[i]), s[i], 0f, "max_abs of one channel is |g|");
    }
    assertTrue(saliency.getOverlayPng().isEmpty(), "no PNG unless asked for");
    assertTrue(saliency.getFigurePng().isEmpty(), "no figure unless asked for");
  }

  @Test
  void rankTwoTargetExplainsTheRunnerUp() {
    var started = explain(vanillaRequest()
        .setTarget(Target.newBuilder().setRank(2)).build()).get(0).getStarted();

    assertEquals(started.getTop(1).getIndex(), started.getTarget().getIndex());
  }

  @Test
  void labelTargetExplainsThatClass() {
    var started = explain(vanillaRequest()
        .setTarget(Target.newBuilder().setLabel("Bag")).build()).get(0).getStarted();

    assertEquals(8, started.getTarget().getIndex());
  }

  @Test
  void renderPngGivesAReadableOverlayPerMap() throws Exception {
    var result = result(vanillaRequest().setRenderPng(true).build());

    for (SaliencyMap m : result.getMapsList()) {
      var png = ImageIO.read(new ByteArrayInputStream(m.getOverlayPng().toByteArray()));
      assertTrue(png.getWidth() >= 224, m.getName() + " overlay is readable");
    }
  }

  @Test
  void renderPngGivesATitledFigureWithAColourBarPerMap() throws Exception {
    var result = result(vanillaRequest().setRenderPng(true).build());

    for (SaliencyMap m : result.getMapsList()) {
      var overlay = ImageIO.read(new ByteArrayInputStream(m.getOverlayPng().toByteArray()));
      var figure = ImageIO.read(new ByteArrayInputStream(m.getFigurePng().toByteArray()));
      assertTrue(figure != null, m.getName() + " figure decodes as an image");
      assertTrue(figure.getWidth() > overlay.getWidth() + 40, m.getName() + " has room for a bar");
      assertTrue(figure.getHeight() > overlay.getHeight() + 30,
          m.getName() + " has room for a title");
    }
  }

  @Test
  void rawTensorInputGivesTheSameMapAsTheEncodedImage() {
    float[] pixels = TestImages.sample(0);
    ByteBuffer buf = ByteBuffer.allocate(pixels.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(pixels);
    Tensor tensor = Tensor.newBuilder().addShape(1).addShape(28).addShape(28)
        .setData(ByteString.copyFrom(buf.array())).build();

    var fromTensor = result(vanillaRequest().setImage(Image.newBuilder().setTensor(tensor))
        .build());
    var fromPng = result(vanillaRequest().build());

    assertEquals(map(fromPng.getMapsList(), "saliency").getTensor(),
        map(fromTensor.getMapsList(), "saliency").getTensor());
  }

  @Test
  void torchScriptModelExplainsAColourImage() throws Exception {
    var image = new java.awt.image.BufferedImage(40, 30, java.awt.image.BufferedImage.TYPE_INT_RGB);
    image.setRGB(5, 5, 0xff8800);
    var bytes = new java.io.ByteArrayOutputStream();
    ImageIO.write(image, "png", bytes);
    List<ExplainEvent> events = explain(ExplainRequest.newBuilder().setModel("tiny-torchscript")
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(bytes.toByteArray())))
        .setMethod("vanilla").putParams("reduction", "signed").build());

    var saliency = map(events.get(events.size() - 1).getResult().getMapsList(), "saliency");
    assertEquals(List.of(3L, 16L, 16L), saliency.getTensor().getShapeList());
  }

  @Test
  void hundredConcurrentRequestsAllCompleteWithTheNumbersOfARequestAlone() {
    List<ExplainRequest> requests = new java.util.ArrayList<>();
    for (int i = 0; i < 100; i++) {
      requests.add(ExplainRequest.newBuilder()
          .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(i))))
          .setMethod("vanilla").setTarget(Target.newBuilder().setRank(1 + i % 3))
          .putParams("output", i % 2 == 0 ? "logit" : "probability").build());
    }
    List<CompletionStage<List<ExplainEvent>>> concurrent = requests.stream()
        .map(r -> client.explain(r).runWith(Sink.seq(), clientSystem)).toList();
    concurrent.forEach(c -> await(c));
    var stats = await(client.stats(dev.salient.grpc.StatsRequest.getDefaultInstance()));
    long batchedCalls = stats.getWorkersList().stream()
        .flatMap(w -> w.getBatchSizeCountsList().stream().skip(2))
        .mapToLong(Long::longValue).sum();
    assertTrue(batchedCalls > 0, "some engine calls carried several requests: " + stats);

    for (int i = 0; i < requests.size(); i++) {
      List<ExplainEvent> together = await(concurrent.get(i));
      dev.salient.grpc.Result alone = result(requests.get(i));
      float[] a = floats(map(alone.getMapsList(), "gradient").getTensor());
      float[] t = floats(map(together.get(together.size() - 1).getResult().getMapsList(),
          "gradient").getTensor());
      for (int k = 0; k < a.length; k++) {
        assertEquals(a[k], t[k], 1e-5f + 1e-4f * Math.abs(a[k]), "request " + i + " value " + k);
      }
    }
  }

  @Test
  void statsGiveEachModelThatRanItsEngineCallsAndShareOfEngineTime() {
    result(vanillaRequest().setPriority(1).build());

    var models = stats().getModelsList();
    var fashion = models.stream().filter(m -> m.getModel().equals("fashion-mnist")).findFirst()
        .orElseThrow(() -> new AssertionError("no stats of the default model: " + models));
    assertTrue(fashion.getEngineCalls() > 0 && fashion.getImages() > 0, fashion.toString());
    assertEquals(1.0, models.stream().mapToDouble(m -> m.getEngineShare()).sum(), 1e-9);
  }

  static ExplainRequest longRequest() {
    // 10000 tiny BIM steps never flip: a request that runs until something stops it.
    return vanillaRequest().setMethod("bim").putParams("alpha", "0.000001")
        .putParams("max_iterations", "10000").setTarget(Target.newBuilder().setRank(2)).build();
  }

  static dev.salient.grpc.StatsResponse stats() {
    return await(client.stats(dev.salient.grpc.StatsRequest.getDefaultInstance()));
  }

  /** Jobs on all the server's workers (a CPU runs several). */
  static int activeJobs(dev.salient.grpc.StatsResponse stats) {
    return stats.getWorkersList().stream()
        .mapToInt(dev.salient.grpc.WorkerStats::getActiveJobs).sum();
  }

  static void awaitNoActiveJobs() throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (activeJobs(stats()) > 0 && System.nanoTime() < end) {
      Thread.sleep(20);
    }
  }

  @Test
  void explain_deadlineEndsTheRequestWithDeadlineExceededAndFreesTheWorker() throws Exception {
    awaitNoActiveJobs();
    long before = stats().getDeadlineExceeded() + stats().getCancelled();

    ExplainerClient hurried = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false).withDeadline(java.time.Duration.ofMillis(300)), clientSystem);
    var error = assertThrows(Exception.class,
        () -> await(hurried.explain(longRequest()).runWith(Sink.seq(), clientSystem)));
    hurried.close();

    assertEquals(Status.Code.DEADLINE_EXCEEDED, Status.fromThrowable(error).getCode());
    awaitNoActiveJobs();
    assertEquals(0, activeJobs(stats()), "the workers let the request go");
    assertTrue(stats().getDeadlineExceeded() + stats().getCancelled() > before);
  }

  @Test
  void aClientThatCancelsFreesItsWorker() throws Exception {
    awaitNoActiveJobs();
    long cancelledBefore = stats().getCancelled();

    List<ExplainEvent> firstFrames = await(client.explain(longRequest()).take(5)
        .runWith(Sink.seq(), clientSystem));

    assertEquals(5, firstFrames.size());
    awaitNoActiveJobs();
    assertEquals(0, activeJobs(stats()), "the workers let the request go");
    assertEquals(cancelledBefore + 1, stats().getCancelled());
  }

  @Test
  void classifyReturnsTopKBestFirst() {
    ClassifyResponse response = await(client.classify(ClassifyRequest.newBuilder()
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(TestImages.bytes(3))))
        .setTopK(3).build()));

    assertEquals(3, response.getTopCount());
    assertTrue(response.getTop(0).getProbability() >= response.getTop(1).getProbability());
    assertTrue(response.getTop(1).getProbability() >= response.getTop(2).getProbability());
  }

  @Test
  void callsDoNotStartAThreadEach() {
    // Pekko gRPC's handlers hop through CompletableFuture's default executor; with a one-thread
    // common pool (2 cores) that executor starts a new thread per task (see CommonPool).
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    ListModelsRequest request = ListModelsRequest.getDefaultInstance();
    await(client.listModels(request));
    long before = threads.getTotalStartedThreadCount();
    for (int i = 0; i < 100; i++) {
      await(client.listModels(request));
    }
    long started = threads.getTotalStartedThreadCount() - before;

    assertTrue(started < 20, started + " threads started for 100 calls");
  }

  @Test
  void listModelsPutsTheDefaultFirst() {
    List<ModelInfo> models = await(client.listModels(ListModelsRequest.getDefaultInstance()))
        .getModelsList();

    assertEquals("fashion-mnist", models.get(0).getName());
    assertTrue(models.get(0).getIsDefault());
    assertFalse(models.get(1).getIsDefault());
  }

  @Test
  void describeModelListsLabelsMethodsAndAccuracy() {
    ModelInfo model = await(client.describeModel(DescribeModelRequest.getDefaultInstance()))
        .getModel();

    assertEquals(10, model.getLabelsCount());
    assertEquals("vanilla", model.getMethods(0).getName());
    assertTrue(model.getMetricsMap().get("test_accuracy") >= 0.90);
  }

  @Test
  void describeModelReportsThePreprocessingOfEncodedImages() {
    ModelInfo model = await(client.describeModel(DescribeModelRequest.getDefaultInstance()))
        .getModel();

    // The default model's model.json has no "preprocessing": the documented defaults.
    assertEquals(dev.salient.grpc.Preprocessing.newBuilder().setResize("bilinear")
        .setResizeShortSide(0).setCrop("none").setColorManagement("none").build(),
        model.getPreprocessing());
  }

  @Test
  void describeModelReportsACentreCropWithItsShortSide() {
    ModelPackage base = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    ModelPackage cropped = new ModelPackage(base.name(), base.description(), base.format(),
        base.architecture(), base.weights(), base.labels(),
        base.input().withPreprocessing(new Preprocessing(Preprocessing.Filter.BICUBIC, 32,
            Preprocessing.Crop.CENTER, Preprocessing.ColorManagement.ICC_TO_SRGB)),
        base.featureLayer(), base.metrics(), base.location());

    ModelInfo model = ProtoMapping.modelInfo(cropped, List.of(), false);

    assertEquals(dev.salient.grpc.Preprocessing.newBuilder().setResize("bicubic")
        .setResizeShortSide(32).setCrop("center").setColorManagement("icc_to_srgb").build(),
        model.getPreprocessing());
  }

  @Test
  void describeModelReportsEachMethodAsItsDeclarationSays() {
    ModelInfo model = await(client.describeModel(DescribeModelRequest.getDefaultInstance()))
        .getModel();

    for (MethodInfo info : model.getMethodsList()) {
      ExplanationMethod method = MethodRegistry.standard().all().stream()
          .filter(m -> m.name().equals(info.getName())).findFirst().orElseThrow();
      assertEquals(method.family().name(), info.getFamily().name(), info.getName());
      assertEquals(method.explainsVideo(), info.getLiveVideo(), info.getName());
      assertEquals(method.parameters().size(), info.getParametersCount(), info.getName());
      for (int i = 0; i < info.getParametersCount(); i++) {
        Parameter<?> declared = method.parameters().get(i);
        ParameterInfo reported = info.getParameters(i);
        assertEquals(declared.name(), reported.getName());
        assertEquals(declared.defaultText(), reported.getDefaultValue(), declared.name());
        assertEquals(declared.accepted(), reported.getAccepted(), declared.name());
        assertEquals(declared.choices(), reported.getChoicesList(), declared.name());
      }
    }
    MethodInfo smoothgrad = model.getMethodsList().stream()
        .filter(m -> m.getName().equals("smoothgrad")).findFirst().orElseThrow();
    ParameterInfo samples = smoothgrad.getParametersList().stream()
        .filter(p -> p.getName().equals("samples")).findFirst().orElseThrow();
    assertEquals(ParameterInfo.Kind.INTEGER, samples.getKind());
    assertTrue(samples.getMin() >= 1 && samples.getMax() > samples.getMin(), samples.toString());
  }

  @Test
  void describeModel_unknownModelIsNotFound() {
    var error = assertThrows(Exception.class, () -> await(client.describeModel(
        DescribeModelRequest.newBuilder().setModel("resnet-nope").build())));

    assertEquals(Status.Code.NOT_FOUND, Status.fromThrowable(error).getCode());
  }

  @Test
  void healthCheckSaysServing() {
    HealthCheckResponse response = await(health.check(HealthCheckRequest.getDefaultInstance()));

    assertEquals(HealthCheckResponse.ServingStatus.SERVING, response.getStatus());
  }

  static Stream<Arguments> badRequests() {
    Image corrupt = Image.newBuilder()
        .setEncoded(ByteString.copyFromUtf8("this is not an image")).build();
    Image wrongShape = Image.newBuilder().setTensor(Tensor.newBuilder()
        .addShape(3).addShape(28).addShape(28).setData(ByteString.copyFrom(new byte[3 * 784 * 4])))
        .build();
    return Stream.of(
        Arguments.of("empty image bytes", vanillaRequest().setImage(
            Image.newBuilder().setEncoded(ByteString.EMPTY)), Status.Code.INVALID_ARGUMENT, "empty"),
        Arguments.of("corrupt image bytes", vanillaRequest().setImage(corrupt),
            Status.Code.INVALID_ARGUMENT, "PNG"),
        Arguments.of("no image", vanillaRequest().clearImage(),
            Status.Code.INVALID_ARGUMENT, "image is missing"),
        Arguments.of("wrong tensor shape", vanillaRequest().setImage(wrongShape),
            Status.Code.INVALID_ARGUMENT, "[1, 28, 28]"),
        Arguments.of("unknown model", vanillaRequest().setModel("nope"),
            Status.Code.NOT_FOUND, "fashion-mnist"),
        Arguments.of("unknown method", vanillaRequest().setMethod("telepathy"),
            Status.Code.INVALID_ARGUMENT, "vanilla"),
        Arguments.of("empty method", vanillaRequest().setMethod(""),
            Status.Code.INVALID_ARGUMENT, "vanilla"),
        Arguments.of("class index out of range", vanillaRequest()
            .setTarget(Target.newBuilder().setClassIndex(10)), Status.Code.INVALID_ARGUMENT,
            "0..9"),
        Arguments.of("negative class index", vanillaRequest()
            .setTarget(Target.newBuilder().setClassIndex(-1)), Status.Code.INVALID_ARGUMENT,
            "0..9"),
        Arguments.of("unknown label", vanillaRequest()
            .setTarget(Target.newBuilder().setLabel("Hat")), Status.Code.INVALID_ARGUMENT,
            "Sneaker"),
        Arguments.of("rank out of range", vanillaRequest()
            .setTarget(Target.newBuilder().setRank(11)), Status.Code.INVALID_ARGUMENT, "1..10"),
        Arguments.of("unknown parameter", vanillaRequest().putParams("sigma", "2"),
            Status.Code.INVALID_ARGUMENT, "reduction"),
        Arguments.of("bad parameter value", vanillaRequest().putParams("reduction", "median"),
            Status.Code.INVALID_ARGUMENT, "max_abs"),
        Arguments.of("negative top_k", vanillaRequest().setTopK(-2),
            Status.Code.INVALID_ARGUMENT, "top_k"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badRequests")
  void explain_badRequestGetsAClearStatusAndTheServerKeepsServing(
      String name, ExplainRequest.Builder request, Status.Code code, String hint) {
    var error = assertThrows(Exception.class, () -> explain(request.build()));

    Status status = Status.fromThrowable(error);
    assertEquals(code, status.getCode(), name + ": " + status);
    assertTrue(status.getDescription() != null && status.getDescription().contains(hint),
        name + ": message \"" + status.getDescription() + "\" should mention " + hint);
    assertTrue(result(vanillaRequest().build()).getMapsCount() > 0, "server still serves");
  }

  static SaliencyMap map(List<SaliencyMap> maps, String name) {
    return maps.stream().filter(m -> m.getName().equals(name)).findFirst().orElseThrow();
  }

  static float[] floats(Tensor t) {
    ByteBuffer buf = t.getData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[buf.remaining() / 4];
    buf.asFloatBuffer().get(out);
    return out;
  }

  @Test
  void describeModel_listsTheValuesAndMapsOfEveryMethodsResult() {
    ModelInfo model = await(client.describeModel(DescribeModelRequest.getDefaultInstance()))
        .getModel();

    for (MethodInfo method : model.getMethodsList()) {
      assertTrue(method.getResult().getValuesCount() > 0 && method.getResult().getMapsCount() > 0,
          method.getName() + " lists its result's values and maps");
    }
    MethodInfo vanilla = model.getMethodsList().stream()
        .filter(m -> m.getName().equals("vanilla")).findFirst().orElseThrow();
    assertEquals(List.of("target_probability", "target_logit", "gradient_l2", "gradient_max_abs"),
        vanilla.getResult().getValuesList().stream().map(f -> f.getName()).toList());
    var gradient = vanilla.getResult().getMaps(1);
    assertEquals(List.of("gradient", "float32", "[C, H, W]", "diverging", ""),
        List.of(gradient.getName(), gradient.getType(), gradient.getShape(),
            gradient.getColourScale(), gradient.getWhen()));
    assertEquals("", vanilla.getResult().getMaps(0).getColourScale(),
        "the saliency map's colour scale depends on the reduction");
  }
}
