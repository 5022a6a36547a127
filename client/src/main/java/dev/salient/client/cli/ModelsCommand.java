package dev.salient.client.cli;

import dev.salient.client.SalientClient;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.ListModelsResponse;
import dev.salient.grpc.MethodInfo;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.ParameterInfo;
import dev.salient.grpc.Preprocessing;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code salient models}: the served models, and one model's full description. */
@Command(
    name = "models",
    description = "List the server's models; with --model, describe one: labels, input, methods.")
final class ModelsCommand extends ClientCommand {

  @Option(names = "--model", paramLabel = "MODEL", description = "Also describe this model.")
  String model;

  @Option(
      names = "--json",
      description = "JSON on stdout: {\"models\":[...]}, then {\"model\":...}.")
  boolean json;

  @Override
  void prepare() {}

  @Override
  void run(ClientSession session, PrintWriter out, PrintWriter err) {
    SalientClient client = session.client();
    ListModelsResponse list =
        session.await(deadline.map(client::listModels).orElseGet(client::listModels));
    if (json) {
      out.println(JsonReplies.models(list.getModelsList()));
    } else {
      list.getModelsList().forEach(m -> printSummary(m, out));
    }
    if (model == null) {
      return;
    }
    DescribeModelRequest request = DescribeModelRequest.newBuilder().setModel(model).build();
    ModelInfo info =
        session
            .await(
                deadline
                    .map(d -> client.describeModel(request, d))
                    .orElseGet(() -> client.describeModel(request)))
            .getModel();
    if (json) {
      out.println(JsonReplies.describe(info));
    } else {
      out.println();
      printDescription(info, out);
    }
  }

  private static void printSummary(ModelInfo m, PrintWriter out) {
    String methods =
        m.getMethodsList().stream().map(MethodInfo::getName).collect(Collectors.joining(", "));
    out.printf(
        Locale.ROOT,
        "%s%s  %s  input %s  %d classes  methods: %s%n",
        m.getName(),
        m.getIsDefault() ? " (default)" : "",
        m.getFormat(),
        Text.shape(m.getInputShapeList()),
        m.getLabelsCount(),
        methods);
    if (!m.getDescription().isEmpty()) {
      out.println("  " + m.getDescription());
    }
  }

  /** One line: how an encoded image becomes the model's input (model.json's names). */
  static String preprocessing(Preprocessing p) {
    String geometry = p.getCrop().equals("center")
        ? "short side resized to " + p.getResizeShortSide() + ", centre crop"
        : "stretched to the input size";
    return p.getResize() + " resize, " + geometry + ", color management "
        + p.getColorManagement();
  }

  private static void printDescription(ModelInfo m, PrintWriter out) {
    out.println("model        " + m.getName() + (m.getIsDefault() ? " (default)" : ""));
    out.println("description  " + m.getDescription());
    out.println("format       " + m.getFormat());
    out.printf(
        Locale.ROOT,
        "input        %s, pixels in [%s, %s], mean %s, std %s%n",
        Text.shape(m.getInputShapeList()),
        Text.number(m.getPixelMin()),
        Text.number(m.getPixelMax()),
        m.getMeanList(),
        m.getStdList());
    if (m.hasPreprocessing()) {
      out.println("images       " + preprocessing(m.getPreprocessing()));
    }
    if (m.getMetricsCount() > 0) {
      out.println("metrics      " + Text.values(m.getMetricsMap()));
    }
    out.println("labels");
    for (int i = 0; i < m.getLabelsCount(); i++) {
      out.printf(Locale.ROOT, "  %4d  %s%n", i, m.getLabels(i));
    }
    out.println("methods");
    for (MethodInfo method : m.getMethodsList()) {
      out.println("  " + method.getName() + (method.getLiveVideo() ? "  (live video)" : "")
          + "  " + method.getDescription());
      for (ParameterInfo p : method.getParametersList()) {
        out.printf(
            Locale.ROOT,
            "      --param %s=%s  (default; %s)  %s%n",
            p.getName(),
            p.getDefaultValue(),
            p.getAccepted(),
            p.getDescription());
      }
    }
  }
}
