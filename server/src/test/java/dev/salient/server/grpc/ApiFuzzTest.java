package dev.salient.server.grpc;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.MethodInfo;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.ParameterInfo;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.Target;
import dev.salient.grpc.Tensor;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.TestImages;
import dev.salient.server.method.ExplanationMethod;
import dev.salient.server.method.MethodRegistry;
import io.grpc.Status;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import javax.imageio.ImageIO;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.GenerationMode;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tag;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeContainer;
import net.jqwik.api.statistics.Statistics;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * Property-based fuzzing of every request field of salient.v1.Explainer against a real server on
 * loopback (docs/security.md, "Fuzzing"). Requests are random and mutated: model names, method
 * names (known, unsupported and unknown), parameter maps built from the server's own parameter
 * descriptions with valid, out-of-range and malformed values and unknown keys, targets, top_k,
 * frame_stride, flags, video sessions and frames, and images as random bytes, as valid PNG and
 * JPEG files with flipped bits, cut short or declaring huge dimensions, and as tensors of random
 * shapes and data (NaN, infinities, wrong byte counts).
 *
 * <p>The invariant of every case: the call ends, within its deadline, with OK or a status of the
 * documented set ({@link #DOCUMENTED}; never UNKNOWN, INTERNAL or CANCELLED), and an error carries a
 * message; after each property the server still classifies a normal image. Seeded ({@link
 * #SEED}), 10,000 cases in all; a failure names the seed and the case to rerun. Tagged
 * "evaluation" for its minutes: CI runs it ({@code mvn verify -Pevaluation}).
 */
@Tag("evaluation")
class ApiFuzzTest {
  /** The seed of every property; change it here (or pass another) to fuzz other cases. */
  static final String SEED = "2121";

  /**
   * The statuses a fuzzed request may end with: those docs/clients.md documents, less
   * UNAVAILABLE, which means a failed worker or a stopping server, and neither may come of a bad
   * request.
   */
  static final Set<Status.Code> DOCUMENTED = EnumSet.of(Status.Code.OK,
      Status.Code.INVALID_ARGUMENT, Status.Code.NOT_FOUND, Status.Code.RESOURCE_EXHAUSTED,
      Status.Code.DEADLINE_EXCEEDED);

  /**
   * Each call's deadline: refusals answer in milliseconds and well-formed cases (cheap
   * parameters) in a few seconds at most; a fuzzed case that leaves a method at its default cost
   * may run past it and end with DEADLINE_EXCEEDED, which is documented.
   */
  static final Duration DEADLINE = Duration.ofSeconds(10);

  /** How much later than its deadline a call may end before the server counts as stuck. */
  static final Duration GRACE = Duration.ofSeconds(20);

  static ActorSystem<Void> serverSystem;
  static ActorSystem<Void> clientSystem;
  static SalientServer server;
  static ExplainerClient client;
  static ModelInfo model;
  static List<String> videoMethods;
  static byte[] png;
  static byte[] jpeg;

  @BeforeContainer
  static void start() {
    Config config = ConfigFactory.parseString("salient.port = 0\n"
            + "salient.cpu-workers = 1\n"
            + "salient.scheduler.measure-best-batch = false\n"
            // Small enough that the huge headers fuzzed here meet it, large enough for any
            // image the server can answer.
            + "salient.limits.decode-budget = 64MiB\n"
            + "salient.limits.decode-budget-wait = 1s")
        .withFallback(ConfigFactory.load());
    serverSystem = ActorSystem.create(Behaviors.empty(), "fuzz", config);
    server = SalientServer.start(serverSystem, SalientSettings.create(config),
        ModelCatalog.embeddedDefault(), MethodRegistry.standard());
    clientSystem = ActorSystem.create(Behaviors.empty(), "fuzz-client", config);
    client = ExplainerClient.create(GrpcClientSettings
        .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
        .withTls(false).withDeadline(DEADLINE), clientSystem);
    model = client.describeModel(DescribeModelRequest.getDefaultInstance())
        .toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join().getModel();
    videoMethods = model.getMethodsList().stream().filter(MethodInfo::getLiveVideo)
        .map(MethodInfo::getName).toList();
    png = TestImages.bytes(0);
    jpeg = jpeg(png);
  }

  @AfterContainer
  static void stop() {
    if (client != null) {
      client.close().toCompletableFuture().orTimeout(5, TimeUnit.SECONDS).join();
      clientSystem.terminate();
    }
    if (server != null) {
      server.close();
    }
    if (serverSystem != null) {
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS)
          .join();
    }
  }

  /** The server still answers a normal request after every property's cases. */
  @AfterProperty
  void theServerStillClassifiesANormalImage() {
    var answer = client.classify(ClassifyRequest.newBuilder()
            .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(png))).build())
        .toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
    assertTrue(answer.getTopCount() > 0, "a normal image is classified: " + answer);
  }

  @Property(tries = 2500, seed = SEED, shrinking = ShrinkingMode.OFF,
      generation = GenerationMode.RANDOMIZED)
  void classifyOfAnyRequestEndsWithADocumentedStatus(
      @ForAll("classifyRequests") ClassifyRequest request) {
    expectDocumentedStatus(request, () -> client.classify(request));
  }

  @Property(tries = 4500, seed = SEED, shrinking = ShrinkingMode.OFF,
      generation = GenerationMode.RANDOMIZED)
  void explainOfAnyRequestEndsWithADocumentedStatus(
      @ForAll("explainRequests") ExplainRequest request) {
    expectDocumentedStatus(request, () -> client.explain(request)
        .runWith(Sink.ignore(), clientSystem));
  }

  @Property(tries = 1500, seed = SEED, shrinking = ShrinkingMode.OFF,
      generation = GenerationMode.RANDOMIZED)
  void explainVideoOfAnyStreamEndsWithADocumentedStatus(
      @ForAll("videoStreams") List<VideoFrame> stream) {
    expectDocumentedStatus(stream, () -> client.explainVideo(Source.from(stream))
        .runWith(Sink.ignore(), clientSystem));
  }

  @Property(tries = 1500, seed = SEED, shrinking = ShrinkingMode.OFF,
      generation = GenerationMode.RANDOMIZED)
  void catalogCallsOfAnyModelNameEndWithADocumentedStatus(
      @ForAll("modelNames") String name, @ForAll("catalogCalls") int which) {
    expectDocumentedStatus(which + ": " + name, () -> switch (which) {
      case 0 -> client.describeModel(DescribeModelRequest.newBuilder().setModel(name).build());
      case 1 -> client.listModels(ListModelsRequest.getDefaultInstance());
      default -> client.stats(StatsRequest.getDefaultInstance());
    });
  }

  private static void expectDocumentedStatus(Object request, Supplier<CompletionStage<?>> call) {
    Status status;
    try {
      call.get().toCompletableFuture()
          .get(DEADLINE.plus(GRACE).toMillis(), TimeUnit.MILLISECONDS);
      status = Status.OK;
    } catch (TimeoutException e) {
      throw new AssertionError("no answer within " + DEADLINE.plus(GRACE) + " (deadline "
          + DEADLINE + ") to " + shorten(request), e);
    } catch (Exception e) {
      status = Status.fromThrowable(e);
    }
    Statistics.collect(status.getCode());
    if (!DOCUMENTED.contains(status.getCode())) {
      fail("status " + status + " is not one of " + DOCUMENTED + " for " + shorten(request));
    }
    if (!status.isOk()) {
      assertNotNull(status.getDescription(), "a message with " + status);
      assertFalse(status.getDescription().isBlank(), "a message with " + status);
    }
  }

  private static String shorten(Object request) {
    String text = String.valueOf(request);
    return text.length() > 2000 ? text.substring(0, 2000) + "..." : text;
  }

  // ---- requests ----

  @Provide
  Arbitrary<ClassifyRequest> classifyRequests() {
    return Arbitraries.randomValue(r -> {
      Mutation m = Mutation.of(r, 3);
      ClassifyRequest.Builder b = ClassifyRequest.newBuilder()
          .setModel(m.fuzz(0) ? modelName(r) : validModelName(r))
          .setTopK(m.fuzz(1) ? topK(r) : r.nextInt(11));
      if (!m.fuzz(2) || r.nextInt(40) != 0) {
        b.setImage(m.fuzz(2) ? image(r) : validImage(r));
      }
      return b.build();
    });
  }

  @Provide
  Arbitrary<ExplainRequest> explainRequests() {
    return Arbitraries.randomValue(r -> {
      Mutation m = Mutation.of(r, 7);
      String method = m.fuzz(0) ? methodName(r) : validMethodName(r);
      ExplainRequest.Builder b = ExplainRequest.newBuilder()
          .setModel(m.fuzz(1) ? modelName(r) : validModelName(r))
          .setMethod(method).putAllParams(params(r, method, m.fuzz(2)))
          .setTopK(m.fuzz(3) ? topK(r) : r.nextInt(11))
          .setFrameStride(m.fuzz(4) ? frameStride(r) : r.nextInt(4))
          .setFrameTensors(r.nextBoolean()).setRenderPng(r.nextInt(4) == 0)
          .setOmitSnapshots(r.nextBoolean());
      if (!m.fuzz(5) || r.nextInt(40) != 0) {
        b.setImage(m.fuzz(5) ? image(r) : validImage(r));
      }
      Target target = m.fuzz(6) ? target(r) : validTarget(r);
      if (target != null) {
        b.setTarget(target);
      }
      return b.build();
    });
  }

  @Provide
  Arbitrary<List<VideoFrame>> videoStreams() {
    return Arbitraries.randomValue(r -> {
      Mutation m = Mutation.of(r, 3);
      List<VideoFrame> frames = new ArrayList<>();
      if (m.fuzz(0) && r.nextInt(20) == 0) {
        return frames;
      }
      if (!m.fuzz(0) || r.nextInt(15) != 0) {
        frames.add(VideoFrame.newBuilder().setSession(session(r, m.fuzz(1)))
            .setSequence(r.nextInt(3)).build());
      }
      int count = r.nextInt(4);
      for (int i = 0; i < count; i++) {
        boolean fuzz = m.fuzz(2);
        VideoFrame.Builder f = VideoFrame.newBuilder()
            .setSequence(fuzz && r.nextInt(10) == 0 ? r.nextLong() : i + 1)
            .setCaptureTimeUs(fuzz && r.nextInt(10) == 0 ? r.nextLong() : i * 33_000L);
        if (!fuzz || r.nextInt(15) != 0) {
          f.setImage(fuzz ? image(r) : validImage(r));
        }
        if (fuzz && r.nextInt(25) == 0) {
          f.setSession(session(r, true));
        }
        frames.add(f.build());
      }
      return frames;
    });
  }

  @Provide
  Arbitrary<String> modelNames() {
    return Arbitraries.randomValue(ApiFuzzTest::modelName);
  }

  @Provide
  Arbitrary<Integer> catalogCalls() {
    return Arbitraries.integers().between(0, 2);
  }

  private static VideoSession session(Random r, boolean fuzz) {
    if (!fuzz) {
      String method = videoMethods.get(r.nextInt(videoMethods.size()));
      VideoSession.Builder s = VideoSession.newBuilder().setModel(validModelName(r))
          .setMethod(method).putAllParams(params(r, method, false))
          .setMaxInFlight(r.nextInt(4)).setSmoothing(r.nextFloat() * 0.9f)
          .setTopK(r.nextInt(11)).setRenderPng(r.nextInt(4) == 0)
          .setDropPolicyValue(r.nextInt(2));
      Target target = validTarget(r);
      return (target == null ? s : s.setTarget(target)).build();
    }
    String method = r.nextInt(5) == 0 ? methodName(r)
        : videoMethods.get(r.nextInt(videoMethods.size()));
    VideoSession.Builder s = VideoSession.newBuilder().setModel(modelName(r)).setMethod(method)
        .putAllParams(params(r, method, true))
        .setMaxInFlight(pick(r, 0, 1, 2, 3, 8, 9, -1, Integer.MAX_VALUE, Integer.MIN_VALUE))
        .setSmoothing(pick(r, 0f, 0.5f, 0.99f, 1f, 1.5f, -0.1f, Float.NaN,
            Float.POSITIVE_INFINITY, r.nextFloat()))
        .setTopK(topK(r)).setRenderPng(r.nextInt(4) == 0);
    // Unknown enum numbers arrive as such from other clients' newer or broken protos.
    s.setDropPolicyValue(pick(r, 0, 0, 1, 1, 2, -1, 1000));
    Target target = target(r);
    if (target != null) {
      s.setTarget(target);
    }
    return s.build();
  }

  /**
   * Which fields of a case are fuzzed: in a third of the cases none (a well-formed request, which
   * reaches the engine and the method), in a third one, in the rest all.
   */
  private record Mutation(int only, boolean all) {
    static Mutation of(Random r, int fields) {
      return switch (r.nextInt(3)) {
        case 0 -> new Mutation(-1, false);
        case 1 -> new Mutation(r.nextInt(fields), false);
        default -> new Mutation(-1, true);
      };
    }

    boolean fuzz(int field) {
      return all || field == only;
    }
  }

  // ---- fields ----

  private static String modelName(Random r) {
    return switch (r.nextInt(20)) {
      case 0 -> randomText(r, 12);
      case 1 -> model.getName().toUpperCase(java.util.Locale.ROOT);
      case 2 -> model.getName() + " ";
      case 3, 4, 5, 6 -> model.getName();
      default -> "";
    };
  }

  private static String validModelName(Random r) {
    return r.nextBoolean() ? "" : model.getName();
  }

  private static String validMethodName(Random r) {
    return model.getMethods(r.nextInt(model.getMethodsCount())).getName();
  }

  private static Target validTarget(Random r) {
    return switch (r.nextInt(4)) {
      case 0 -> Target.newBuilder().setClassIndex(r.nextInt(model.getLabelsCount())).build();
      case 1 -> Target.newBuilder().setRank(1 + r.nextInt(3)).build();
      default -> null;
    };
  }

  private static Image validImage(Random r) {
    return switch (r.nextInt(3)) {
      case 0 -> Image.newBuilder().setEncoded(ByteString.copyFrom(png)).build();
      case 1 -> Image.newBuilder().setEncoded(ByteString.copyFrom(jpeg)).build();
      default -> Image.newBuilder().setTensor(validTensor(r)).build();
    };
  }

  private static Tensor validTensor(Random r) {
    List<Long> shape = model.getInputShapeList();
    int n = (int) shape.stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b);
    ByteBuffer data = ByteBuffer.allocate(n * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      data.putFloat(model.getPixelMin() + r.nextFloat() * (model.getPixelMax()
          - model.getPixelMin()));
    }
    return Tensor.newBuilder().addAllShape(shape).setData(ByteString.copyFrom(data.array()))
        .build();
  }

  private static String methodName(Random r) {
    List<ExplanationMethod> all = MethodRegistry.standard().all();
    return switch (r.nextInt(20)) {
      case 0 -> "";
      case 1, 2 -> randomText(r, 16);
      case 3 -> all.get(r.nextInt(all.size())).name().toUpperCase(java.util.Locale.ROOT);
      default -> all.get(r.nextInt(all.size())).name();
    };
  }

  /**
   * Parameters for {@code method} as the server describes them: each set to a cheap valid value,
   * left to its default, or set to something out of range or malformed, plus unknown keys.
   */
  private static Map<String, String> params(Random r, String method, boolean fuzz) {
    Map<String, String> params = new LinkedHashMap<>();
    MethodInfo info = model.getMethodsList().stream()
        .filter(m -> m.getName().equals(method)).findFirst().orElse(null);
    if (info != null) {
      for (ParameterInfo p : info.getParametersList()) {
        int roll = r.nextInt(100);
        if (fuzz && roll < 8) {
          continue; // its default, which may cost many passes: only where fuzzing
        }
        params.put(p.getName(), !fuzz || roll < 85 ? validValue(r, p) : invalidValue(r, p));
      }
    }
    int unknown = fuzz && r.nextInt(10) == 0 ? 1 + r.nextInt(3) : 0;
    for (int i = 0; i < unknown; i++) {
      params.put(r.nextBoolean() ? randomText(r, 10) : "steps", randomText(r, 10));
    }
    return params;
  }

  /** A value in range, small where the parameter counts iterations, so a case stays cheap. */
  private static String validValue(Random r, ParameterInfo p) {
    return switch (p.getKind()) {
      case INTEGER -> {
        long min = (long) p.getMin();
        long max = (long) Math.min(p.getMax(), min + 2);
        yield Long.toString(min + (long) (r.nextDouble() * (max - min + 1)));
      }
      case NUMBER -> Double.toString(p.getMin() + r.nextDouble() * (p.getMax() - p.getMin()));
      case CHOICE -> p.getChoicesCount() == 0 ? p.getDefaultValue()
          : p.getChoices(r.nextInt(p.getChoicesCount()));
      case TEXT -> textValue(r, p);
      default -> p.getDefaultValue();
    };
  }

  private static String textValue(Random r, ParameterInfo p) {
    if (p.getName().contains("image")) {
      Image image = r.nextBoolean() ? validImage(r) : encodedImage(r);
      if (image.getDataCase() != Image.DataCase.ENCODED) {
        return "";
      }
      return Base64.getEncoder().encodeToString(image.getEncoded().toByteArray());
    }
    return p.getDefaultValue();
  }

  private static String invalidValue(Random r, ParameterInfo p) {
    return switch (r.nextInt(12)) {
      case 0 -> "";
      case 1 -> " ";
      case 2 -> "NaN";
      case 3 -> "-Infinity";
      case 4 -> Double.toString(p.getMax() + 1 + r.nextInt(1000));
      case 5 -> Double.toString(p.getMin() - 1 - r.nextInt(1000));
      case 6 -> "99999999999999999999999";
      case 7 -> Long.toString(r.nextLong());
      case 8 -> "1e309";
      case 9 -> "0x10";
      case 10 -> "%s" + randomText(r, 4);
      default -> randomText(r, 20);
    };
  }

  private static int topK(Random r) {
    return pick(r, 0, 0, 0, 1, 3, 10, 11, 1000, 1001, -1, Integer.MAX_VALUE, Integer.MIN_VALUE);
  }

  private static int frameStride(Random r) {
    return pick(r, 0, 0, 1, 2, 5, 1_000_000, 1_000_001, -1, Integer.MIN_VALUE);
  }

  private static Target target(Random r) {
    int labels = model.getLabelsCount();
    return switch (r.nextInt(10)) {
      case 0 -> Target.newBuilder().setClassIndex(pick(r, 0, labels - 1, labels, -1,
          Integer.MAX_VALUE, Integer.MIN_VALUE, r.nextInt(labels))).build();
      case 1 -> Target.newBuilder().setLabel(r.nextBoolean()
          ? model.getLabels(r.nextInt(labels)) : randomText(r, 10)).build();
      case 2 -> Target.newBuilder().setRank(pick(r, 0, 1, 2, labels, labels + 1, -1,
          Integer.MAX_VALUE)).build();
      case 3 -> Target.getDefaultInstance();
      default -> null;
    };
  }

  // ---- images ----

  private static Image image(Random r) {
    return switch (r.nextInt(10)) {
      case 0, 1 -> tensorImage(r);
      case 2 -> Image.getDefaultInstance();
      default -> encodedImage(r);
    };
  }

  private static Image encodedImage(Random r) {
    byte[] valid = r.nextBoolean() ? png : jpeg;
    byte[] bytes = switch (r.nextInt(9)) {
      case 0 -> valid;
      case 1 -> randomBytes(r, r.nextInt(2048));
      case 2 -> new byte[0];
      case 3, 4 -> flipBits(r, valid, 1 + r.nextInt(8));
      case 5 -> java.util.Arrays.copyOf(valid, r.nextInt(valid.length));
      case 6 -> valid == png ? hugePngHeader(r, valid) : hugeJpegHeader(r, valid);
      case 7 -> java.util.Arrays.copyOf(valid, valid.length + 1 + r.nextInt(512));
      default -> flipBits(r, java.util.Arrays.copyOf(valid, r.nextInt(valid.length + 1)), 1);
    };
    return Image.newBuilder().setEncoded(ByteString.copyFrom(bytes)).build();
  }

  private static Image tensorImage(Random r) {
    List<Long> inputShape = model.getInputShapeList();
    int n = (int) inputShape.stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b);
    Tensor.Builder t = Tensor.newBuilder();
    switch (r.nextInt(4)) {
      case 0 -> {
        int dims = r.nextInt(6);
        for (int i = 0; i < dims; i++) {
          t.addShape(pick(r, 0L, 1L, 3L, 28L, -1L, Long.MAX_VALUE, Long.MIN_VALUE,
              (long) r.nextInt(100)));
        }
      }
      case 1 -> t.addShape(1).addAllShape(inputShape);
      default -> t.addAllShape(inputShape);
    }
    int values = switch (r.nextInt(6)) {
      case 0 -> r.nextInt(2 * n + 1);
      default -> n;
    };
    ByteBuffer data = ByteBuffer.allocate(values * 4 + (r.nextInt(8) == 0 ? 1 + r.nextInt(3) : 0))
        .order(ByteOrder.LITTLE_ENDIAN);
    float min = model.getPixelMin();
    float max = model.getPixelMax();
    int mode = r.nextInt(5);
    for (int i = 0; i < values; i++) {
      float v = min + r.nextFloat() * (max - min);
      if (mode == 0 && r.nextInt(n) < 3) {
        v = pick(r, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MAX_VALUE, -Float.MAX_VALUE, max + 1e-3f, min - 1e-3f, Float.MIN_VALUE);
      }
      data.putFloat(v);
    }
    return Image.newBuilder().setTensor(t.setData(ByteString.copyFrom(data.array()))).build();
  }

  /** A PNG whose header (IHDR) declares other, mostly huge, dimensions than its data holds. */
  private static byte[] hugePngHeader(Random r, byte[] valid) {
    byte[] bytes = valid.clone();
    ByteBuffer header = ByteBuffer.wrap(bytes); // big-endian, as PNG
    header.putInt(16, hugeDimension(r));
    header.putInt(20, hugeDimension(r));
    return bytes;
  }

  /** A JPEG whose start-of-frame marker declares other, mostly huge, dimensions. */
  private static byte[] hugeJpegHeader(Random r, byte[] valid) {
    byte[] bytes = valid.clone();
    for (int i = 2; i + 8 < bytes.length; i++) {
      int marker = bytes[i + 1] & 0xff;
      if ((bytes[i] & 0xff) == 0xff && marker >= 0xc0 && marker <= 0xc2) {
        ByteBuffer frame = ByteBuffer.wrap(bytes);
        frame.putShort(i + 5, (short) (hugeDimension(r) & 0xffff));
        frame.putShort(i + 7, (short) (hugeDimension(r) & 0xffff));
        return bytes;
      }
    }
    throw new IllegalStateException("no start-of-frame marker in the JPEG fixture");
  }

  private static int hugeDimension(Random r) {
    return pick(r, 0, 1, 28, 6500, 65535, 100_000, 1 << 20, Integer.MAX_VALUE, -1,
        r.nextInt(70_000));
  }

  private static byte[] flipBits(Random r, byte[] valid, int flips) {
    byte[] bytes = valid.clone();
    for (int i = 0; i < flips && bytes.length > 0; i++) {
      // Mostly in the first 64 bytes, where the signature and header are.
      int at = r.nextBoolean() ? r.nextInt(Math.min(64, bytes.length)) : r.nextInt(bytes.length);
      bytes[at] ^= (byte) (1 << r.nextInt(8));
    }
    return bytes;
  }

  private static byte[] randomBytes(Random r, int length) {
    byte[] bytes = new byte[length];
    r.nextBytes(bytes);
    return bytes;
  }

  private static String randomText(Random r, int maxLength) {
    StringBuilder text = new StringBuilder();
    int length = r.nextInt(maxLength + 1);
    for (int i = 0; i < length; i++) {
      text.appendCodePoint(switch (r.nextInt(6)) {
        case 0 -> r.nextInt(32);
        case 1 -> 0x80 + r.nextInt(0x2000);
        case 2 -> 0x1f600 + r.nextInt(64);
        default -> 0x20 + r.nextInt(95);
      });
    }
    return text.toString();
  }

  @SafeVarargs
  private static <T> T pick(Random r, T... choices) {
    return choices[r.nextInt(choices.length)];
  }

  private static byte[] jpeg(byte[] pngBytes) {
    try {
      BufferedImage image = ImageIO.read(new ByteArrayInputStream(pngBytes));
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      if (!ImageIO.write(image, "jpeg", out)) {
        throw new IllegalStateException("no JPEG writer");
      }
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
