package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassResult;
import dev.salient.server.engine.Softmax;
import dev.salient.server.explanation.ColourScale;
import dev.salient.server.explanation.ExplainEvent;
import dev.salient.server.explanation.ExplainEvent.FloatTensor;
import dev.salient.server.explanation.ExplainEvent.SaliencyMap;
import dev.salient.server.method.ResultSchema.MapShape;
import dev.salient.server.method.ResultSchema.ValueType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;

/**
 * Geometric Saliency (seed 002, "New method - Geometric Saliency"): the closest adversarial
 * example of each competing class Q by repeated projection onto the local decision plane, and the
 * probability-weighted importance {@code sum_Q p(Q) |x - x'_Q|} over the competitors.
 *
 * <p>The plane. The paper writes the network inside one ReLU / max-pool region as {@code x W + B
 * = y} (its eq. 8) with y the output of the last linear layer, i.e. the logits: the softmax is
 * not piecewise linear, and {@code argmax p = argmax y}, so p(Q) > p(P) exactly when y_Q > y_P.
 * So y' = y_P - y_Q is a logit margin and W = ∇y' its input gradient, one row of a LOGIT pass with
 * class weights e_P - e_Q. For a network of ReLU, max-pool and linear layers (convolutions
 * included) y' is exactly affine inside the region, so the plane is exact there, not a
 * first-order approximation. The weights of the importance are probabilities, as the paper
 * says ("weight by comparison class' output probability").
 *
 * <p>One iteration (the paper's algorithm for the closest adversarial example): at the current
 * candidate x, move onto the plane (eqs. 4 and 5), {@code x - ((y' + δ) / ‖W‖²) W}, then clip
 * into the model's pixel range (step 5). The overshoot δ = {@code overshoot} × y'(x₀), a fixed
 * share of the margin at the original image, puts the target just past the boundary, because
 * the stop test p(Q) > p(P) is strict: on a linear model the first step lands at (1 + overshoot)
 * times the distance to the plane, DeepFool's overshoot. It is fixed rather than a share of the
 * current y' because clipping and the network's curvature make every step fall short by a
 * roughly constant factor, so a shrinking overshoot approaches the boundary geometrically and
 * never crosses it (on a development candidate of the default model, a shrinking overshoot
 * flipped 62 % of 200 training images, the fixed one 100 %). 0.02 was chosen on 300 training
 * images of the default model: 0.005 / 0.01 / 0.02 / 0.05 / 0.1 give median L2 ratios to FGSM of
 * 0.571 / 0.572 / 0.576 / 0.584 / 0.605 in 5 / 4 / 4 / 3 / 3 median iterations, all flipped.
 *
 * <p>The clipping case (step 6, fig. 18): when the next candidate lies on the same plane (same W,
 * and the y' that plane predicts), the clip kept the step from reaching the plane, and plain
 * iteration would approach it only as a geometric series. The search then jumps to the series'
 * limit, eq. 9, {@code q = p + d1 / (1 - r)}, with d1 the next step's movement and r = ‖W_S‖² /
 * ‖W‖² its ratio to the step before (S: the pixels held at a bound that the step pushes outward),
 * both read off the plane rather than measured over three more passes: the limit is the
 * projection onto the plane along the free pixels only. On the default CNN each step changes the
 * ReLU / max-pool pattern, so the plane never repeated exactly on 500 training images and the
 * jump did not fire there; it does on linear pieces larger than a step (see the tests). Always
 * moving the free pixels only, instead of projecting and clipping first, was tried: 7 % longer
 * L2 on a development candidate of the model.
 *
 * <p>Stopping: when the candidate is classified as Q; when the plane cannot be reached inside the
 * pixel range (no free pixel moves it: "stalled"); or after {@code max_iterations}. The paper stops
 * at p(Q) > p(P); when a third class R has overtaken Q on the way, the point is not yet a Q, so
 * the search goes on against every class above Q: R's plane y_R = y_Q gets its own gradient row
 * (one extra pass at the same point) and the step goes to the closest point of the intersection
 * of the half-spaces y_c <= y_Q - δ (the paper's footnote 2, {@link HalfspaceProjection}). On the
 * default model this never happened for the runner-up on 500 training images (it did on 5 % of
 * them with a development candidate of the model).
 *
 * <p>Competitors: with a target class other than the prediction, only that class (weight 1, the
 * paper's two-class explanation of fig. 19); otherwise every class whose probability is at least
 * {@code threshold} (at least the runner-up), weighted by its probability, as in the paper's
 * "total importance" algorithm (fig. 20). Their searches run side by side, one row each in the
 * same pass per iteration.
 */
public final class GeoSal implements ExplanationMethod {
  private static final ResultSchema RESULT = ResultSchema.builder()
      .value("flipped", ValueType.FLAG,
          "whether the reported search reached the decision boundary and flipped the class")
      .value("l2", ValueType.NUMBER,
          "the L2 distance from the image to the reported adversarial example")
      .value("iterations", ValueType.COUNT, "the projections the reported search made")
      .value("competitor", ValueType.CLASS_INDEX,
          "the competitor class of the reported search (the closest that flipped)")
      .value("margin", ValueType.NUMBER,
          "the goal margin in logits (strongest other class minus the goal class, targeted; "
          + "the source class minus the strongest other, untargeted): negative once the goal is"
          + " reached")
      .value("stalled", ValueType.FLAG, "whether the reported search stopped without progress")
      .value("iteration_bound", ValueType.FLAG,
          "whether the reported search stopped at max_iterations")
      .value("competitors", ValueType.COUNT, "the competitors searched")
      .value("weight_<class>", ValueType.NUMBER,
          "the competitor's weight in the difference and importance maps",
          "per competitor, when the target is the predicted class")
      .value("flipped_<class>", ValueType.FLAG,
          "whether the search towards that competitor flipped",
          "per competitor, when the target is the predicted class")
      .value("l2_<class>", ValueType.NUMBER,
          "the L2 distance of that competitor's adversarial example",
          "per competitor, when the target is the predicted class")
      .value("iterations_<class>", ValueType.COUNT,
          "that search's projections",
          "per competitor, when the target is the predicted class")
      .map("adversarial", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the adversarial example, in pixel values")
      .map("difference", MapShape.CHANNELS, ColourScale.DIVERGING,
          "the adversarial example minus the image")
      .map("importance", MapShape.PIXELS, ColourScale.SEQUENTIAL,
          "|difference| summed over channels")
      .map("adversarial_<class>", MapShape.CHANNELS, ColourScale.SEQUENTIAL,
          "the adversarial example towards that competitor",
          "per competitor, when the target is the predicted class")
      .build();

  /** The method's name in requests. */
  public static final String NAME = "geosal";

  // Two successive candidates lie on the same plane when their gradients agree to this relative
  // tolerance and the first plane predicts the second margin to it (float32 gradients of the same
  // affine piece differ only by rounding, far below this).
  private static final double SAME_PLANE_TOLERANCE = 1e-3;

  static final Parameter<Double> OVERSHOOT = Parameter.number("overshoot",
      "each step aims past the local decision plane by this share of the original margin "
          + "y_P - y_Q, so that the boundary is crossed", 0.02, 0, 1);
  static final Parameter<Integer> MAX_ITERATIONS = Parameter.integer("max_iterations",
      "bound on the iterations (projections) per competitor", 50, 1, 10_000);
  static final Parameter<Double> THRESHOLD = Parameter.number("threshold",
      "without a target class: explain against every class whose probability is at least this "
          + "(at least the runner-up)", 0.01, 0, 1);
  static final List<Parameter<?>> PARAMETERS = List.of(OVERSHOOT, MAX_ITERATIONS, THRESHOLD);

  /** Parameters of a GeoSal request. */
  public record Parameters(double overshoot, int maxIterations, double threshold) {
    static Parameters of(MethodParameters p) {
      return new Parameters(p.get(OVERSHOOT), p.get(MAX_ITERATIONS), p.get(THRESHOLD));
    }
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public ResultSchema resultSchema() {
    return RESULT;
  }

  @Override
  public BatchTolerance batchTolerance() {
    return new BatchTolerance(1e-4, 1e-4, Set.of("flipped", "iterations", "competitor",
        "stalled", "iteration_bound", "competitors", "flipped_", "iterations_"), Set.of());
  }

  @Override
  public MethodFamily family() {
    return MethodFamily.ADVERSARIAL;
  }

  @Override
  public String description() {
    return "Closest adversarial example per competing class by projection onto the local "
        + "decision plane; importance sum_Q p(Q)|x - x'| (GeoSal)";
  }

  @Override
  public List<Parameter<?>> parameters() {
    return PARAMETERS;
  }

  @Override
  public Prepared prepare(Map<String, String> raw) {
    MethodParameters p = MethodParameters.parse(NAME, raw, PARAMETERS);
    Parameters parameters = Parameters.of(p);
    return new Prepared(p.effective(), context -> new Run(context, parameters));
  }

  /** Why a competitor's search ended. */
  private enum Stop {
    RUNNING,
    FLIPPED,
    STALLED,
    ITERATION_BOUND
  }

  /** The search for the closest adversarial example of one competitor Q. */
  private static final class Search {
    final int competitor;
    final double weight;
    final Adversarial.Goal goal;
    // The classes whose planes y_c = y_Q the search projects onto: P, and any class that has
    // overtaken Q on the way.
    final List<Integer> rivals = new ArrayList<>();
    float[] x;
    int iterations;
    String phase = "start";
    boolean reevaluating;
    double margin;
    double initialMargin = Double.NaN;
    Stop stop = Stop.RUNNING;
    // The planes at the previous candidate: gradients and margins per rival, and the point.
    Map<Integer, float[]> previousGradients;
    Map<Integer, Double> previousMargins;
    float[] previousX;

    Search(int predicted, int competitor, double weight, float[] image) {
      this.competitor = competitor;
      this.weight = weight;
      this.goal = new Adversarial.Goal(predicted, competitor, false);
      this.rivals.add(predicted);
      this.x = image.clone();
    }

    boolean done() {
      return stop != Stop.RUNNING;
    }
  }

  private static final class Run implements MethodRun {
    private final MethodContext context;
    private final Parameters parameters;
    private final InputSpec spec;
    private final boolean allCompetitors;
    private final List<Search> searches = new ArrayList<>();
    // The search of each row of the pass in flight, and each row's rival.
    private final List<Search> rowSearch = new ArrayList<>();
    private final List<Integer> rowRival = new ArrayList<>();
    private Pass pass;
    private int step;
    private int passes = 1;
    private boolean finished;

    Run(MethodContext context, Parameters parameters) {
      this.context = context;
      this.parameters = parameters;
      this.spec = context.model().input();
      int predicted = Adversarial.predicted(context.logits());
      float[] p = context.probabilities();
      allCompetitors = context.target() == predicted;
      List<Integer> competitors;
      if (allCompetitors) {
        List<Integer> ranked = IntStream.range(0, p.length).filter(c -> c != predicted).boxed()
            .sorted(Comparator.comparingDouble((Integer c) -> -p[c]).thenComparingInt(c -> c))
            .toList();
        competitors = new ArrayList<>(List.of(ranked.get(0)));
        ranked.stream().skip(1).filter(c -> p[c] >= parameters.threshold())
            .forEach(competitors::add);
      } else {
        competitors = List.of(context.target());
      }
      for (int q : competitors) {
        // One competitor: the paper's two-class explanation (fig. 19), in pixel units.
        searches.add(new Search(predicted, q, allCompetitors ? p[q] : 1.0, context.image()));
      }
    }

    @Override
    public Pass nextPass() {
      if (finished) {
        return null;
      }
      if (pass == null) {
        rowSearch.clear();
        rowRival.clear();
        List<float[]> images = new ArrayList<>();
        List<float[]> weights = new ArrayList<>();
        for (Search s : searches) {
          if (s.done()) {
            continue;
          }
          // One row per plane y_rival - y_Q: its logit margin's gradient.
          for (int rival : s.rivals) {
            float[] w = new float[context.model().numClasses()];
            w[rival] = 1f;
            w[s.competitor] = -1f;
            images.add(s.x);
            weights.add(w);
            rowSearch.add(s);
            rowRival.add(rival);
          }
        }
        pass = new Pass(images, new Pass.Objective(Pass.Output.LOGIT, weights));
      }
      return pass;
    }

    @Override
    public List<ExplainEvent> onPassResult(PassResult result) {
      passes += pass.size();
      List<ExplainEvent> events = new ArrayList<>();
      int row = 0;
      while (row < rowSearch.size()) {
        Search s = rowSearch.get(row);
        Map<Integer, float[]> gradients = new LinkedHashMap<>();
        float[] logits = result.logits().get(row);
        for (; row < rowSearch.size() && rowSearch.get(row) == s; row++) {
          gradients.put(rowRival.get(row), result.gradients().get(row));
        }
        evaluate(s, logits, gradients, events);
      }
      pass = null;
      step++;
      if (searches.stream().allMatch(Search::done)) {
        finished = true;
        events.add(result());
      }
      return events;
    }

    /** Takes the model's answer at a search's candidate: a frame, then a stop or the next move. */
    private void evaluate(Search s, float[] logits, Map<Integer, float[]> gradients,
        List<ExplainEvent> events) {
      s.margin = s.goal.margin(logits);
      if (Double.isNaN(s.initialMargin)) {
        s.initialMargin = s.margin;
      }
      if (!s.reevaluating) {
        events.add(frame(s, logits));
      }
      s.reevaluating = false;
      if (s.margin < 0) {
        s.stop = Stop.FLIPPED;
        return;
      }
      if (s.iterations >= parameters.maxIterations()) {
        s.stop = Stop.ITERATION_BOUND;
        return;
      }
      boolean overtaken = false;
      for (int c = 0; c < logits.length; c++) {
        if (c != s.competitor && logits[c] >= logits[s.competitor] && !s.rivals.contains(c)) {
          // A class other than P is above Q here: its plane needs its own gradient row.
          s.rivals.add(c);
          overtaken = true;
        }
      }
      if (overtaken) {
        s.reevaluating = true;
        return;
      }
      Map<Integer, Double> margins = new LinkedHashMap<>();
      for (int rival : s.rivals) {
        margins.put(rival, (double) logits[rival] - logits[s.competitor]);
      }
      move(s, gradients, margins);
    }

    /**
     * One GeoSal step: onto the plane(s) y_rival - y_Q = -overshoot * y'(x0) (the projection,
     * eqs. 4-5; with several rivals the closest point of the intersection), clipped; on a
     * repeated plane the eq. 9 jump, which moves the free pixels only.
     */
    private void move(Search s, Map<Integer, float[]> gradients, Map<Integer, Double> margins) {
      int k = s.rivals.size();
      float[][] g = new float[k][];
      double[] h = new double[k];
      for (int a = 0; a < k; a++) {
        int rival = s.rivals.get(a);
        g[a] = gradients.get(rival);
        h[a] = -parameters.overshoot() * s.initialMargin - margins.get(rival);
      }
      float[] x = s.x;
      boolean[] free = new boolean[x.length];
      Arrays.fill(free, true);
      double[] d = HalfspaceProjection.solve(g, h, free);
      if (d == null && k > 1) {
        // The planes have no common point on this side (or are too many): fall back to the
        // paper's single plane, that of the strongest rival.
        int strongest = 0;
        for (int a = 1; a < k; a++) {
          strongest = h[a] < h[strongest] ? a : strongest;
        }
        g = new float[][] {g[strongest]};
        h = new double[] {h[strongest]};
        d = HalfspaceProjection.solve(g, h, free);
      }
      boolean jump = d != null && samePlanes(s, gradients, margins);
      if (jump) {
        // Eq. 9: clipped steps on these planes converge to the same move over the free pixels.
        boolean held = false;
        for (int i = 0; i < x.length; i++) {
          free[i] = !(x[i] >= spec.pixelMax() && d[i] > 0)
              && !(x[i] <= spec.pixelMin() && d[i] < 0);
          held |= !free[i];
        }
        if (held) {
          d = HalfspaceProjection.solve(g, h, free);
        }
      }
      if (d == null) {
        s.stop = Stop.STALLED;
        return;
      }
      float[] next = new float[x.length];
      for (int i = 0; i < x.length; i++) {
        next[i] = (float) (x[i] + d[i]);
      }
      Adversarial.clip(next, spec);
      if (Arrays.equals(next, x)) {
        s.stop = Stop.STALLED;
        return;
      }
      s.phase = jump ? "jump" : "project";
      s.previousGradients = gradients;
      s.previousMargins = margins;
      s.previousX = x;
      s.x = next;
      s.iterations++;
    }

    /** Whether the planes at {@code s.x} are the ones the previous step aimed at. */
    private static boolean samePlanes(Search s, Map<Integer, float[]> gradients,
        Map<Integer, Double> margins) {
      if (s.previousGradients == null || !s.previousGradients.keySet().equals(gradients.keySet())) {
        return false;
      }
      for (Map.Entry<Integer, float[]> e : gradients.entrySet()) {
        float[] w = e.getValue();
        float[] v = s.previousGradients.get(e.getKey());
        double previousMargin = s.previousMargins.get(e.getKey());
        double diff2 = 0;
        double norm2 = 0;
        double predictedChange = 0;
        double step2 = 0;
        for (int i = 0; i < w.length; i++) {
          double d = (double) w[i] - v[i];
          diff2 += d * d;
          norm2 += (double) w[i] * w[i];
          double dx = (double) s.x[i] - s.previousX[i];
          predictedChange += v[i] * dx;
          step2 += dx * dx;
        }
        double predicted = previousMargin + predictedChange;
        double scale = Math.abs(previousMargin) + Math.sqrt(norm2 * step2);
        if (Math.sqrt(diff2) > SAME_PLANE_TOLERANCE * Math.sqrt(norm2)
            || Math.abs(margins.get(e.getKey()) - predicted) > SAME_PLANE_TOLERANCE * scale) {
          return false;
        }
      }
      return true;
    }

    private ExplainEvent frame(Search s, float[] logits) {
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("competitor", (double) s.competitor);
      values.put("iteration", (double) s.iterations);
      values.put("distance", Adversarial.l2(context.image(), s.x));
      values.put("margin", s.margin);
      values.put("competitor_probability", (double) Softmax.of(logits)[s.competitor]);
      boolean tensors = context.frames().tensors();
      return new ExplainEvent.Frame(step + 1, s.phase,
          context.score(logits, context.target()).probability(), context.top(logits), values,
          tensors ? new FloatTensor(spec.shape(), s.x.clone()) : null,
          tensors ? new FloatTensor(spec.shape(), Adversarial.difference(context.image(), s.x))
              : null,
          passes);
    }

    private ExplainEvent.Result result() {
      float[] image = context.image();
      float[] difference = new float[image.length];
      float[] importance = new float[spec.height() * spec.width()];
      for (Search s : searches) {
        Adversarial.accumulate(image, s.x, s.weight, spec.channels(), difference, importance);
      }
      Search reported = reported();
      Map<String, Double> values = new LinkedHashMap<>();
      values.put("flipped", Adversarial.indicator(reported.stop == Stop.FLIPPED));
      values.put("l2", Adversarial.l2(image, reported.x));
      values.put("iterations", (double) reported.iterations);
      values.put("competitor", (double) reported.competitor);
      values.put("margin", reported.margin);
      values.put("stalled", Adversarial.indicator(reported.stop == Stop.STALLED));
      values.put("iteration_bound", Adversarial.indicator(reported.stop == Stop.ITERATION_BOUND));
      values.put("competitors", (double) searches.size());
      List<SaliencyMap> maps = new ArrayList<>(
          Adversarial.maps(spec, reported.x, difference, importance));
      if (allCompetitors) {
        for (Search s : searches) {
          String q = Integer.toString(s.competitor);
          values.put("weight_" + q, s.weight);
          values.put("flipped_" + q, Adversarial.indicator(s.stop == Stop.FLIPPED));
          values.put("l2_" + q, Adversarial.l2(image, s.x));
          values.put("iterations_" + q, (double) s.iterations);
          maps.add(new SaliencyMap("adversarial_" + q, new FloatTensor(spec.shape(), s.x),
              ColourScale.SEQUENTIAL));
        }
      }
      return new ExplainEvent.Result(maps, values, List.of(), List.of(), step, passes, 0);
    }

    /**
     * The search the headline values describe: the requested competitor, or without one the
     * closest flipped competitor (the untargeted closest adversarial example), else the runner-up.
     */
    private Search reported() {
      if (!allCompetitors) {
        return searches.get(0);
      }
      return searches.stream().filter(s -> s.stop == Stop.FLIPPED)
          .min(Comparator.comparingDouble(s -> Adversarial.l2(context.image(), s.x)))
          .orElse(searches.get(0));
    }
  }
}
