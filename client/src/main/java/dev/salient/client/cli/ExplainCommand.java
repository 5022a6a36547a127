package dev.salient.client.cli;

import dev.salient.client.ExplainListener;
import dev.salient.client.SalientClient;
import dev.salient.client.figures.Explanation;
import dev.salient.client.figures.Figures;
import dev.salient.client.figures.MethodFigures;
import dev.salient.client.figures.MethodPanel;
import dev.salient.grpc.Curve;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.Frame;
import dev.salient.grpc.Image;
import dev.salient.grpc.MethodInfo;
import dev.salient.grpc.ModelInfo;
import dev.salient.grpc.Result;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.Started;
import dev.salient.grpc.Target;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code salient explain}: streams one explanation and prints or saves what comes back. */
@Command(
    name = "explain",
    description = "Explain why the model classifies an image as it does, step by step.")
final class ExplainCommand extends ClientCommand {

  @Mixin ImageOptions image;

  @Option(
      names = "--method",
      paramLabel = "NAME",
      defaultValue = "vanilla",
      description =
          "Explanation method (default: ${DEFAULT-VALUE}); `models --model M` lists them."
              + " Several, comma-separated (vanilla,signed,gradcam), run side by side; with"
              + " --out their maps are drawn into one <image>.panel.png.")
  String method;

  @Option(names = "--model", paramLabel = "MODEL", description = "Model; default: the server's.")
  String model;

  @Option(
      names = "--target",
      paramLabel = "TARGET",
      converter = TargetSpec.Converter.class,
      description =
          "Class to explain: an index (3), a rank (top:1 = predicted, top:2 = runner-up) or a"
              + " label (Sneaker); default: the predicted class.")
  Target target;

  @Option(
      names = "--param",
      paramLabel = "KEY=VALUE",
      description =
          "Method parameter; repeat for several. With several methods, METHOD.KEY=VALUE goes"
              + " to that method only, KEY=VALUE to all.")
  Map<String, String> params = new LinkedHashMap<>();

  @Option(
      names = "--top-k",
      paramLabel = "K",
      defaultValue = "5",
      description = "Classes to list per event (default: ${DEFAULT-VALUE}).")
  int topK;

  @Option(
      names = "--priority",
      paramLabel = "LEVEL",
      defaultValue = "0",
      description = "Priority against other requests on the server's worker: higher first, "
          + "counted up to the server's max-request-priority; negative gives way "
          + "(default: ${DEFAULT-VALUE}).")
  int priority;

  @Option(
      names = "--frame-stride",
      paramLabel = "N",
      defaultValue = "1",
      description = "Send every N-th frame; the last is always sent (default: ${DEFAULT-VALUE}).")
  int frameStride;

  @Option(
      names = "--deterministic",
      description = "Run the request's passes alone, never batched with other requests: the same "
          + "result bit for bit whatever else the server is doing, at a cost in throughput "
          + "(docs/reproducibility.md).")
  boolean deterministic;

  @Option(
      names = "--out",
      paramLabel = "DIR",
      description =
          "Write each result map as <image>.<method>.<map>.png (overlay) and .npy, and the"
              + " method's figures; a trajectory's GIF has at most 100 frames, evenly sampled"
              + " from longer runs, first and last kept.")
  Path outDir;

  @Option(names = "--json", description = "One JSON object per event per line on stdout.")
  boolean json;

  private Image loaded;
  private List<String> methods;

  @Override
  void prepare() {
    if (topK < 1) {
      throw new IllegalArgumentException("--top-k must be 1 or more, got " + topK);
    }
    if (frameStride < 1) {
      throw new IllegalArgumentException("--frame-stride must be 1 or more, got " + frameStride);
    }
    methods = SeveralMethods.parse(method);
    loaded = image.load();
    if (outDir != null) {
      MapFiles.createDirectory(outDir);
    }
  }

  @Override
  void run(ClientSession session, PrintWriter out, PrintWriter err) {
    if (methods.size() > 1) {
      runSeveral(session, out, err);
      return;
    }
    MethodFigures figures = figuresFor(List.of(method), session).get(0).orElse(null);
    ExplainRequest.Builder request = request(method, params, figures);
    AtomicReference<String> methodName = new AtomicReference<>(method);
    AtomicReference<Started> started = new AtomicReference<>();
    List<Frame> frames = new ArrayList<>();
    ExplainListener listener =
        event -> {
          if (event.hasStarted()) {
            started.set(event.getStarted());
            if (!event.getStarted().getMethod().isEmpty()) {
              methodName.set(event.getStarted().getMethod());
            }
            printStarted(event.getStarted(), out);
          } else if (event.hasFrame()) {
            if (figures != null) {
              frames.add(event.getFrame());
            }
            printFrame(event.getFrame(), out, err);
          }
        };
    SalientClient client = session.client();
    CompletionStage<Result> done =
        deadline
            .map(d -> client.explain(request.build(), d, listener))
            .orElseGet(() -> client.explain(request.build(), listener));
    Result result = session.await(done);
    List<WrittenMap> written =
        outDir == null ? List.of() : MapFiles.write(outDir, image.stem(), methodName.get(), result);
    printResult(result, written, out);
    if (figures != null) {
      writeFigures(figures, method, new Explanation(started.get(), frames, result), out);
    }
  }

  private ExplainRequest.Builder request(
      String methodName, Map<String, String> methodParams, MethodFigures figures) {
    ExplainRequest.Builder request =
        ExplainRequest.newBuilder()
            .setImage(loaded)
            .setMethod(methodName)
            .putAllParams(methodParams)
            .setTopK(topK)
            .setFrameStride(frameStride)
            .setDeterministic(deterministic)
            .setPriority(priority)
            .setFrameTensors(figures != null && figures.wantsFrameTensors())
            .setOmitSnapshots(figures == null || !figures.wantsSnapshots())
            .setRenderPng(outDir != null);
    if (model != null) {
      request.setModel(model);
    }
    if (target != null) {
      request.setTarget(target);
    }
    return request;
  }

  /** Several methods: concurrent requests, printed in order, their overlays in one panel. */
  private void runSeveral(ClientSession session, PrintWriter out, PrintWriter err) {
    List<ExplainRequest> requests = new ArrayList<>();
    List<Optional<MethodFigures>> figures = figuresFor(methods, session);
    for (int i = 0; i < methods.size(); i++) {
      String m = methods.get(i);
      requests.add(request(m, SeveralMethods.parametersFor(m, methods, params),
          figures.get(i).orElse(null)).build());
    }
    List<Explanation> explanations = SeveralMethods.explain(session, deadline, requests);
    for (int i = 0; i < methods.size(); i++) {
      Explanation e = explanations.get(i);
      printStarted(e.started(), out);
      e.frames().forEach(f -> printFrame(f, out, err));
      String m = methods.get(i);
      List<WrittenMap> written =
          outDir == null ? List.of() : MapFiles.write(outDir, image.stem(), m, e.result());
      printResult(e.result(), written, out);
      figures.get(i).ifPresent(f -> writeFigures(f, m, e, out));
    }
    if (outDir != null) {
      try {
        Path panel = MethodPanel.write(outDir, image.stem(), explanations);
        if (panel != null && !json) {
          out.println("wrote      " + panel);
        }
      } catch (IOException e) {
        throw new CliFailure("cannot write the panel into " + outDir + ": " + e.getMessage(), e);
      }
    }
  }

  /**
   * The figure writer of each of {@code names}, when figures are written: from the method's family,
   * which the server's description of the model tells. An unknown method gets none here and its
   * request fails with the server's own message.
   */
  private List<Optional<MethodFigures>> figuresFor(List<String> names, ClientSession session) {
    if (outDir == null) {
      return names.stream().map(n -> Optional.<MethodFigures>empty()).toList();
    }
    DescribeModelRequest describe =
        DescribeModelRequest.newBuilder().setModel(model == null ? "" : model).build();
    SalientClient client = session.client();
    ModelInfo info = session.await(deadline
        .map(d -> client.describeModel(describe, d))
        .orElseGet(() -> client.describeModel(describe))).getModel();
    Map<String, MethodInfo.Family> families = new HashMap<>();
    info.getMethodsList().forEach(m -> families.put(m.getName(), m.getFamily()));
    return names.stream()
        .map(n -> Optional.ofNullable(families.get(n)).flatMap(Figures::forFamily))
        .toList();
  }

  private void writeFigures(
      MethodFigures figures, String methodName, Explanation explanation, PrintWriter out) {
    List<Path> files;
    try {
      files = figures.write(outDir, image.stem() + "." + methodName, explanation);
    } catch (IOException e) {
      throw new CliFailure("cannot write figures into " + outDir + ": " + e.getMessage(), e);
    }
    if (!json) {
      files.forEach(f -> out.println("wrote      " + f));
    }
  }

  private void printStarted(Started s, PrintWriter out) {
    if (json) {
      out.println(JsonEvents.started(s));
    } else {
      out.println("model      " + s.getModel());
      out.println("method     " + s.getMethod() + "  (request " + s.getRequestId() + ")");
      if (s.getParamsCount() > 0) {
        StringBuilder line = new StringBuilder("params    ");
        s.getParamsMap().forEach((k, v) -> line.append(' ').append(k).append('=').append(v));
        out.println(line);
      }
      out.println("input      " + Text.shape(s.getInputShapeList()));
      out.println("predicted  " + Text.score(s.getPredicted()));
      out.println("top " + pad(s.getTopCount(), 7) + Text.scores(s.getTopList()));
      out.println("target     " + Text.score(s.getTarget()));
    }
    out.flush();
  }

  private void printFrame(Frame f, PrintWriter out, PrintWriter err) {
    if (json) {
      out.println(JsonEvents.frame(f));
      out.flush();
      return;
    }
    // Progress goes to stderr so that stdout holds only the summary.
    StringBuilder line = new StringBuilder("step ").append(f.getStep());
    if (!f.getPhase().isEmpty()) {
      line.append("  [").append(f.getPhase()).append(']');
    }
    line.append("  p(target)=").append(Text.number(f.getTargetProbability()));
    line.append("  passes=").append(f.getPasses());
    if (f.getValuesCount() > 0) {
      line.append("  ").append(Text.values(f.getValuesMap()));
    }
    err.println(line);
    err.flush();
  }

  private void printResult(Result r, List<WrittenMap> written, PrintWriter out) {
    if (json) {
      out.println(JsonEvents.result(r, written));
      return;
    }
    out.printf(
        Locale.ROOT,
        "result     %d steps, %d passes, %d ms%n",
        r.getSteps(),
        r.getPasses(),
        r.getElapsedMs());
    if (r.getValuesCount() > 0) {
      out.println("values     " + Text.values(r.getValuesMap()));
    }
    for (SaliencyMap m : r.getMapsList()) {
      List<Long> shape = m.getTensor().getShapeList();
      out.printf(
          Locale.ROOT,
          "map        %s %s %s  %s%n",
          m.getName(),
          Text.shape(shape),
          m.getColourScale(),
          Text.range(m.getTensor()));
    }
    for (Curve c : r.getCurvesList()) {
      out.printf(
          Locale.ROOT,
          "curve      %s (%s against %s, %d points)%n",
          c.getName(),
          c.getYLabel(),
          c.getXLabel(),
          c.getXCount());
    }
    for (WrittenMap w : written) {
      if (w.png() != null) {
        out.println("wrote      " + w.png());
      }
      if (w.figure() != null) {
        out.println("wrote      " + w.figure());
      }
      out.println("wrote      " + w.npy());
    }
  }

  private static String pad(int n, int width) {
    String s = Integer.toString(n);
    return s + " ".repeat(Math.max(1, width - s.length()));
  }
}
