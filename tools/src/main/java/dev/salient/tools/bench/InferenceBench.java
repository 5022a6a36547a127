package dev.salient.tools.bench;

import com.google.protobuf.ByteString;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.Image;
import dev.salient.inference.grpc.GRPCInferenceServiceClient;
import dev.salient.inference.grpc.InferTensorContents;
import dev.salient.inference.grpc.ModelInferRequest;
import dev.salient.inference.grpc.ModelInferRequest.InferInputTensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcClientSettings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./salient bench-inference}: images a second through Salient's Classify and through the
 * Open Inference Protocol's ModelInfer against a running server, with {@code --concurrent}
 * images kept in flight: batch 1 (one image a request; for Classify one call) and batch 8
 * (eight images in one ModelInfer request, against eight Classify calls sent together). Prints
 * the median of the rounds and ModelInfer's ratio to Classify at each batch.
 */
@Command(name = "bench-inference", mixinStandardHelpOptions = true,
    description = "Classify against Open Inference Protocol ModelInfer on a running server.")
public final class InferenceBench implements Callable<Integer> {

  @Option(names = "--server", defaultValue = "127.0.0.1:50051",
      description = "Server address (default: ${DEFAULT-VALUE}).")
  String server;

  @Option(names = "--model", defaultValue = "fashion-mnist",
      description = "Model (default: ${DEFAULT-VALUE}).")
  String model;

  @Option(names = "--image", defaultValue = "samples/fashion-mnist/090_Ankle_boot_idx0000.png",
      description = "Image to classify (default: ${DEFAULT-VALUE}).")
  Path image;

  @Option(names = "--concurrent", defaultValue = "16",
      description = "Images in flight at once: that many callers at batch 1, an eighth of "
          + "them at batch 8 (default: ${DEFAULT-VALUE}).")
  int concurrent;

  @Option(names = "--seconds", defaultValue = "4",
      description = "Seconds per measurement, after 1 s of warm-up (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--rounds", defaultValue = "3",
      description = "Rounds, each measuring every mode once; the median is printed "
          + "(default: ${DEFAULT-VALUE}).")
  int rounds;

  /** Runs the bench. */
  public static void main(String[] args) {
    System.exit(new CommandLine(new InferenceBench()).execute(args));
  }

  @Override
  public Integer call() throws Exception {
    String[] hostPort = server.split(":");
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "inference-bench");
    try {
      GrpcClientSettings settings = GrpcClientSettings.connectToServiceAt(hostPort[0],
          Integer.parseInt(hostPort[1]), system).withTls(false);
      ExplainerClient explainer = ExplainerClient.create(settings, system);
      GRPCInferenceServiceClient inference = GRPCInferenceServiceClient.create(settings, system);
      ByteString png = ByteString.copyFrom(Files.readAllBytes(image));
      ClassifyRequest classify = ClassifyRequest.newBuilder().setModel(model)
          .setImage(Image.newBuilder().setEncoded(png)).setTopK(1).build();
      List<Supplier<CompletionStage<?>>> modes = List.of(
          () -> explainer.classify(classify),
          () -> inference.modelInfer(infer(png, 1)),
          () -> classifyTogether(explainer, classify, 8),
          () -> inference.modelInfer(infer(png, 8)));
      int[] images = {1, 1, 8, 8};
      String[] names = {"Classify, batch 1", "ModelInfer, batch 1",
          "Classify, 8 calls together", "ModelInfer, batch 8"};
      double[][] rates = new double[modes.size()][rounds];
      for (int r = 0; r < rounds; r++) {
        for (int m = 0; m < modes.size(); m++) {
          rates[m][r] = imagesPerSecond(modes.get(m), images[m]);
        }
      }
      double[] medians = new double[modes.size()];
      for (int m = 0; m < modes.size(); m++) {
        medians[m] = median(rates[m]);
        System.out.printf(Locale.ROOT, "%-28s %8.0f images/s  (rounds %s)%n", names[m],
            medians[m], Arrays.toString(Arrays.stream(rates[m]).map(Math::round).toArray()));
      }
      System.out.printf(Locale.ROOT, "ModelInfer / Classify: batch 1 %.2f, batch 8 %.2f "
          + "(%d images in flight)%n", medians[1] / medians[0], medians[3] / medians[2],
          concurrent);
      explainer.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
      inference.close().toCompletableFuture().get(5, TimeUnit.SECONDS);
    } finally {
      system.terminate();
    }
    return 0;
  }

  private ModelInferRequest infer(ByteString png, int n) {
    InferTensorContents.Builder contents = InferTensorContents.newBuilder();
    for (int i = 0; i < n; i++) {
      contents.addBytesContents(png);
    }
    return ModelInferRequest.newBuilder().setModelName(model)
        .addInputs(InferInputTensor.newBuilder().setName("image").setDatatype("BYTES")
            .addShape(n).setContents(contents))
        .build();
  }

  private static CompletionStage<?> classifyTogether(ExplainerClient client,
      ClassifyRequest request, int n) {
    List<CompletableFuture<?>> calls = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      calls.add(client.classify(request).toCompletableFuture());
    }
    return CompletableFuture.allOf(calls.toArray(CompletableFuture[]::new));
  }

  /**
   * Keeps {@code concurrent} images in flight ({@code concurrent / imagesEach} callers): 1 s of
   * warm-up, then counts for {@code seconds}.
   */
  private double imagesPerSecond(Supplier<CompletionStage<?>> request, int imagesEach)
      throws Exception {
    long warmUpEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    long end = warmUpEnd + (long) (seconds * 1e9);
    AtomicLong counted = new AtomicLong();
    List<CompletableFuture<Void>> loops = new ArrayList<>();
    for (int i = 0; i < Math.max(1, concurrent / imagesEach); i++) {
      loops.add(loop(request, imagesEach, warmUpEnd, end, counted));
    }
    CompletableFuture.allOf(loops.toArray(CompletableFuture[]::new)).get(10, TimeUnit.MINUTES);
    return counted.get() / seconds;
  }

  /** One caller: the next request as soon as the last has its answer, until {@code end}. */
  private static CompletableFuture<Void> loop(Supplier<CompletionStage<?>> request,
      int imagesEach, long countFrom, long end, AtomicLong counted) {
    return request.get().toCompletableFuture().thenCompose(answer -> {
      long now = System.nanoTime();
      if (now >= end) {
        return CompletableFuture.<Void>completedFuture(null);
      }
      if (now >= countFrom) {
        counted.addAndGet(imagesEach);
      }
      return loop(request, imagesEach, countFrom, end, counted);
    });
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }
}
