package dev.salient.tools.soak;

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
import dev.salient.grpc.Tensor;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ImageDecoder;
import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.CommonPool;
import dev.salient.server.util.ResidentMemory;
import io.grpc.Status;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A soak of the server: many mixed requests to the default model (Classify, Explain with each of
 * its methods, short ExplainVideo streams, the catalog calls), a share of them bad on purpose,
 * each bad kind with the status it must get. Counts every status, calls anything else
 * unexplained, and compares the server's resident memory after the warm-up with its memory at
 * the end. Exits 1 on an unexplained status or growth over the limit.
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
    description = "Mixed requests with a share of bad inputs: statuses and resident memory.")
public final class Soak implements Callable<Integer> {
  @Option(names = "--requests", defaultValue = "10000",
      description = "Requests after the warm-up (default ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--warmup", defaultValue = "1000",
      description = "Requests before the first memory sample, for the JIT, the heap and the"
          + " engine's allocator to settle (default ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--bad-percent", defaultValue = "1",
      description = "Share of bad requests, in percent (default ${DEFAULT-VALUE}).")
  double badPercent;

  @Option(names = "--concurrency", defaultValue = "4",
      description = "Requests in flight at once (default ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(names = "--seed", defaultValue = "21",
      description = "Seed of the mix (default ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--max-growth", defaultValue = "5",
      description = "Most resident-memory growth from the warm-up to the end, in percent,"
          + " before the soak fails (default ${DEFAULT-VALUE}).")
  double maxGrowthPercent;

  @Option(names = "--deadline", defaultValue = "60",
      description = "Deadline of each call, in seconds (default ${DEFAULT-VALUE}).")
  int deadlineSeconds;

  @Option(names = "--server",
      description = "HOST:PORT of a running server; default: start one in this process.")
  String server;

  @Option(names = "--server-pid",
      description = "With --server: its process id, whose resident memory is sampled"
          + " (/proc/PID/status); without it memory is not checked.")
  Long serverPid;

  /** Integer parameters are held to at most this, so iterative methods stay cheap. */
  static final int PARAMETER_CAP = 8;

  /** The kinds of bad request and the status each must get. */
  enum Bad {
    RANDOM_BYTES(Status.Code.INVALID_ARGUMENT),
    UNKNOWN_METHOD(Status.Code.INVALID_ARGUMENT),
    UNKNOWN_MODEL(Status.Code.NOT_FOUND),
    PARAMETER_OUT_OF_RANGE(Status.Code.INVALID_ARGUMENT),
    NAN_TENSOR(Status.Code.INVALID_ARGUMENT),
    HUGE_HEADER(Status.Code.RESOURCE_EXHAUSTED),
    VIDEO_WITHOUT_SESSION(Status.Code.INVALID_ARGUMENT);

    final Status.Code expected;

    Bad(Status.Code expected) {
      this.expected = expected;
    }
  }

  private final PrintStream out;
  private final Map<String, LongAdder> counts = new ConcurrentHashMap<>();
  private final List<String> unexplained = Collections.synchronizedList(new ArrayList<>());
  private ExplainerClient client;
  private ActorSystem<Void> clientSystem;
  private ModelInfo model;
  private List<MethodInfo> methods;
  private List<MethodInfo> videoMethods;
  private byte[] png;
  private byte[] hugePng;

  Soak(PrintStream out) {
    this.out = out;
  }

  /** Runs the soak command line. */
  public static void main(String[] args) {
    CommonPool.ensureAtLeastTwoThreads();
    System.exit(new CommandLine(new Soak(System.out)).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Config config = ConfigFactory.parseString("salient.port = 0")
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> serverSystem = null;
    SalientServer started = null;
    String host;
    int port;
    LongSupplier rss;
    if (server == null) {
      serverSystem = ActorSystem.create(Behaviors.empty(), "soak-server", config);
      started = SalientServer.start(serverSystem, SalientSettings.create(config),
          ModelCatalog.embeddedDefault(), MethodRegistry.standard());
      host = "127.0.0.1";
      port = started.address().getPort();
      rss = ResidentMemory::bytes;
    } else {
      int colon = server.lastIndexOf(':');
      host = server.substring(0, colon);
      port = Integer.parseInt(server.substring(colon + 1));
      rss = serverPid == null ? () -> -1 : () -> residentBytes(serverPid);
    }
    clientSystem = ActorSystem.create(Behaviors.empty(), "soak-client", config);
    try {
      client = ExplainerClient.create(GrpcClientSettings.connectToServiceAt(host, port,
              clientSystem).withTls(false).withDeadline(Duration.ofSeconds(deadlineSeconds)),
          clientSystem);
      prepare();
      out.printf(Locale.ROOT, "soak: %s:%d (%s), model %s, %d warm-up + %d requests, %.1f %% bad,"
              + " %d in flight, seed %d, %d cores, java %s%n", host, port,
          server == null ? "in this process" : "external", model.getName(), warmup, requests,
          badPercent, concurrency, seed, Runtime.getRuntime().availableProcessors(),
          System.getProperty("java.version"));
      long t0 = System.nanoTime();
      run(0, warmup);
      Sample afterWarmup = sample(rss);
      out.printf(Locale.ROOT, "soak: warm-up done in %.0f s; %s%n",
          (System.nanoTime() - t0) / 1e9, afterWarmup);
      counts.clear();
      long t1 = System.nanoTime();
      int step = Math.max(1, requests / 10);
      for (int done = 0; done < requests; done += step) {
        run(warmup + done, warmup + Math.min(requests, done + step));
        out.printf(Locale.ROOT, "soak: %d requests, %.0f s, %s%n",
            Math.min(requests, done + step), (System.nanoTime() - t1) / 1e9, sample(rss));
      }
      double seconds = (System.nanoTime() - t1) / 1e9;
      Sample end = sample(rss);
      report(afterWarmup, end, seconds);
      double growth = afterWarmup.rss > 0 && end.rss > 0
          ? 100.0 * (end.rss - afterWarmup.rss) / afterWarmup.rss : Double.NaN;
      boolean memoryOk = Double.isNaN(growth) || growth <= maxGrowthPercent;
      out.printf(Locale.ROOT, "soak: resident memory after warm-up %.1f MB, at the end %.1f MB:"
              + " growth %+.2f %% (limit %.1f %%)%n", afterWarmup.rss / 1e6, end.rss / 1e6,
          growth, maxGrowthPercent);
      out.println("soak: " + (unexplained.isEmpty() && memoryOk ? "PASS" : "FAIL")
          + ": " + unexplained.size() + " unexplained statuses");
      return unexplained.isEmpty() && memoryOk ? 0 : 1;
    } finally {
      if (client != null) {
        client.close().toCompletableFuture().get(10, TimeUnit.SECONDS);
      }
      clientSystem.terminate();
      if (started != null) {
        started.close();
      }
      if (serverSystem != null) {
        serverSystem.terminate();
        serverSystem.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
      }
    }
  }

  /** Memory at one point: the process's resident set and, in process, the heap after a GC. */
  record Sample(long rss, long heapUsed) {
    @Override
    public String toString() {
      return String.format(Locale.ROOT, "resident %.1f MB%s", rss / 1e6,
          heapUsed < 0 ? "" : String.format(Locale.ROOT, ", heap after GC %.1f MB",
              heapUsed / 1e6));
    }
  }

  private Sample sample(LongSupplier rss) {
    long heap = -1;
    if (server == null) {
      // A full collection first, so that garbage not yet collected does not read as growth.
      System.gc();
      heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
    return new Sample(rss.getAsLong(), heap);
  }

  private void prepare() throws IOException {
    model = client.describeModel(DescribeModelRequest.getDefaultInstance())
        .toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join().getModel();
    methods = model.getMethodsList();
    videoMethods = methods.stream().filter(MethodInfo::getLiveVideo).toList();
    ModelPackage local = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    InputSpec spec = local.input();
    float[] pixels = new float[spec.size()];
    Random r = new Random(seed);
    for (int i = 0; i < pixels.length; i++) {
      pixels[i] = spec.pixelMin() + r.nextFloat() * (spec.pixelMax() - spec.pixelMin());
    }
    png = ImageDecoder.toPng(pixels, spec);
    hugePng = png.clone();
    // IHDR width and height (big-endian, after the signature and the chunk's length and type).
    ByteBuffer.wrap(hugePng).putInt(16, 100_000).putInt(20, 100_000);
  }

  private void run(int from, int to) throws InterruptedException {
    AtomicInteger next = new AtomicInteger(from);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < concurrency; t++) {
      Thread thread = new Thread(() -> {
        for (int i = next.getAndIncrement(); i < to; i = next.getAndIncrement()) {
          one(i);
        }
      }, "soak-" + t);
      thread.start();
      threads.add(thread);
    }
    for (Thread thread : threads) {
      thread.join();
    }
  }

  /** Request {@code i} of the mix, the same for the same seed, sent and its status counted. */
  private void one(int i) {
    // Mixed through SplittableRandom: java.util.Random's first draws from neighbouring seeds are
    // nearly equal, which would make every request of a run good, or every one bad.
    Random r = new Random(new SplittableRandom(seed * 1_000_003L + i).nextLong());
    Bad bad = r.nextDouble() * 100 < badPercent
        ? Bad.values()[r.nextInt(Bad.values().length)] : null;
    String kind;
    CompletionStage<?> call;
    if (bad != null) {
      kind = "bad " + bad.name().toLowerCase(Locale.ROOT);
      call = badCall(bad, r);
    } else {
      int roll = r.nextInt(100);
      if (roll < 35) {
        kind = "classify";
        call = client.classify(ClassifyRequest.newBuilder().setImage(goodImage(r)).build());
      } else if (roll < 80) {
        MethodInfo method = methods.get(r.nextInt(methods.size()));
        kind = "explain " + method.getName();
        call = client.explain(explain(method).setImage(goodImage(r)).build())
            .runWith(Sink.ignore(), clientSystem);
      } else if (roll < 90) {
        MethodInfo method = videoMethods.get(r.nextInt(videoMethods.size()));
        kind = "video " + method.getName();
        call = client.explainVideo(Source.from(video(method, r))).runWith(Sink.ignore(),
            clientSystem);
      } else {
        int which = r.nextInt(3);
        kind = which == 0 ? "describe-model" : which == 1 ? "list-models" : "stats";
        call = which == 0 ? client.describeModel(DescribeModelRequest.getDefaultInstance())
            : which == 1 ? client.listModels(ListModelsRequest.getDefaultInstance())
            : client.stats(StatsRequest.getDefaultInstance());
      }
    }
    Status status;
    try {
      call.toCompletableFuture().get(deadlineSeconds + 30L, TimeUnit.SECONDS);
      status = Status.OK;
    } catch (java.util.concurrent.TimeoutException e) {
      status = Status.UNKNOWN.withDescription("no answer " + (deadlineSeconds + 30)
          + " s after the call");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    } catch (Exception e) {
      status = Status.fromThrowable(e);
    }
    Status.Code expected = bad == null ? Status.Code.OK : bad.expected;
    counts.computeIfAbsent(kind + " " + status.getCode(), k -> new LongAdder()).increment();
    if (status.getCode() != expected) {
      unexplained.add("#" + i + " " + kind + ": expected " + expected + ", got " + status);
    }
  }

  private CompletionStage<?> badCall(Bad bad, Random r) {
    return switch (bad) {
      case RANDOM_BYTES -> {
        byte[] bytes = new byte[16 + r.nextInt(1024)];
        r.nextBytes(bytes);
        bytes[0] = 'x'; // never a PNG, JPEG, BMP or GIF signature
        yield client.classify(ClassifyRequest.newBuilder()
            .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(bytes))).build());
      }
      case UNKNOWN_METHOD -> client.explain(ExplainRequest.newBuilder().setMethod("no-such")
          .setImage(goodImage(r)).build()).runWith(Sink.ignore(), clientSystem);
      case UNKNOWN_MODEL -> client.classify(ClassifyRequest.newBuilder().setModel("no-such")
          .setImage(goodImage(r)).build());
      case PARAMETER_OUT_OF_RANGE -> client.explain(ExplainRequest.newBuilder()
          .setMethod("smoothgrad").putParams("samples", "-1").setImage(goodImage(r)).build())
          .runWith(Sink.ignore(), clientSystem);
      case NAN_TENSOR -> {
        Image.Builder image = goodTensor(r);
        byte[] data = image.getTensor().getData().toByteArray();
        ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putFloat(4 * r.nextInt(
            data.length / 4), Float.NaN);
        image.getTensorBuilder().setData(ByteString.copyFrom(data));
        yield client.classify(ClassifyRequest.newBuilder().setImage(image).build());
      }
      case HUGE_HEADER -> client.classify(ClassifyRequest.newBuilder()
          .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(hugePng))).build());
      case VIDEO_WITHOUT_SESSION -> client.explainVideo(Source.single(VideoFrame.newBuilder()
              .setSequence(1).setImage(goodImage(r)).build()))
          .runWith(Sink.ignore(), clientSystem);
    };
  }

  /** An Explain request for {@code method}, its integer parameters held to the cap. */
  private static ExplainRequest.Builder explain(MethodInfo method) {
    return ExplainRequest.newBuilder().setMethod(method.getName())
        .putAllParams(cheap(method));
  }

  private static Map<String, String> cheap(MethodInfo method) {
    Map<String, String> params = new TreeMap<>();
    for (ParameterInfo p : method.getParametersList()) {
      if (p.getKind() == ParameterInfo.Kind.INTEGER) {
        long value = Long.parseLong(p.getDefaultValue());
        long capped = Math.min(value, Math.max((long) p.getMin(), PARAMETER_CAP));
        if (capped != value) {
          params.put(p.getName(), Long.toString(capped));
        }
      }
    }
    return params;
  }

  private List<VideoFrame> video(MethodInfo method, Random r) {
    List<VideoFrame> frames = new ArrayList<>();
    frames.add(VideoFrame.newBuilder().setSession(VideoSession.newBuilder()
        .setMethod(method.getName()).putAllParams(cheap(method))).build());
    int count = 2 + r.nextInt(4);
    for (int i = 1; i <= count; i++) {
      frames.add(VideoFrame.newBuilder().setSequence(i).setCaptureTimeUs(i * 33_333L)
          .setImage(goodImage(r)).build());
    }
    return frames;
  }

  private Image goodImage(Random r) {
    return r.nextInt(4) == 0 ? goodTensor(r).build()
        : Image.newBuilder().setEncoded(ByteString.copyFrom(png)).build();
  }

  private Image.Builder goodTensor(Random r) {
    int n = (int) model.getInputShapeList().stream().mapToLong(Long::longValue)
        .reduce(1, (a, b) -> a * b);
    ByteBuffer data = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < n; i++) {
      data.putFloat(model.getPixelMin()
          + r.nextFloat() * (model.getPixelMax() - model.getPixelMin()));
    }
    return Image.newBuilder().setTensor(Tensor.newBuilder()
        .addAllShape(model.getInputShapeList()).setData(ByteString.copyFrom(data.array())));
  }

  private void report(Sample afterWarmup, Sample end, double seconds) {
    long total = counts.values().stream().mapToLong(LongAdder::sum).sum();
    out.printf(Locale.ROOT, "soak: %d requests in %.0f s (%.1f req/s); statuses by kind:%n",
        total, seconds, total / seconds);
    new TreeMap<>(counts).forEach((k, v) -> out.printf(Locale.ROOT, "  %-40s %6d%n", k,
        v.sum()));
    Map<Status.Code, Long> byCode = new TreeMap<>();
    counts.forEach((k, v) -> byCode.merge(Status.Code.valueOf(k.substring(k.lastIndexOf(' ')
        + 1)), v.sum(), Long::sum));
    out.println("soak: statuses: " + byCode);
    synchronized (unexplained) {
      unexplained.stream().limit(20).forEach(u -> out.println("  unexplained " + u));
    }
    out.println("soak: memory after warm-up: " + afterWarmup + "; at the end: " + end);
  }

  private static long residentBytes(long pid) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
    return -1;
  }
}
