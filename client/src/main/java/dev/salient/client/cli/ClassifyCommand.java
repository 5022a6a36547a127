package dev.salient.client.cli;

import dev.salient.client.SalientClient;
import dev.salient.grpc.ClassScore;
import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.Image;
import java.io.PrintWriter;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code salient classify}: the model's top classes for one image. */
@Command(name = "classify", description = "Classify one image: the top classes, best first.")
final class ClassifyCommand extends ClientCommand {

  @Mixin ImageOptions image;

  @Option(names = "--model", paramLabel = "MODEL", description = "Model; default: the server's.")
  String model;

  @Option(
      names = "--top-k",
      paramLabel = "K",
      defaultValue = "5",
      description = "Classes to list (default: ${DEFAULT-VALUE}).")
  int topK;

  @Option(names = "--json", description = "One JSON object on stdout.")
  boolean json;

  private Image loaded;

  @Override
  void prepare() {
    if (topK < 1) {
      throw new IllegalArgumentException("--top-k must be 1 or more, got " + topK);
    }
    loaded = image.load();
  }

  @Override
  void run(ClientSession session, PrintWriter out, PrintWriter err) {
    ClassifyRequest.Builder request = ClassifyRequest.newBuilder().setImage(loaded).setTopK(topK);
    if (model != null) {
      request.setModel(model);
    }
    SalientClient client = session.client();
    ClassifyResponse response =
        session.await(
            deadline
                .map(d -> client.classify(request.build(), d))
                .orElseGet(() -> client.classify(request.build())));
    if (json) {
      out.println(JsonReplies.classify(response));
      return;
    }
    out.println("model  " + response.getModel());
    int rank = 1;
    for (ClassScore s : response.getTopList()) {
      out.println(
          String.format(
              Locale.ROOT,
              "%3d.  #%-4d %-24s %8.4f  logit=%s",
              rank++,
              s.getIndex(),
              s.getLabel(),
              s.getProbability(),
              Text.number(s.getLogit())));
    }
  }
}
