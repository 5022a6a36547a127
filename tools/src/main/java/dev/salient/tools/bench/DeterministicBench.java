package dev.salient.tools.bench;

import com.google.protobuf.ByteString;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.grpc.Target;
import dev.salient.server.SalientServer;
import dev.salient.server.SalientSettings;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.CommonPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./salient bench-deterministic}: what {@code ExplainRequest.deterministic} costs. For
 * each method, waves of concurrent requests (the samples, targets of rank 1 to 3) through gRPC on
 * loopback to a server of the default model, alternately shared (the default) and deterministic,
 * in the same run; then one request at a time both ways. Prints requests per second and the
 * deterministic rate as a ratio of the shared one.
 */
@Command(name = "bench-deterministic", mixinStandardHelpOptions = true,
    description = "Measure the cost of deterministic requests against shared ones.")
public final class DeterministicBench implements Callable<Integer> {

  @Option(names = "--methods", split = ",",
      defaultValue = "vanilla,smoothgrad,integrated_gradients,geosal,bim,nonlinear",
      description = "Methods to measure (default: ${DEFAULT-VALUE}).")
  List<String> methods;

  @Option(names = "--concurrent", defaultValue = "16",
      description = "Requests in flight in a wave (default: ${DEFAULT-VALUE}).")
  int concurrent;

  @Option(names = "--waves", defaultValue = "5",
      description = "Measured waves each way per method, after one warm-up wave each way "
          + "(default: ${DEFAULT-VALUE}).")
  int waves;

  /** Runs the benchmark command line. */
  public static void main(String[] args) {
    CommonPool.ensureAtLeastTwoThreads();
    System.exit(new CommandLine(new DeterministicBench()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    Config config = ConfigFactory.parseMap(Map.of("salient.port", 0,
        "salient.scheduler.max-in-flight", 4096)).withFallback(ConfigFactory.load());
    ActorSystem<Void> serverSystem = ActorSystem.create(Behaviors.empty(), "det-server", config);
    ActorSystem<Void> clientSystem = ActorSystem.create(Behaviors.empty(), "det-client", config);
    List<byte[]> pngs = samples(concurrent);
    System.out.printf(Locale.ROOT, "%d cores; waves of %d requests, %d measured each way%n",
        Runtime.getRuntime().availableProcessors(), concurrent, waves);
    try (SalientServer server = SalientServer.start(serverSystem,
        SalientSettings.create(config), ModelCatalog.embeddedDefault(),
        MethodRegistry.standard())) {
      ExplainerClient client = ExplainerClient.create(GrpcClientSettings
          .connectToServiceAt("127.0.0.1", server.address().getPort(), clientSystem)
          .withTls(false), clientSystem);
      for (String method : methods) {
        List<ExplainRequest> shared = requests(method, pngs, false);
        List<ExplainRequest> deterministic = requests(method, pngs, true);
        wave(client, clientSystem, shared);
        wave(client, clientSystem, deterministic);
        double[] sharedSeconds = new double[waves];
        double[] deterministicSeconds = new double[waves];
        double[] sharedOne = new double[waves];
        double[] deterministicOne = new double[waves];
        for (int w = 0; w < waves; w++) {
          // Alternated, so that a change of the machine's speed hits both alike.
          sharedSeconds[w] = wave(client, clientSystem, shared);
          deterministicSeconds[w] = wave(client, clientSystem, deterministic);
          sharedOne[w] = wave(client, clientSystem, shared.subList(0, 1));
          deterministicOne[w] = wave(client, clientSystem, deterministic.subList(0, 1));
        }
        print(method, concurrent + "concurrent", concurrent / Bench.median(sharedSeconds),
            concurrent / Bench.median(deterministicSeconds));
        print(method, "1alone", 1 / Bench.median(sharedOne), 1 / Bench.median(deterministicOne));
      }
    } finally {
      clientSystem.terminate();
      serverSystem.terminate();
      serverSystem.getWhenTerminated().toCompletableFuture().get(20, TimeUnit.SECONDS);
    }
    return 0;
  }

  private static void print(String method, String load, double shared, double deterministic) {
    System.out.printf(Locale.ROOT, "deterministic.%-28s %9.2f req/s  ratio %.2f vs shared "
        + "(%.2f req/s)%n", method + "." + load, deterministic, deterministic / shared, shared);
  }

  /** Sends {@code requests} at once and returns the seconds until the last has ended. */
  private static double wave(ExplainerClient client, ActorSystem<Void> system,
      List<ExplainRequest> requests) throws Exception {
    long start = System.nanoTime();
    List<CompletableFuture<?>> all = new ArrayList<>();
    for (ExplainRequest r : requests) {
      all.add(client.explain(r).runWith(Sink.ignore(), system).toCompletableFuture());
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
    return (System.nanoTime() - start) / 1e9;
  }

  private static List<ExplainRequest> requests(String method, List<byte[]> pngs,
      boolean deterministic) {
    List<ExplainRequest> out = new ArrayList<>();
    for (int i = 0; i < pngs.size(); i++) {
      out.add(ExplainRequest.newBuilder().setMethod(method)
          .setTarget(Target.newBuilder().setRank(1 + i % 3)).setOmitSnapshots(true)
          .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(pngs.get(i))))
          .setDeterministic(deterministic).build());
    }
    return out;
  }

  /** {@code n} of the repository's Fashion-MNIST samples, spread over its classes. */
  private static List<byte[]> samples(int n) throws IOException {
    Path dir = Path.of(System.getProperty("salient.repository", "."), "samples",
        "fashion-mnist");
    List<Path> files;
    try (var listing = Files.list(dir)) {
      files = listing.filter(p -> p.toString().endsWith(".png")).sorted().toList();
    }
    List<byte[]> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(Files.readAllBytes(files.get(i * files.size() / n)));
    }
    return out;
  }
}
