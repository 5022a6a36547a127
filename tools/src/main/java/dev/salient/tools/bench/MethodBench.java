package dev.salient.tools.bench;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./salient bench-method}: one method's requests against a running server, alone and
 * {@code --concurrent} at once, each with the method's parameters as given and with one image per
 * pass ({@code batch=1}: the model called once per sample). Prints a line per measurement: the
 * median wall time of a request alone, and of a wave of concurrent requests (the time until the
 * last ends), with the wave's gain over running its requests one after another.
 */
@Command(name = "bench-method", mixinStandardHelpOptions = true,
    description = "Time one method alone and with concurrent requests against a running server.")
public final class MethodBench implements Callable<Integer> {

  @Option(names = "--server", defaultValue = "127.0.0.1:50051",
      description = "Server address (default: ${DEFAULT-VALUE}).")
  String server;

  @Option(names = "--method", required = true, description = "Method to time.")
  String method;

  @Option(names = "--param", description = "Method parameter KEY=VALUE; repeat for several.")
  Map<String, String> params = new LinkedHashMap<>();

  @Option(names = "--image", defaultValue = "samples/fashion-mnist/090_Ankle_boot_idx0000.png",
      description = "Image to explain (default: ${DEFAULT-VALUE}).")
  Path image;

  @Option(names = "--concurrent", defaultValue = "16",
      description = "Requests in a concurrent wave (default: ${DEFAULT-VALUE}).")
  int concurrent;

  @Option(names = "--repeats", defaultValue = "5",
      description = "Measurements per line; the median is printed (default: ${DEFAULT-VALUE}).")
  int repeats;

  @Option(names = "--per-sample", arity = "1", defaultValue = "true",
      description = "Also time the method with batch=1: true or false (default: "
          + "${DEFAULT-VALUE}).")
  boolean perSample;

  /** Runs the bench. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new MethodBench()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    String[] hostPort = server.split(":");
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "method-bench");
    try {
      ExplainerClient client = ExplainerClient.create(GrpcClientSettings.connectToServiceAt(
          hostPort[0], Integer.parseInt(hostPort[1]), system).withTls(false), system);
      byte[] png = Files.readAllBytes(image);
      measure(client, system, png, params, "as given");
      if (perSample) {
        Map<String, String> one = new LinkedHashMap<>(params);
        one.put("batch", "1");
        measure(client, system, png, one, "batch=1");
      }
      client.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } finally {
      system.terminate();
    }
    return 0;
  }

  private void measure(ExplainerClient client, ActorSystem<Void> system, byte[] png,
      Map<String, String> parameters, String label) throws Exception {
    ExplainRequest request = ExplainRequest.newBuilder().setMethod(method)
        .putAllParams(parameters)
        .setImage(Image.newBuilder().setEncoded(ByteString.copyFrom(png))).build();
    for (int i = 0; i < 3; i++) {
      wave(client, system, request, 1);
    }
    wave(client, system, request, concurrent);
    double[] alone = new double[repeats];
    double[] together = new double[repeats];
    for (int r = 0; r < repeats; r++) {
      alone[r] = wave(client, system, request, 1);
      together[r] = wave(client, system, request, concurrent);
    }
    double a = median(alone);
    double t = median(together);
    System.out.printf(Locale.ROOT, "%s %s  alone %.0f ms  |  %d concurrent: %.0f ms for all "
        + "(%.1f ms a request; %.2fx the throughput of one after another)  params %s%n",
        method, label, a, concurrent, t, t / concurrent, concurrent * a / t, parameters);
  }

  /** Milliseconds until {@code n} requests sent at once have all ended. */
  private static double wave(ExplainerClient client, ActorSystem<Void> system,
      ExplainRequest request, int n) throws Exception {
    long t0 = System.nanoTime();
    List<CompletableFuture<?>> calls = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      CompletionStage<?> call = client.explain(request).runWith(Sink.ignore(), system);
      calls.add(call.toCompletableFuture());
    }
    CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
    return (System.nanoTime() - t0) / 1e6;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
